"""Salesforce survey responses (crmsync_salesforce.surveys) against the fake org with
``Dataset(surveys=N)``: which answers are feedback and of which type, scores, contacts and
accounts, unfinished responses, incremental reads and deletes, the ``survey_types`` setting,
the API calls spent, and an org without Feedback Management skipped with a note."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync import FLAGS_KEY, ConfigError
from crmsync.plugin.connector import Batch
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.mapping import MappingContext, Unmappable
from crmsync_salesforce.surveys import TYPE_KEY, feedback, feedback_type, prepare
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset, make_id

DATASET = dict(opportunities=20, activities=5, contacts=10, leads=10, surveys=60)
EFFORT = {"Effort Check": "ces"}


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(**DATASET)) as fake:
        yield fake


def connector_on(fake: FakeSalesforceOrg, **settings: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake.instance_url, "session_id": fake.session_id,
         "ca_bundle": fake.ca_bundle, **settings}))


def records(batches: list[Batch]) -> dict[str, dict[str, Any]]:
    return {r["remote_id"]: r for b in batches for r in b.records}


def answer(question: str, survey: str = "Pulse", **fields: Any) -> dict[str, Any]:
    return {"Id": "0Kh1", "CreatedDate": "2026-03-01T10:00:00.000+0000",
            "Question": {"QuestionType": question},
            "SurveyVersion": {"Survey": {"Name": survey, "DeveloperName": survey}}, **fields}


@pytest.mark.parametrize(("question", "survey", "expected"), [
    ("NPS", "Pulse", "nps"), ("CSAT", "Pulse", "csat"), ("Rating", "Effort Check", "ces"),
    ("Slider", "Effort Check", "ces"), ("Rating", "Pulse", None),
    ("FreeText", "Effort Check", None), ("MultipleChoice", "Pulse", None)])
def test_the_question_type_or_the_surveys_setting_types_an_answer(
        question: str, survey: str, expected: str | None) -> None:
    assert feedback_type(answer(question, survey), EFFORT) == expected


def test_a_csat_answer_on_a_choice_scale_scores_its_choice() -> None:
    got = feedback({**answer("CSAT", ChoiceValue="4", NumberValue=None), TYPE_KEY: "csat",
                    "Invitation": {"ParticipantId": make_id("003", 7)},
                    "Response": {"CompletionDateTime": "2026-03-01T10:05:00.000+0000"}},
                   MappingContext())

    assert (got["type"], got["score"], got["contact_id"], got["responded_at"]) == (
        "csat", 4.0, make_id("003", 7), "2026-03-01T10:05:00.000+0000")
    assert "custom" not in got


class _Subjects:
    """A client answering the SurveySubject query with ``rows``."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows, self.asked = rows, []

    def query_pages(self, text: str, **_: Any) -> Iterator[list[dict[str, Any]]]:
        self.asked.append(text)
        yield self.rows


def test_survey_subjects_of_the_invitation_or_response_name_the_person() -> None:
    lead = {"Invitation": {"ParticipantId": make_id("00Q", 1)}}
    rows = [{**answer("NPS", NumberValue=8), **lead, "Id": f"0Kh{i}",
             "InvitationId": f"0Ki{i}", "ResponseId": f"0Kf{i}"} for i in range(3)]
    client = _Subjects([
        {"ParentId": "0Ki0", "SubjectId": make_id("003", 5), "SubjectEntityType": "Contact"},
        {"ParentId": "0Kf0", "SubjectId": make_id("003", 6), "SubjectEntityType": "Contact"},
        {"ParentId": "0Kf1", "SubjectId": make_id("001", 2), "SubjectEntityType": "Account"}])

    prepare(client, rows, {}, lambda obj: object())  # type: ignore[arg-type]

    got = [feedback(r, MappingContext()) for r in rows]
    assert [(g["contact_id"], g["account_id"]) for g in got] == [
        (make_id("003", 5), None), (None, make_id("001", 2)), (None, None)]
    assert len(client.asked) == 1 and "SubjectEntityType IN ('Account', 'Contact')" in \
        client.asked[0]


