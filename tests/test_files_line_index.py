"""The files connector's line index: an incremental pass over a changed CSV parses only the
lines that changed, and yields exactly what reading the whole file yields.

Every case reads the edited file twice with the cursor of the first pass: once with the line
index (whose pass must not read the file whole when ``fast`` says so) and once without it (the
whole file, as before the index existed); records, sources, rejects and the final ``since``
must be the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crmsync import Batch, StandingRejects
from crmsync_files import FilesConnector, line_index
from crmsync_files import connector as files_connector
from crmsync_files.line_index import LineIndex

HEADER = "remote_id,name,remote_updated_at\n"
OLD = [f"a{n},Account {n},2024-01-{n:02d}T00:00:00Z\n" for n in range(1, 21)]


def write(path: Path, lines: list[str], newline: str = "\n") -> None:
    path.write_bytes("".join([HEADER, *lines]).replace("\n", newline).encode("utf-8"))


def connector(folder: Path, standing: StandingRejects | None = None) -> FilesConnector:
    made = FilesConnector("f", FilesConnector.validate_settings({"path": str(folder),
                                                                  "batch_size": 3}))
    if standing is not None:
        made.retry_rejects("accounts", standing)
    return made


def outcome(batches: list[Batch]) -> dict[str, Any]:
    """What a pass gives the engine (the cursor without its line index)."""
    return {"records": [dict(r) for b in batches for r in b.records],
            "sources": [s for b in batches for s in (b.sources or ())],
            "rejects": [(r.reason, r.remote_id, r.source) for b in batches for r in b.rejects],
            "since": batches[-1].cursor["since"]}


@pytest.fixture
def whole_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables read whole (row by row from line 2) while the test runs."""
    calls: list[str] = []
    real = files_connector.ROW_READERS["csv"]

    def counting(path: Path, table: str, *args: Any) -> Iterator[Any]:
        calls.append(table)
        return real(path, table, *args)

    monkeypatch.setitem(files_connector.ROW_READERS, "csv", counting)
    return calls


Check = Callable[..., dict[str, Any]]


@pytest.fixture
def check(tmp_path: Path, whole_reads: list[str]) -> Check:
    """Sync ``OLD``, write ``lines`` and compare the indexed pass with the whole read;
    returns the indexed pass's outcome."""

    def run(lines: list[str], *, fast: bool = True, newline: str = "\n",
            standing: StandingRejects | None = None, old: list[str] = OLD) -> dict[str, Any]:
        path = tmp_path / "accounts.csv"
        write(path, old, newline)
        cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
        assert LineIndex.from_json(cursor["lines"]) is not None
        path.write_bytes("".join([HEADER, *lines]).replace("\n", newline).encode("utf-8"))
        whole_reads.clear()
        indexed = list(connector(tmp_path, standing).read("accounts", cursor))
        assert whole_reads == ([] if fast else ["accounts"])
        plain = {k: v for k, v in cursor.items() if k != "lines"}
        assert outcome(indexed) == outcome(
            list(connector(tmp_path, standing).read("accounts", plain)))
        return outcome(indexed)

    return run


def edited(n: int, day: int = 25) -> str:
    return f"a{n},Account {n} (edited),2024-02-{day:02d}T00:00:00Z\n"


def test_only_edited_and_appended_rows_are_read(check: Check) -> None:
    lines = [*OLD]
    lines[3], lines[11] = edited(4), edited(12)
    got = check([*lines, "a21,New,2024-03-01T00:00:00Z\n"])

    # a20 holds the cursor's timestamp: read again, as without the index
    assert [r["remote_id"] for r in got["records"]] == ["a4", "a12", "a20", "a21"]
    assert got["sources"] == ["accounts.csv line 5", "accounts.csv line 13",
                              "accounts.csv line 21", "accounts.csv line 22"]


def test_rows_inserted_above_keep_their_true_line_numbers(check: Check) -> None:
    got = check(["b1,First,2024-03-01T00:00:00Z\n", "\n", *OLD])

    assert got["sources"] == ["accounts.csv line 2", "accounts.csv line 23"]


def test_removed_lines_change_nothing_else(check: Check) -> None:
    got = check([*OLD[:5], *OLD[8:]])

    assert got["sources"] == ["accounts.csv line 18"]  # a20, the cursor's timestamp


