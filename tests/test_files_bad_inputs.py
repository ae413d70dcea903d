"""A corpus of bad inputs for the files connector, synced through the real engine.

Each case is a small file with good rows around one kind of bad input. Per case the test
asserts the reject (its source line, record and field, and a reason that says what was
expected), or the value the documented rule stores, and that every good row is stored.
Whole-file problems (a header typo, a missing required column, another delimiter) fail
``check`` and the sync instead; see the second half.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_config
from crmsync.api import check, compute_metrics, sync
from crmsync.core.config import SyncConfig
from crmsync.core.schema import SYNCED_TABLES, sync_rejects
from crmsync.store import Store
from crmsync.sync.engine import describe_reject

ACT = "remote_id,type,subject,occurred_at,duration_seconds\n"
OPP = "remote_id,status,amount,expected_close_date,owner_id\n"
ACC = "remote_id,name,employee_count\n"


def activities(n: int, start: int = 1) -> list[str]:
    """``n`` good activity rows, ids ``x<start>``…"""
    return [f"x{i},call,Call {i},2024-01-{i % 28 + 1:02d}T10:00:00,60\n"
            for i in range(start, start + n)]


@dataclass(frozen=True)
class Case:
    """One bad input: a file, the rows it must store and the rejects it must make.

    :param rejects: ``(source line, remote_id, field, reason fragment)`` per reject.
    :param stored: ``{remote_id: {column: value}}`` for values a rule converts.
    :param flag: ``(data-quality metric, value)`` for bad values kept and flagged.
    """

    id: str
    table: str
    name: str
    content: bytes
    good: tuple[str, ...]
    rejects: tuple[tuple[int, str | None, str | None, str], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``(table, file name, content)`` of good files synced alongside (e.g. the users a
    #: dangling owner reference is judged against).
    also: tuple[tuple[str, str, bytes], ...] = ()
    flag: tuple[str, float] | None = None


def _merged() -> bytes:
    rows = activities(10)
    rows[2] = 'x3,call,"Pricing,2024-01-04T10:00:00,60\n'  # opens a quote by mistake ...
    rows[6] = 'x7,call,Renewal",2024-01-08T10:00:00,60\n'  # ... that a stray one closes
    return (ACT + "".join(rows)).encode()


def _unclosed() -> bytes:
    rows = activities(300)
    rows[9] = 'x10,call,"Never closed,2024-01-11T10:00:00,60\n'
    return (ACT + "".join(rows)).encode()


def _long_cell() -> bytes:
    rows = activities(3)
    rows[1] = f"x2,call,{'y' * 150_000},2024-01-03T10:00:00,60\n"
    return (ACT + "".join(rows)).encode()


CASES = [
    Case("unbalanced-quote-swallowing-rows", "activities", "activities.csv", _merged(),
         good=tuple(f"x{i}" for i in range(1, 11) if i != 3),
         rejects=((4, None, None, "unbalanced quote: the quoted cell opened on line 4 runs "
                                  "over lines 5–8, which hold complete rows"),)),
    Case("unbalanced-quote-never-closing", "activities", "activities.csv", _unclosed(),
         good=tuple(f"x{i}" for i in range(1, 301) if i != 10),
         rejects=((11, None, None, "the quoted cell opened on line 11 is still open after "
                                   "100 lines"),)),
    Case("unbalanced-quote-at-the-end", "activities", "activities.csv",
         (ACT + "".join(activities(3)) + 'x4,call,"Open,2024-01-05T10:00:00,60\n').encode(),
         good=("x1", "x2", "x3"),
         rejects=((5, None, None, "the quoted cell opened on line 5 never closes"),)),
    Case("quoted-cell-longer-than-max-row-lines", "users", "users.csv",
         b'remote_id,name,email\nu1,Ann,a@x\nu2,"one\ntwo\nthree\nfour",b@x\nu3,Cy,c@x\n',
         settings={"max_row_lines": 3}, good=("u1", "u3"),
         rejects=((3, None, None, "still open after 3 lines (max_row_lines)"),
                  (4, None, None, "line 4 follows the unbalanced quote of line 3 and is not "
                                  "a complete row (1 cells, the header has 3)"),
                  (5, None, None, "line 5 follows the unbalanced quote of line 3"),
                  (6, None, None, "line 6 follows the unbalanced quote of line 3"))),
    Case("cell-over-the-csv-size-limit", "activities", "activities.csv", _long_cell(),
         good=("x1", "x3"),
         rejects=((3, None, None, "a cell is longer than 131072 characters, the most a CSV "
                                  "cell may hold"),)),
    Case("text-over-max-text-length", "activities", "activities.jsonl",
         (json.dumps({"remote_id": "x1", "type": "call", "occurred_at": "2024-01-01",
                      "subject": "z" * 100_001}) + "\n"
          + json.dumps({"remote_id": "x2", "type": "call", "occurred_at": "2024-01-01"})
          + "\n").encode(),
         good=("x2",), rejects=((1, "x1", "subject", "longer than 100000 characters"),)),
    Case("negative-amount", "opportunities", "opportunities.csv",
         (OPP + "o1,open,100,,\no2,open,-5,,\no3,won,0,,\n").encode(), good=("o1", "o3"),
         rejects=((3, "o2", "amount", "-5.0 is below 0"),)),
    Case("negative-duration", "activities", "activities.csv",
         (ACT + "x1,call,a,2024-01-01,30\nx2,call,b,2024-01-01,-30\n").encode(), good=("x1",),
         rejects=((3, "x2", "duration_seconds", "-30 is below 0"),)),
    Case("negative-employee-count", "accounts", "accounts.csv",
         (ACC + "a1,A,-1\na2,B,10\n").encode(), good=("a2",),
         rejects=((2, "a1", "employee_count", "-1 is below 0"),)),
    Case("underscore-digit-groups", "accounts", "accounts.csv",
         (ACC + "a1,A,1_000\na2,B,1000\n").encode(), good=("a2",),
         rejects=((2, "a1", "employee_count",
                   "not an integer: '1_000' (expected a whole number like 1200 or 1,200)"),)),
    Case("duplicate-remote-id", "accounts", "accounts.csv",
         (ACC + "a1,First,1\na2,B,2\na1,Second,3\n").encode(), good=("a1", "a2"),
         rejects=((4, "a1", "remote_id", "remote_id 'a1' appears again"),),
         stored={"a1": {"name": "First"}}),
    Case("thousands-separators-and-currency", "opportunities", "opportunities.csv",
         (OPP + 'o1,open,"$120,000",,\no2,open,"13,000.50",,\no3,open,"120,00",,\n').encode(),
         good=("o1", "o2"),
         rejects=((4, "o3", "amount", "expected a number like 120000 or 120,000.50"),),
         stored={"o1": {"amount": 120000.0}, "o2": {"amount": 13000.5}}),
    Case("choice-in-another-case", "opportunities", "opportunities.csv",
         (OPP + "o1,Won,1,,\no2, OPEN ,1,,\no3,Closed Won,1,,\n").encode(), good=("o1", "o2"),
         rejects=((4, "o3", "status", "'Closed Won' is not one of lost, open, won"),),
         stored={"o1": {"status": "won"}, "o2": {"status": "open"}}),
    Case("us-date-without-date-format", "opportunities", "opportunities.csv",
         (OPP + "o1,open,1,2025-03-15,\no2,open,1,03/15/2025,\n").encode(), good=("o1",),
         rejects=((3, "o2", "expected_close_date",
                   "not an ISO 8601 date: '03/15/2025' (expected e.g. 2025-03-15)"),)),
    Case("us-date-with-date-format", "opportunities", "opportunities.csv",
         (OPP + "o1,open,1,03/15/2025,\no2,open,1,2025-03-16,\no3,open,1,13/45/2025,\n"
          ).encode(), settings={"date_format": {"opportunities": "%m/%d/%Y"}},
         good=("o1", "o2"),
         rejects=((4, "o3", "expected_close_date", "nor in the file's date_format "
                                                   "'%m/%d/%Y' (e.g. 03/15/2025)"),),
         stored={"o1": {"expected_close_date": dt.date(2025, 3, 15)}}),
    Case("cp1252-without-encoding", "accounts", "accounts.csv",
         (ACC + "a1,Café,1\na2,Plain,2\n").encode("cp1252"), good=("a2",),
         rejects=((2, "a1", None, 'byte 0xe9 is not UTF-8; if the file is in another '
                                  'encoding, set encoding for it (e.g. encoding = "cp1252"'),)),
    Case("cp1252-with-encoding", "accounts", "accounts.csv",
         (ACC + "a1,Café,1\na2,Plain,2\n").encode("cp1252"), settings={"encoding": "cp1252"},
         good=("a1", "a2"), stored={"a1": {"name": "Café"}}),
    Case("value-in-unknown-column", "accounts", "accounts.csv",
         b"remote_id,name,colour\na1,A,\na2,B,red\n", good=("a1",),
         rejects=((3, "a2", "colour", "unknown column 'colour' for table accounts"),)),
    Case("more-cells-than-header", "accounts", "accounts.csv",
         (ACC + "a1,A,1,extra\na2,B,2\n").encode(), good=("a2",),
         rejects=((2, "a1", None, "4 cells but the header has 3 columns"),)),
    Case("invalid-json-line", "accounts", "accounts.jsonl",
         b'{"remote_id": "a1"}\n{"remote_id": \n{"remote_id": "a3"}\n', good=("a1", "a3"),
         rejects=((2, None, None, "line 2 is not valid JSON"),)),
    Case("dangling-owner-reference", "opportunities", "opportunities.csv",
         (OPP + "o1,open,1,,u404\n").encode(), good=("o1",), stored={"o1": {"owner_id": "u404"}},
         flag=("dq_missing_owner", 1.0),
         also=(("users", "users.csv", b"remote_id,name\nu1,Ada Lovelace\n"),)),
]


def _stored(store: Store, table: str) -> dict[str, dict[str, Any]]:
    t = SYNCED_TABLES[table]
    with store.engine.connect() as conn:
        return {r["remote_id"]: dict(r) for r in conn.execute(sa.select(t)).mappings()}


def _rejects(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(sync_rejects).order_by(sync_rejects.c.source)).mappings()]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_rejected_or_converted_and_every_good_row_is_stored(
        case: Case, sqlite_store: Store, tmp_path: Path, registry: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / case.name).write_bytes(case.content)
    for _, name, content in case.also:
        (folder / name).write_bytes(content)
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder),
                                               **case.settings})
    cfg.sync = SyncConfig(max_reject_ratio=1.0)  # one bad row among a few: not the point here

    report = sync(cfg, registry, store=sqlite_store,
                  entities=[case.table, *(table for table, _, _ in case.also)])

    assert report.ok, report.error
    stored = _stored(sqlite_store, case.table)
    assert sorted(stored) == sorted(case.good)
    for remote_id, values in case.stored.items():
        assert {k: stored[remote_id][k] for k in values} == values
    rejects = _rejects(sqlite_store)
    assert [(r["source"], r["remote_id"], r["field"]) for r in rejects] == [
        (f"{case.name} line {line}", rid, fld) for line, rid, fld, _ in case.rejects]
    for r, (line, _rid, fld, fragment) in zip(rejects, case.rejects, strict=True):
        described = describe_reject(r)
        assert fragment in r["reason"]
        assert f"({case.name} line {line})" in described
        assert (f", field '{fld}'" in described) if fld else (", field '" not in described)
        assert len(json.dumps(r["payload"])) < 5_000  # a huge cell never makes a huge reject
    if case.flag is not None:
        metric, value = case.flag
        result = compute_metrics(cfg, registry, [metric], period="all", store=sqlite_store)
        assert [v.value for v in result.values if v.dimension is None] == [value]


# -- whole-file problems ----------------------------------------------------------------------

WHOLE_FILE = [
    ("header-typo", "opportunities.csv", "remote_id,status,amout\no1,open,5\n",
     "opportunities.csv: unknown column 'amout' for table opportunities — did you mean "
     "'amount'?"),
    ("missing-required-column", "opportunities.csv", "remote_id,amount\no1,5\n",
     "opportunities.csv: required column 'status' is missing from the header"),
    ("semicolon-delimited", "accounts.csv", "remote_id;name;employee_count\na1;A;1\n",
     "accounts.csv: the header looks ';'-delimited (3 known columns when split on ';'); "
     'set delimiter = ";" for this file'),
]


@pytest.mark.parametrize("name,content,message", [c[1:] for c in WHOLE_FILE],
                         ids=[c[0] for c in WHOLE_FILE])
def test_whole_file_problem_fails_check_and_the_sync_with_one_error(
        name: str, content: str, message: str, sqlite_store: Store, tmp_path: Path,
        registry: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_text(content, encoding="utf-8")
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})
    table = name.split(".")[0]

    (checked,) = check(cfg, registry)
    report = sync(cfg, registry, store=sqlite_store, entities=[table])

    assert not checked.ok and message in checked.message
    assert report.status == "failed" and message in (report.error or "")
    assert _rejects(sqlite_store) == []  # one error, not one reject per row


def test_semicolon_file_is_read_with_the_delimiter_setting(sqlite_store: Store, tmp_path: Path,
                                                          registry: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "accounts.csv").write_text("remote_id;name\na1;A\n", encoding="utf-8")
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder),
                                               "delimiter": ";"})

    assert sync(cfg, registry, store=sqlite_store, entities=["accounts"]).ok
    assert _stored(sqlite_store, "accounts")["a1"]["name"] == "A"


def test_check_names_a_file_that_is_not_utf8(sqlite_store: Store, tmp_path: Path,
                                             registry: Any) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "accounts.csv").write_bytes("remote_id,name\na1,A\na2,Café\n".encode("cp1252"))
    cfg = make_config(sqlite_store.url, sheet={"type": "files", "path": str(folder)})

    (checked,) = check(cfg, registry)

    assert not checked.ok
    assert "accounts.csv: line 3: byte 0xe9 is not UTF-8; if the file is in another encoding, " \
           'set encoding for it (e.g. encoding = "cp1252"' in checked.message
