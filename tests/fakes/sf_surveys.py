"""Feedback Management surveys and Enterprise Territory Management objects of the fake org.

``Dataset(surveys=N)`` (0: none of the survey objects exist, as in an org without Feedback
Management) makes three surveys — ``Relationship NPS`` (an ``NPS`` question), ``Support CSAT``
(a ``CSAT`` question answered on a 1–5 choice scale, so the answer is in ``ChoiceValue``) and
``Effort Check`` (a ``Rating`` question, 1–7) — each with a ``FreeText`` follow-up, and ``N``
responses: response ``i`` answers survey ``i % 3`` through invitation ``i``, whose
``ParticipantId`` is a contact, except every seventh, sent to a lead, whose account is named by
a ``SurveySubject`` of the invitation. Every tenth response is unfinished
(``CompletionDateTime`` empty). Each response has two ``SurveyQuestionResponse`` rows (the
score, then the free text). Fields as the object reference lists them (``NumberValue`` for NPS,
Rating, Score and Slider answers; ``ChoiceValue`` for choices).

``Dataset(territories=True)`` adds an ``Active`` Territory2Model with four territories and a
``Planning`` one with one, and ``ObjectTerritory2Association`` rows (no ``CreatedDate``, as in
Salesforce): account ``a`` is assigned by rule to territory ``a % 4`` of the active model unless
``a % 5 == 4``; every sixth account also has a manual assignment to the next territory; every
third account is also in the planning model's territory.
"""

from __future__ import annotations

from typing import Any

from .sf_data_sales import standard_fields
from .sf_schema import F, ObjectSpec

__all__ = ["SurveyObjects", "TerritoryObjects", "SURVEYS", "TERRITORIES"]

#: (Name, DeveloperName, scoring question type, scale)
SURVEYS = (("Relationship NPS", "Relationship_NPS", "NPS", (0, 10)),
           ("Support CSAT", "Support_CSAT", "CSAT", (1, 5)),
           ("Effort Check", "Effort_Check", "Rating", (1, 7)))
QUESTION_TYPES = ("Boolean", "CSAT", "Currency", "Date", "DateTime", "FreeText", "Image",
                  "Matrix", "MultipleChoice", "MultiSelectPicklist", "NPS", "Number",
                  "Picklist", "RadioButton", "StackRank", "Rating", "ShortText", "Slider",
                  "Toggle")
#: (Name, model index): model 0 is Active, model 1 Planning.
TERRITORIES = (("West", 0), ("East", 0), ("EMEA", 0), ("APAC", 0), ("Draft West", 1))
_MODELS = (("FY27 Sales", "Active"), ("FY28 Draft", "Planning"))