def test_rows_at_the_cursor_are_read_again(check: Check) -> None:
    # a20 holds the greatest timestamp: not in the index, read again (as without it)
    got = check([edited(2), *OLD[1:]])

    assert [r["remote_id"] for r in got["records"]] == ["a2", "a20"]


def test_rows_without_a_timestamp_are_always_read(check: Check) -> None:
    old = [*OLD, "a30,No time,\n"]
    got = check([*old, "a31,New,2024-03-01T00:00:00Z\n"], old=old)

    assert [r["remote_id"] for r in got["records"]] == ["a20", "a30", "a31"]


def test_a_new_row_repeating_a_skipped_rows_id_is_rejected(check: Check) -> None:
    got = check([*OLD, "a3,Again,2024-03-01T00:00:00Z\n"])

    assert [r["remote_id"] for r in got["records"]] == ["a20"]
    ((reason, remote_id, source),) = got["rejects"]
    assert remote_id == "a3" and source == "accounts.csv line 22"
    assert "appears again" in reason


def test_a_new_row_before_a_skipped_row_of_its_id_is_kept(check: Check) -> None:
    got = check(["a7,Moved up,2024-03-01T00:00:00Z\n", *OLD])

    assert [r["remote_id"] for r in got["records"]][:1] == ["a7"]
    assert got["rejects"] == []


def test_rows_rejected_before_are_read_again_by_line_and_by_id(check: Check) -> None:
    standing = StandingRejects(remote_ids=frozenset({"a9"}),
                               sources=frozenset({"accounts.csv line 4"}))
    got = check([*OLD, "a21,New,2024-03-01T00:00:00Z\n"], standing=standing)

    assert [r["remote_id"] for r in got["records"]] == ["a3", "a9", "a20", "a21"]


def test_an_unchanged_file_with_standing_rejects_reads_only_them(check: Check) -> None:
    got = check(OLD, standing=StandingRejects(remote_ids=frozenset({"a5"})))

    assert [r["remote_id"] for r in got["records"]] == ["a5", "a20"]


def test_windows_line_endings(check: Check) -> None:
    lines = [*OLD]
    lines[0] = edited(1)
    got = check(lines, newline="\r\n")

    assert [r["remote_id"] for r in got["records"]] == ["a1", "a20"]


def test_a_quote_left_open_over_known_lines_reads_the_file_whole(check: Check) -> None:
    lines = [*OLD]
    lines[2] = 'a3,"Broken,2024-02-25T00:00:00Z\n'
    got = check(lines, fast=False)

    assert got["rejects"][0][0].startswith("unbalanced quote")


def test_a_multi_line_cell_in_changed_lines(check: Check) -> None:
    lines = [*OLD]
    lines[2:3] = ['a3,"Two\n', 'lines",2024-02-25T00:00:00Z\n']
    got = check(lines)

    assert got["records"][0] == {"remote_id": "a3", "name": "Two\nlines",
                                 "remote_updated_at": "2024-02-25T00:00:00Z"}


def test_a_changed_line_not_in_utf8_reads_the_file_whole(tmp_path: Path, check: Check) -> None:
    lines = [*OLD]
    lines[4] = "a5,Caf\udce9,2024-02-25T00:00:00Z\n"  # written as the byte 0xe9 below
    path = tmp_path / "accounts.csv"
    write(path, OLD)
    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
    path.write_bytes("".join([HEADER, *lines]).encode("utf-8", "surrogateescape"))

    got = outcome(list(connector(tmp_path).read("accounts", cursor)))

    assert got["rejects"][0][1:] == ("a5", "accounts.csv line 6")
    assert check is not None


def test_another_header_reads_the_file_whole(tmp_path: Path, whole_reads: list[str]) -> None:
    path = tmp_path / "accounts.csv"
    write(path, OLD)
    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
    path.write_text("remote_id,remote_updated_at,name\n"
                    "a1,2024-03-01T00:00:00Z,Acme\n", encoding="utf-8")
    whole_reads.clear()

    got = outcome(list(connector(tmp_path).read("accounts", cursor)))

    assert whole_reads == ["accounts"]
    assert [r["name"] for r in got["records"]] == ["Acme"]