def test_an_answer_without_a_number_is_rejected_naming_the_field() -> None:
    with pytest.raises(Unmappable) as exc:
        feedback({**answer("CSAT", ChoiceValue="Very satisfied"), TYPE_KEY: "csat"},
                 MappingContext())

    assert exc.value.field == "NumberValue"


def test_an_unfinished_response_is_dated_by_its_creation_and_flagged() -> None:
    got = feedback({**answer("NPS", NumberValue=9), TYPE_KEY: "nps",
                    "Invitation": {"ParticipantId": make_id("00Q", 1)}, "Response": None},
                   MappingContext())

    assert got["responded_at"] == "2026-03-01T10:00:00.000+0000"
    assert got["custom"][FLAGS_KEY] == {"responded_at": "remote_created_at"}
    assert got["contact_id"] is None  # a lead is no contact


def test_a_full_read_yields_each_scored_answer_with_its_type_and_person(
        org: FakeSalesforceOrg) -> None:
    got = records(list(connector_on(org, survey_types=EFFORT).read("feedback", None)))

    assert len(got) == 60  # one scored answer per response; the free texts are left out
    by_type = {t: [r for r in got.values() if r["type"] == t] for t in ("nps", "csat", "ces")}
    assert {t: len(v) for t, v in by_type.items()} == {"nps": 20, "csat": 20, "ces": 20}
    assert all(0 <= r["score"] <= 10 for r in by_type["nps"])
    assert all(1 <= r["score"] <= 5 for r in by_type["csat"])
    assert all(1 <= r["score"] <= 7 for r in by_type["ces"])
    sent_to_leads = [r for r in got.values() if r["contact_id"] is None]
    assert len(sent_to_leads) == len([i for i in range(60) if i % 7 == 6])
    assert all(r["account_id"] and r["account_id"].startswith("001") for r in sent_to_leads)
    flagged = [r for r in got.values() if FLAGS_KEY in (r.get("custom") or {})]
    assert len(flagged) == 6  # every tenth response is unfinished


def test_the_bulk_api_path_reads_the_same_feedback(org: FakeSalesforceOrg) -> None:
    rest = records(list(connector_on(org, survey_types=EFFORT).read("feedback", None)))

    bulk = records(list(connector_on(org, survey_types=EFFORT, bulk_threshold=10)
                        .read("feedback", None)))

    assert any("/jobs/query" in r.path for r in org.requests)
    assert bulk == rest


def test_without_the_setting_rating_answers_are_not_feedback(org: FakeSalesforceOrg) -> None:
    got = records(list(connector_on(org).read("feedback", None)))

    assert {r["type"] for r in got.values()} == {"nps", "csat"}
    assert len(got) == 40


def test_an_incremental_read_returns_changed_and_deleted_answers(
        org: FakeSalesforceOrg) -> None:
    connector = connector_on(org, survey_types=EFFORT)
    first = list(connector.read("feedback", None))
    nps = sorted(i for i, r in records(first).items() if r["type"] == "nps")
    org.org.update("SurveyQuestionResponse", nps[0], NumberValue=10)
    org.org.delete("SurveyQuestionResponse", nps[1])
    org.org.delete("SurveyQuestionResponse", nps[2], hard=True)

    again = list(connector_on(org, survey_types=EFFORT).read("feedback", first[-1].cursor))

    changed = records(again)
    assert changed[nps[0]]["score"] == 10.0
    assert changed[nps[1]]["is_deleted"] is True
    assert nps[2] in {d.remote_id for b in again for d in b.deleted}
    again_unchanged = set(changed) - {nps[0], nps[1], nps[2]}  # the lookback's re-reads
    assert len(again_unchanged) <= 2
    assert all(changed[i] == records(first)[i] for i in again_unchanged)


def test_reading_1000_answers_costs_a_bounded_number_of_calls() -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "surveys": 1000})) as fake:
        connector = connector_on(fake, survey_types=EFFORT)
        got = records(list(connector.read("feedback", None)))
        paths = [r.path for r in fake.requests]

    assert len(got) == 1000
    subjects = [p for p in paths if "query" in p]
    # describe (one composite), record counts, 2,000 answers (one REST page), the survey
    # subjects of the 142 answers sent to leads (150 a query)
    assert len(paths) <= 5, paths
    assert len(subjects) == 2