class SurveyObjects:
    """Survey object specs (a mixin of the dataset builder; expects ``ds``, ``born``, ``ref``,
    ``rnd``, ``dates``, ``start`` and ``n_acc``)."""

    ds: Any
    born: Any
    ref: Any
    rnd: Any
    dates: Any
    start: int
    n_acc: int

    def survey_specs(self) -> list[ObjectSpec]:
        if not self.ds.surveys:
            return []
        return [self._survey(), self._survey_version(), self._question(), self._invitation(),
                self._response(), self._question_response(), self._subject()]

    def _fixed(self, i: int) -> dict[str, Any]:
        stamp = self.start - 80 * 86400 + i * 60
        return self.dates(stamp, stamp)  # type: ignore[no-any-return]

    def _survey(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, dev, _, _ = SURVEYS[i]
            return {"Id": self.ref("Survey", i), "IsDeleted": False, "Name": name,
                    "DeveloperName": dev, "ActiveVersionId": self.ref("SurveyVersion", i),
                    **self._fixed(i)}
        fields = standard_fields(F("Name", "string"), F("DeveloperName", "string"),
                                 F("ActiveVersionId", "reference",
                                   reference_to=("SurveyVersion",)))
        return ObjectSpec("Survey", "0Kd", "Survey", "Surveys", fields, len(SURVEYS), make,
                          lambda i: self.start - 80 * 86400 + i * 60)

    def _survey_version(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            return {"Id": self.ref("SurveyVersion", i), "IsDeleted": False,
                    "Name": SURVEYS[i][0], "SurveyId": self.ref("Survey", i),
                    "VersionNumber": 1, "SurveyStatus": "Active", **self._fixed(i)}
        fields = standard_fields(F("Name", "string"),
                                 F("SurveyId", "reference", reference_to=("Survey",)),
                                 F("VersionNumber", "int"),
                                 F("SurveyStatus", "picklist",
                                   picklist=("Draft", "Active", "Inactive")))
        return ObjectSpec("SurveyVersion", "0Kc", "Survey Version", "Survey Versions", fields,
                          len(SURVEYS), make, lambda i: self.start - 80 * 86400 + i * 60)

    def _question(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, _, kind, _ = SURVEYS[i // 2]
            text = f"{name}: score" if i % 2 == 0 else f"{name}: why?"
            return {"Id": self.ref("SurveyQuestion", i), "IsDeleted": False,
                    "Name": text, "DeveloperName": f"q_{i}",
                    "QuestionType": kind if i % 2 == 0 else "FreeText",
                    "SurveyVersionId": self.ref("SurveyVersion", i // 2), **self._fixed(i)}
        fields = standard_fields(F("Name", "string"), F("DeveloperName", "string"),
                                 F("QuestionType", "picklist", picklist=QUESTION_TYPES),
                                 F("SurveyVersionId", "reference",
                                   reference_to=("SurveyVersion",)))
        return ObjectSpec("SurveyQuestion", "0Kb", "Survey Question", "Survey Questions",
                          fields, 2 * len(SURVEYS), make,
                          lambda i: self.start - 80 * 86400 + i * 60)

    def participant(self, i: int) -> str | None:
        """Invitation ``i``'s participant: a contact, a lead every seventh (None: no
        contacts)."""
        if i % 7 == 6:
            return self.ref("Lead", i % max(1, self.ds.leads)) if self.ds.leads else None
        return self.ref("Contact", i % self.ds.contacts) if self.ds.contacts else None

    def _invitation(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            _, created, stamp = self.born(60, i)
            return {"Id": self.ref("SurveyInvitation", i), "IsDeleted": False,
                    "Name": f"Invitation {i}", "SurveyId": self.ref("Survey", i % 3),
                    "ParticipantId": self.participant(i),
                    "ResponseStatus": "Completed" if i % 10 != 9 else "Started",
                    **self.dates(created, stamp)}
        fields = standard_fields(F("Name", "string"),
                                 F("SurveyId", "reference", reference_to=("Survey",)),
                                 F("ParticipantId", "reference",
                                   reference_to=("Contact", "Lead", "User"),
                                   relationship="Participant"),
                                 F("ResponseStatus", "picklist",
                                   picklist=("NotStarted", "Started", "Completed")))
        return ObjectSpec("SurveyInvitation", "0Ki", "Survey Invitation", "Survey Invitations",
                          fields, self.ds.surveys, make, lambda i: self.born(60, i)[2])

    def _response(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            _, created, stamp = self.born(60, i)
            done = i % 10 != 9
            from .sf_ids import fmt_datetime

            return {"Id": self.ref("SurveyResponse", i), "IsDeleted": False,
                    "Name": f"Response {i}", "InvitationId": self.ref("SurveyInvitation", i),
                    "SurveyId": self.ref("Survey", i % 3),
                    "SurveyVersionId": self.ref("SurveyVersion", i % 3),
                    "SubmitterId": self.participant(i),
                    "Status": "Completed" if done else "Started",
                    "CompletionDateTime": fmt_datetime(created + 300) if done else None,
                    **self.dates(created, stamp)}
        fields = standard_fields(
            F("Name", "string"),
            F("InvitationId", "reference", reference_to=("SurveyInvitation",)),
            F("SurveyId", "reference", reference_to=("Survey",)),
            F("SurveyVersionId", "reference", reference_to=("SurveyVersion",)),
            F("SubmitterId", "reference", reference_to=("Contact", "Lead", "User"),
              relationship="Submitter"),
            F("Status", "picklist", picklist=("Started", "Completed")),
            F("CompletionDateTime", "datetime"))
        return ObjectSpec("SurveyResponse", "0Kf", "Survey Response", "Survey Responses",
                          fields, self.ds.surveys, make, lambda i: self.born(60, i)[2])

    def score(self, i: int) -> int:
        """The score response ``i`` gives (within its survey's scale)."""
        lo, hi = SURVEYS[i % 3][3]
        return lo + self.rnd(61, i) % (hi - lo + 1)  # type: ignore[no-any-return]

    def _question_response(self) -> ObjectSpec:
        def make(j: int) -> dict[str, Any]:
            i, text = divmod(j, 2)
            _, created, stamp = self.born(60, i)
            kind = SURVEYS[i % 3][2]
            value = self.score(i)
            return {"Id": self.ref("SurveyQuestionResponse", j), "IsDeleted": False,
                    "QuestionId": self.ref("SurveyQuestion", 2 * (i % 3) + text),
                    "ResponseId": self.ref("SurveyResponse", i),
                    "InvitationId": self.ref("SurveyInvitation", i),
                    "SurveyVersionId": self.ref("SurveyVersion", i % 3),
                    "Datatype": "String" if text or kind == "CSAT" else "Int",
                    "NumberValue": None if text or kind == "CSAT" else value,
                    "ChoiceValue": str(value) if not text and kind == "CSAT" else None,
                    "ResponseShortText": "Quick and friendly" if text else None,
                    **self.dates(created, stamp)}
        fields = standard_fields(
            F("QuestionId", "reference", reference_to=("SurveyQuestion",), updateable=False),
            F("ResponseId", "reference", reference_to=("SurveyResponse",), updateable=False),
            F("InvitationId", "reference", reference_to=("SurveyInvitation",),
              updateable=False),
            F("SurveyVersionId", "reference", reference_to=("SurveyVersion",),
              updateable=False),
            F("Datatype", "picklist", picklist=("Boolean", "Date", "Double", "Int", "Number",
                                                "String"), updateable=False),
            F("NumberValue", "int", updateable=False),
            F("ChoiceValue", "textarea", updateable=False),
            F("ResponseShortText", "string", updateable=False))
        return ObjectSpec("SurveyQuestionResponse", "0Kh", "Survey Question Response",
                          "Survey Question Responses", fields, 2 * self.ds.surveys, make,
                          lambda j: self.born(60, j // 2)[2])

    def _subject_invitations(self) -> list[int]:
        return [i for i in range(self.ds.surveys) if i % 7 == 6]

    def _subject(self) -> ObjectSpec:
        invitations = self._subject_invitations()

        def make(k: int) -> dict[str, Any]:
            i = invitations[k]
            _, created, stamp = self.born(60, i)
            return {"Id": self.ref("SurveySubject", k), "IsDeleted": False,
                    "Name": f"Subject {k}", "ParentId": self.ref("SurveyInvitation", i),
                    "SubjectId": self.ref("Account", i % self.n_acc),
                    "SubjectEntityType": "Account", "SurveyId": self.ref("Survey", i % 3),
                    "SurveyInvitationId": self.ref("SurveyInvitation", i),
                    **self.dates(created, stamp)}

        def children(parent: str) -> list[int]:
            from .sf_ids import parse_id

            parsed = parse_id(parent)
            if not parsed or parsed[0] != "0Ki" or parsed[1] % 7 != 6:
                return []
            return [parsed[1] // 7]
        fields = standard_fields(
            F("Name", "string"),
            F("ParentId", "reference", reference_to=("SurveyInvitation", "SurveyResponse"),
              relationship="Parent"),
            F("SubjectId", "reference", reference_to=("Account", "Contact", "Lead", "Case"),
              relationship="Subject"),
            F("SubjectEntityType", "picklist", picklist=("Account", "Case", "Contact", "Lead")),
            F("SurveyId", "reference", reference_to=("Survey",)),
            F("SurveyInvitationId", "reference", reference_to=("SurveyInvitation",)))
        return ObjectSpec("SurveySubject", "0XS", "Survey Subject", "Survey Subjects", fields,
                          len(invitations), make,
                          lambda k: self.born(60, invitations[k])[2], {"ParentId": children})


class TerritoryObjects:
    """Territory2Model, Territory2 and ObjectTerritory2Association specs (a mixin of the
    dataset builder; expects ``ds``, ``ref``, ``dates``, ``start`` and ``n_acc``)."""

    ds: Any
    ref: Any
    dates: Any
    start: int
    n_acc: int

    def territory_specs(self) -> list[ObjectSpec]:
        if not self.ds.territories:
            return []
        return [self._model(), self._territory(), self._association()]

    def _tstamp(self, i: int) -> int:
        return self.start - 70 * 86400 + i * 60

    def _model(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, state = _MODELS[i]
            return {"Id": self.ref("Territory2Model", i), "IsDeleted": False, "Name": name,
                    "DeveloperName": name.replace(" ", "_"), "State": state,
                    **self.dates(self._tstamp(i), self._tstamp(i))}
        fields = standard_fields(F("Name", "string"), F("DeveloperName", "string"),
                                 F("State", "picklist", picklist=(
                                     "Planning", "Active", "Archived", "Cloning",
                                     "Activating", "Deactivating", "Deleting")))
        return ObjectSpec("Territory2Model", "0MA", "Territory Model", "Territory Models",
                          fields, len(_MODELS), make, self._tstamp)

    def _territory(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, model = TERRITORIES[i]
            return {"Id": self.ref("Territory2", i), "Name": name,
                    "DeveloperName": name.replace(" ", "_"),
                    "Territory2ModelId": self.ref("Territory2Model", model),
                    **self.dates(self._tstamp(i), self._tstamp(i))}
        fields = standard_fields(F("Name", "string"), F("DeveloperName", "string"),
                                 F("Territory2ModelId", "reference",
                                   reference_to=("Territory2Model",)), deleted=False)
        return ObjectSpec("Territory2", "0MI", "Territory", "Territories", fields,
                          len(TERRITORIES), make, self._tstamp)

    def assignments(self, a: int) -> list[tuple[int, str]]:
        """Account ``a``'s ``(territory index, AssociationCause)``."""
        out = []
        if a % 5 != 4:
            out.append((a % 4, "Territory2AssignmentRule"))
        if a % 6 == 0:
            out.append(((a + 1) % 4, "Territory2Manual"))
        if a % 3 == 0:
            out.append((4, "Territory2Manual"))
        return out

    def _association(self) -> ObjectSpec:
        rows = [(a, t, cause) for a in range(self.n_acc) for t, cause in self.assignments(a)]

        def make(k: int) -> dict[str, Any]:
            a, t, cause = rows[k]
            stamp = self._tstamp(10 + k)
            rec = {"Id": self.ref("ObjectTerritory2Association", k), "IsDeleted": False,
                   "ObjectId": self.ref("Account", a), "Territory2Id": self.ref("Territory2", t),
                   "SobjectType": "Account", "AssociationCause": cause,
                   **self.dates(stamp, stamp)}
            for key in ("CreatedDate", "CreatedById"):
                rec.pop(key)
            return rec
        fields = standard_fields(
            F("ObjectId", "reference", reference_to=("Account", "Lead"), relationship="Object"),
            F("Territory2Id", "reference", reference_to=("Territory2",)),
            F("SobjectType", "picklist", picklist=("Account", "Lead")),
            F("AssociationCause", "picklist",
              picklist=("Territory2AssignmentRule", "Territory2Manual")), created=False)
        return ObjectSpec("ObjectTerritory2Association", "0R0", "Object Territory Association",
                          "Object Territory Associations", fields, len(rows), make,
                          lambda k: self._tstamp(10 + k))