def test_the_index_holds_the_lines_older_than_the_cursor(tmp_path: Path) -> None:
    write(tmp_path / "accounts.csv", [*OLD, "a30,No time,\n", 'a31,"Two\nlines",2024-01-05\n'])

    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
    index = LineIndex.from_json(cursor["lines"])

    assert index is not None
    assert len(index.digests) == 19  # a1..a19: not a20 (the cursor), a30 nor a31
    assert cursor["lines"]["rows"] == 19


def test_a_pass_interrupted_mid_file_resumes_without_the_index(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    write(path, OLD)
    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
    lines = [*OLD]
    for n in (2, 9, 15):
        lines[n - 1] = edited(n)
    write(path, lines)
    first = next(iter(connector(tmp_path).read("accounts", cursor)))
    assert first.cursor["resume"] is not None and "lines" not in first.cursor

    rest = list(connector(tmp_path).read("accounts", first.cursor))

    assert [r["remote_id"] for r in first.records] == ["a2", "a9", "a15"]
    assert [r["remote_id"] for b in rest for r in b.records] == ["a20"]
    assert rest[-1].cursor["lines"]["rows"] > 0


def test_json_lines_files_keep_no_index(tmp_path: Path) -> None:
    (tmp_path / "accounts.jsonl").write_text(
        '{"remote_id": "a1", "remote_updated_at": "2024-01-01T00:00:00Z"}\n', encoding="utf-8")

    assert "lines" not in list(connector(tmp_path).read("accounts", None))[-1].cursor


@pytest.mark.parametrize("value", [None, "x", {"key": "k"}, {"key": "k", "digests": "!!",
                                                              "ids": ""}])
def test_an_unreadable_index_is_no_index(value: Any) -> None:
    assert LineIndex.from_json(value) is None


def test_a_retried_line_repeating_an_identical_skipped_line_is_rejected(check: Check) -> None:
    old = [*OLD, OLD[2]]  # a3 twice: line 22 rejected as a duplicate
    standing = StandingRejects(sources=frozenset({"accounts.csv line 22"}))
    got = check([*old[:5], edited(6), *old[6:]], old=old, standing=standing)

    assert [r["remote_id"] for r in got["records"]] == ["a6", "a20"]
    ((reason, remote_id, source),) = got["rejects"]
    assert (remote_id, source) == ("a3", "accounts.csv line 22") and "appears again" in reason


def test_a_file_with_more_lines_than_an_index_holds_keeps_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_reads: list[str]) -> None:
    monkeypatch.setattr(line_index, "MAX_INDEX_ROWS", 10)
    monkeypatch.setattr(line_index, "estimated_lines", lambda path: 0)  # found while reading
    path = tmp_path / "accounts.csv"
    write(path, OLD)
    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
    assert "lines" not in cursor
    write(path, [edited(1), *OLD[1:]])
    whole_reads.clear()

    got = outcome(list(connector(tmp_path).read("accounts", cursor)))

    assert whole_reads == ["accounts"]
    assert [r["remote_id"] for r in got["records"]] == ["a1", "a20"]


def test_an_index_that_would_grow_over_the_limit_is_dropped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "accounts.csv"
    write(path, OLD)
    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor
    assert cursor["lines"]["rows"] == 19
    monkeypatch.setattr(line_index, "MAX_INDEX_ROWS", 18)
    monkeypatch.setattr(line_index, "estimated_lines", lambda path: 0)
    write(path, [*OLD, "a21,New,2024-03-01T00:00:00Z\n"])

    batches = list(connector(tmp_path).read("accounts", cursor))

    assert [r["remote_id"] for b in batches for r in b.records] == ["a20", "a21"]
    assert "lines" not in batches[-1].cursor


def test_a_file_far_larger_than_an_index_holds_builds_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(line_index, "MAX_INDEX_ROWS", 5)  # the file has 21 lines
    write(tmp_path / "accounts.csv", OLD)
    built: list[str] = []
    monkeypatch.setattr(line_index.IndexBuilder, "finish",
                        lambda self, since: built.append(self.key))

    cursor = list(connector(tmp_path).read("accounts", None))[-1].cursor

    assert "lines" not in cursor and built == []
    assert line_index.estimated_lines(tmp_path / "accounts.csv") == pytest.approx(21)
