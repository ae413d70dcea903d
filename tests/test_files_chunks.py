"""The files connector's block reader (crmsync_files.chunks): a CSV file read a block of
lines at a time yields exactly the batches of the row-by-row reader.

Every case writes a file and reads it twice, with the block reader (blocks of a few lines, so
that rows of every kind fall at a block's start, middle and end) and with the row-by-row
reader; the batches' records, sources, rejects and cursors (line index included) must be
equal.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from crmsync import Batch, ConnectorError, RowRecords, StandingRejects
from crmsync_files import FilesConnector, chunks
from crmsync_files import connector as files_connector
from crmsync_files.row_readers import read_csv_rows
from crmsync_files.seen import SeenIds

HEADER = "remote_id,name,industry,remote_updated_at\n"


def good(n: int, day: int | None = None) -> str:
    return f"a{n},Account {n},Tech,2024-01-{(day or n % 28 + 1):02d}T00:00:00Z\n"


#: Lines of every sort the reader must treat as the row-by-row reader does.
ODD = [
    '"a{n}","Quoted, with a comma",Tech,2024-02-01T00:00:00Z\n',
    'a{n},"Two\nlines",Tech,2024-02-02T00:00:00Z\n',  # a quoted line break
    "\n",  # a blank line
    ",,,\n",  # a row of empty cells
    "a{n},Too,many,cells,here\n",
    "a{n},Too few\n",
    'a{n},"unbalanced,Tech,2024-02-03T00:00:00Z\n',
    "a1,Duplicate id,Tech,2024-02-04T00:00:00Z\n",
    "a{n},No timestamp,Tech,\n",
    "a{n},Bad timestamp,Tech,yesterday\n",
    "a{n},Offset,Tech,2024-02-05T01:00:00+01:00\n",
    ",No id,Tech,2024-02-06T00:00:00Z\n",
    " ,Blank id,Tech,2024-02-07T00:00:00Z\n",
    "a{n},Ünïcödé,Tech,2024-02-08T00:00:00Z\n",
]


def connector(folder: Path, standing: StandingRejects | None = None) -> FilesConnector:
    made = FilesConnector("f", FilesConnector.validate_settings({"path": str(folder),
                                                                  "batch_size": 4}))
    if standing is not None:
        made.retry_rejects("accounts", standing)
    return made


def seen(batches: list[Batch]) -> list[Any]:
    """What the engine gets from each batch."""
    return [([dict(r) for r in b.records], list(b.sources or ()),
             [(r.reason, r.remote_id, r.field, r.source, r.payload) for r in b.rejects],
             b.cursor) for b in batches]


@pytest.fixture
def both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Read ``lines`` with blocks of about ``block`` bytes and row by row; return both."""
    def run(lines: list[str], *, block: int = 100, cursor: Any = None,
            standing: StandingRejects | None = None, bom: bool = False
            ) -> tuple[list[Batch], list[Batch]]:
        text = (HEADER + "".join(lines)).encode("utf-8")
        (tmp_path / "accounts.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text)
        monkeypatch.setattr(chunks, "CHUNK_BYTES", block)
        fast = list(connector(tmp_path, standing).read("accounts", cursor))
        monkeypatch.setitem(files_connector.ROW_READERS, "csv", read_csv_rows)
        slow = list(connector(tmp_path, standing).read("accounts", cursor))
        monkeypatch.undo()
        assert seen(fast) == seen(slow)
        return fast, slow
    return run


def test_plain_rows_come_as_row_records(both: Any) -> None:
    fast, _ = both([good(n) for n in range(1, 12)])
    assert [type(b.records) for b in fast[:-1]] == [RowRecords, RowRecords]
    assert [len(b.records) for b in fast] == [4, 4, 3]
    assert fast[0].records[0] == {"remote_id": "a1", "name": "Account 1", "industry": "Tech",
                                  "remote_updated_at": "2024-01-02T00:00:00Z"}
    assert fast[1].cursor["resume"]["line"] == 9  # after a8, on line 9


@pytest.mark.parametrize("odd", range(len(ODD)))
@pytest.mark.parametrize("where", [0, 1, 3, 7, 12])
def test_an_odd_line_anywhere_reads_as_row_by_row(both: Any, odd: int, where: int) -> None:
    lines = [good(n) for n in range(1, 14)]
    lines.insert(where, ODD[odd].format(n=100 + where))
    both(lines)


@pytest.mark.parametrize("seed", range(12))
def test_random_files_read_as_row_by_row(both: Any, seed: int) -> None:
    r = random.Random(seed)
    lines = [r.choice(ODD).format(n=200 + n) if r.random() < 0.15 else good(n, r.randint(1, 28))
             for n in range(1, 60)]
    both(lines, block=r.choice([1, 40, 200, 1 << 16]), bom=r.random() < 0.3)


def test_a_batch_of_plain_and_odd_rows_has_the_records_of_both(both: Any) -> None:
    """A plain block then an odd one within one batch: the batch is plain dicts, empty cells
    as missing values, as the row-by-row reader gives them."""
    lines = [f"a{n},Account {n},,2024-01-0{n}T00:00:00Z\n" for n in range(1, 3)]
    fast, _ = both([*lines, "\n", "a9,Nine,,2024-01-09T00:00:00Z\n"], block=60)
    records = [r for b in fast for r in b.records]
    assert type(fast[0].records) is list
    assert [r["industry"] for r in records] == [None, None, None]


def test_a_cursor_skips_older_rows_the_same(both: Any) -> None:
    lines = [good(n, n % 28 + 1) for n in range(1, 40)]
    fast, _ = both(lines, cursor={"since": "2024-01-15T00:00:00", "resume": None})
    kept = [r["remote_id"] for b in fast for r in b.records]
    assert kept and all(int(rid[1:]) % 28 + 1 >= 15 for rid in kept)
    assert len(kept) < len(lines)


def test_standing_rejects_and_duplicates_take_the_row_path(both: Any) -> None:
    lines = [good(n) for n in range(1, 20)] + [good(3)]
    fast, _ = both(lines, standing=StandingRejects(sources=frozenset({"accounts.csv line 5"})))
    assert any("appears again" in r.reason for b in fast for r in b.rejects)


def test_a_file_with_an_unknown_column_reads_row_by_row(both: Any, tmp_path: Path) -> None:
    global HEADER
    header = HEADER
    HEADER = "remote_id,name,colour,remote_updated_at\n"
    try:
        fast, _ = both(["a1,A,red,2024-01-01T00:00:00Z\n", "a2,B,,2024-01-02T00:00:00Z\n"])
    finally:
        HEADER = header
    assert [len(b.rejects) for b in fast] == [1]


@pytest.mark.parametrize("seed", range(6))
def test_ids_kept_on_disk_past_the_threshold_give_the_same_batches(
        both: Any, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Past ``SPILL_AT`` ids the duplicate check moves to a database on disk: the same
    records and rejects (duplicates on either side of the move included), and the database
    is gone when the pass ends."""
    r = random.Random(seed)
    lines = [good(r.randint(1, 90), r.randint(1, 28)) if r.random() < 0.2
             else r.choice(ODD).format(n=300 + n) if r.random() < 0.1 else good(100 + n)
             for n in range(150)]
    in_memory, _ = both(lines, block=r.choice([60, 400, 1 << 16]))
    made: list[SeenIds] = []

    def kept(file_name: str) -> SeenIds:
        made.append(SeenIds(file_name, spill_at=r.randint(1, 40)))
        return made[-1]

    monkeypatch.setattr(files_connector, "seen_ids", kept)
    spilled, _ = both(lines, block=r.choice([60, 400, 1 << 16]))
    # (each read writes the file again: the cursors differ by its modification time)
    assert [s[:3] for s in seen(spilled)] == [s[:3] for s in seen(in_memory)]
    assert any("appears again" in j.reason for b in spilled for j in b.rejects)
    assert made and all(s.disk is None and not s.seen for s in made)
    assert any(s.spilled for s in made)


def test_a_temporary_file_that_fails_names_the_file_and_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "accounts.csv").write_text(HEADER + "".join(good(n) for n in range(1, 30)))

    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(files_connector, "seen_ids",
                        lambda file_name: SeenIds(file_name, spill_at=10))
    monkeypatch.setattr("crmsync_files.seen.sqlite3.connect", full)
    with pytest.raises(ConnectorError, match=r"accounts.csv: past 10 rows .*disk is full.*"
                                             r"TMPDIR"):
        list(connector(tmp_path).read("accounts", None))