def test_a_survey_type_that_is_no_feedback_type_is_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        SalesforceConnector.validate_settings({"instance_url": "https://x.my.salesforce.com",
                                               "session_id": "s",
                                               "survey_types": {"Pulse": "happiness"}})

    assert exc.value.key == "survey_types"
    assert "'happiness' is not one of nps, csat, ces" in str(exc.value)


def test_an_org_without_feedback_management_is_skipped_with_one_note(caplog) -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "surveys": 0})) as fake, \
            caplog.at_level(logging.INFO):
        batches = list(connector_on(fake).read("feedback", None))

    assert not any(b.records or b.rejects for b in batches)
    notes = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert notes == ["sf: this org has no SurveyQuestionResponse; skipping"]


def _subject_queries(fake: FakeSalesforceOrg) -> list[str]:
    return [r.query.get("q", "") for r in fake.requests
            if "FROM SurveySubject" in r.query.get("q", "")]


def test_a_full_read_reads_the_survey_subjects_whole_when_that_takes_fewer_calls() -> None:
    # 6,000 answers (three REST pages), each page with answers sent to leads; 429 survey
    # subjects: one page read whole instead of one lookup (or more) per page of answers
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "surveys": 3000})) as fake:
        whole = records(list(connector_on(fake, survey_types=EFFORT).read("feedback", None)))
        calls = [r.path for r in fake.requests]
        queries = _subject_queries(fake)
        fake.reset_calls()
        fake.org.record_count_access = False  # the counts unknown: looked up page by page
        looked_up = records(list(connector_on(fake, survey_types=EFFORT).read("feedback",
                                                                               None)))
        lookups = _subject_queries(fake)

    assert len(queries) == 1 and "ParentId IN" not in queries[0]
    # describe (one composite), record counts, three pages of answers, the subjects
    assert len(calls) == 6, calls
    assert len(lookups) >= 3 and all("ParentId IN" in q for q in lookups)
    assert whole == looked_up  # the same rows stored either way
    assert sum(1 for r in whole.values() if r["account_id"]) > 100


def test_an_incremental_read_of_a_few_answers_still_looks_their_subjects_up() -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(**{**DATASET, "surveys": 3000})) as fake:
        first = list(connector_on(fake, survey_types=EFFORT).read("feedback", None))
        for j in range(0, 6000, 500):  # a few answers of invitations with subjects too
            fake.org.update("SurveyQuestionResponse", make_id("0Kh", j))
        fake.reset_calls()
        again = records(list(connector_on(fake, survey_types=EFFORT).read(
            "feedback", first[-1].cursor)))

        queries = _subject_queries(fake)
        paths = [r.path for r in fake.requests]

    assert again and len(queries) == 1 and "ParentId IN" in queries[0]
    assert not any(p.endswith("/limits/recordCount") for p in paths)  # not asked for this


@pytest.mark.parametrize(("count", "expected", "anonymous", "whole"), [
    (None, 10_000, 150, False),   # the subjects' count unknown: look up
    (2000, None, 150, False),     # incremental: one lookup against one page, a tie
    (2000, None, 151, True),      # incremental: two lookups against one page
    (4001, 4000, 150, False),     # three pages against two lookups (this page and the next)
    (4000, 6000, 150, True),      # two pages against three lookups
])
def test_the_subjects_are_read_whole_only_when_that_takes_fewer_calls(
        count: int | None, expected: int | None, anonymous: int, whole: bool) -> None:
    from crmsync_salesforce.survey_subjects import Subjects

    subjects = Subjects(lambda: count)
    subjects.expect(expected)
    rows = [{"Id": f"0Kh{i}", "InvitationId": f"0Ki{i}"} for i in range(anonymous)]
    client = _Subjects([{"ParentId": "0Ki1", "SubjectId": make_id("001", 2),
                        "SubjectEntityType": "Account"}])

    subjects.attach(client, rows, page_rows=2000, key=("c", "a"))  # type: ignore[arg-type]

    read_whole = [True] if whole else [False] * -(-anonymous // 150)
    assert [("ParentId IN" not in q) for q in client.asked] == read_whole
    assert rows[1]["a"] == make_id("001", 2) and rows[0]["a"] is None
