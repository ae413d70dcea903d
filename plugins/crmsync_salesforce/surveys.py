"""Survey responses (Salesforce Feedback Management) → ``feedback`` (docs/connectors/
salesforce.md, "Survey responses").

One ``feedback`` row per scored answer: a ``SurveyQuestionResponse`` read like every other
object (incremental on ``SystemModstamp``, ``queryAll`` for soft deletes, getDeleted for purged
rows, REST or Bulk by size), with its question's type, its invitation's participant, its
response's completion time and its survey's names as relationship fields of the same query — no
extra request per row. An org without Feedback Management (the object is missing, or this user
cannot read it) is skipped with one log line, as every object the org lacks is.

* **Type.** An ``NPS`` question is ``nps``, a ``CSAT`` question ``csat``. Other numeric
  questions (``Rating``, ``Slider``, ``Score``, ``Number``) take their survey's type from the
  ``survey_types`` setting (survey ``Name`` or ``DeveloperName`` → ``nps``/``csat``/``ces``;
  Salesforce has no effort question type, so CES always comes from there). Every other answer
  (free text, choices, dates…) is not feedback and is left out of the batch.
* **Score.** ``NumberValue`` (NPS, Rating, Score and Slider answers); a CSAT question answered
  on a choice scale keeps the chosen value in ``ChoiceValue``, used when it is a number. An
  answer with neither is rejected naming ``NumberValue``.
* **Contact and account.** The invitation's ``ParticipantId`` when it is a contact. Otherwise
  (a lead, a user, an anonymous link) the ``SurveySubject`` rows of the invitation or response
  name the contact or account the survey is about: one query per 150 such answers, or the
  object read whole when that takes fewer calls (:mod:`crmsync_salesforce.survey_subjects`),
  only where the org has ``SurveySubject``. ``crmsync_kpis`` falls back from the contact to
  its account and owner.
* **Time.** The response's ``CompletionDateTime``; an unfinished response has none, and its
  answer's ``CreatedDate`` is used, flagged in ``custom`` (docs/schema.md, "Flags").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import FLAGS_KEY, ConfigError
from crmsync_salesforce.describe import ObjectDescription, object_for_id
from crmsync_salesforce.mapping import MappingContext, Unmappable, base_record, related
from crmsync_salesforce.survey_subjects import SUBJECTS, Subjects

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["OBJECT", "SUBJECTS", "MAPPERS", "STANDARD_FIELDS", "feedback", "feedback_type",
           "prepare", "check_survey_types", "TYPES"]

OBJECT = "SurveyQuestionResponse"
#: The schema's feedback types.
TYPES = ("nps", "csat", "ces")
#: Question types that say which KPI they feed.
_TYPED = {"NPS": "nps", "CSAT": "csat"}
#: Numeric question types typed by the ``survey_types`` setting.
_NUMERIC = ("Rating", "Slider", "Score", "Number", "NPS", "CSAT")
#: Where :func:`prepare` puts an answer's type, and the contact and account its survey
#: subjects name, in its raw row.
TYPE_KEY, CONTACT_KEY, ACCOUNT_KEY = "_crmsync_type", "_crmsync_contact", "_crmsync_account"

STANDARD_FIELDS: Mapping[str, tuple[str, ...]] = {
    OBJECT: ("QuestionId", "ResponseId", "InvitationId", "NumberValue", "ChoiceValue",
             "Question.QuestionType", "Invitation.ParticipantId",
             "Response.CompletionDateTime", "SurveyVersion.Survey.Name",
             "SurveyVersion.Survey.DeveloperName"),
}


def check_survey_types(value: Mapping[str, Any]) -> dict[str, str]:
    """``survey_types`` as ``{survey name: type}``.

    :raises ConfigError: naming the survey whose type is not nps, csat or ces.
    """
    out: dict[str, str] = {}
    for name, kind in value.items():
        text = str(kind).strip().lower()
        if text not in TYPES:
            raise ConfigError(f"survey_types {name!r}: {kind!r} is not one of "
                              f"{', '.join(TYPES)}", key="survey_types")
        out[str(name)] = text
    return out


def feedback_type(raw: Mapping[str, Any], survey_types: Mapping[str, str]) -> str | None:
    """The feedback type of an answer, ``None`` when it is not feedback."""
    question = related(raw, "Question.QuestionType")
    if question in _TYPED:
        return _TYPED[str(question)]
    if question in _NUMERIC:
        for path in ("SurveyVersion.Survey.DeveloperName", "SurveyVersion.Survey.Name"):
            name = related(raw, path)
            if name is not None and str(name) in survey_types:
                return survey_types[str(name)]
    return None


def _contact(raw: Mapping[str, Any]) -> str | None:
    participant = related(raw, "Invitation.ParticipantId")
    return str(participant) if object_for_id(participant) == "Contact" else None


def prepare(client: SalesforceClient, rows: list[dict[str, Any]],
            survey_types: Mapping[str, str],
            describe: Callable[[str], ObjectDescription | None],
            subjects: Subjects | None = None) -> None:
    """Keep the answers that are feedback (in place), each with its type under
    :data:`TYPE_KEY`; name the contact and account of those sent to no contact from their
    survey subjects (:mod:`crmsync_salesforce.survey_subjects`: one query per 150 answers, or
    the object read whole when that takes fewer calls)."""
    page_rows = len(rows)
    kept = []
    for row in rows:
        kind = feedback_type(row, survey_types)
        if kind is not None:
            row[TYPE_KEY] = kind
            kept.append(row)
    rows[:] = kept
    if describe(SUBJECTS) is None:
        return
    anonymous = [r for r in kept if not r.get("IsDeleted") and _contact(r) is None]
    (subjects or Subjects()).attach(client, anonymous, page_rows=page_rows,
                                    key=(CONTACT_KEY, ACCOUNT_KEY))


def _score(raw: Mapping[str, Any]) -> float:
    for name in ("NumberValue", "ChoiceValue"):
        value = raw.get(name)
        if value in (None, ""):
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            if name == "NumberValue":
                raise Unmappable(name, f"expected a number, got {value!r}") from None
    raise Unmappable("NumberValue", "the answer has no number (neither NumberValue nor a "
                                    "numeric ChoiceValue)")


def feedback(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """SurveyQuestionResponse (typed by :func:`prepare`) → feedback."""
    record = base_record(raw, ctx)
    completed = related(raw, "Response.CompletionDateTime")
    columns = {"type": raw.get(TYPE_KEY), "score": _score(raw),
               "contact_id": _contact(raw) or raw.get(CONTACT_KEY),
               "account_id": raw.get(ACCOUNT_KEY),
               "responded_at": completed or raw.get("CreatedDate")}
    for key, value in columns.items():
        record.setdefault(key, value)  # a field_map target wins over the default mapping
    if not completed and "responded_at" not in ctx.field_map.values():
        custom = dict(record.get("custom") or {})
        custom[FLAGS_KEY] = {**(custom.get(FLAGS_KEY) or {}), "responded_at": "remote_created_at"}
        record["custom"] = custom
    return record


MAPPERS: Mapping[str, Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]] = {
    OBJECT: feedback,
}
