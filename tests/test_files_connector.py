"""The ``files`` connector, called directly: reading, rejects, incremental passes and resume."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crmsync import Batch, ConfigError
from crmsync_files import FilesConnector, crmsync_register_connectors
from crmsync_files.cursor import file_signature

Reader = Callable[..., list[Batch]]


@pytest.fixture
def make_connector(tmp_path: Path) -> Callable[..., FilesConnector]:
    """Build a connector on ``tmp_path`` with the given extra settings."""

    def make(**settings: Any) -> FilesConnector:
        raw = {"path": str(tmp_path), **settings}
        return FilesConnector("f", FilesConnector.validate_settings(raw))

    return make


@pytest.fixture
def read(make_connector: Callable[..., FilesConnector]) -> Reader:
    """Read every batch of one table: ``read("accounts", cursor, batch_size=2)``."""

    def read_batches(table: str, cursor: Any = None, **settings: Any) -> list[Batch]:
        return list(make_connector(**settings).read(table, cursor))

    return read_batches


def records(batches: list[Batch]) -> list[dict[str, Any]]:
    """All records of ``batches``, in order."""
    return [dict(record) for batch in batches for record in batch.records]


def remote_ids(batches: list[Batch]) -> list[str]:
    """The ``remote_id`` of every record of ``batches``, in order."""
    return [str(record["remote_id"]) for record in records(batches)]


def write_accounts(folder: Path, *updated_at: str, start: int = 1) -> Path:
    """Write (or append to) ``accounts.csv``: one account per timestamp, ids from ``start``."""
    path = folder / "accounts.csv"
    new = not path.exists()
    with open(path, "a", encoding="utf-8") as stream:
        if new:
            stream.write("remote_id,name,remote_updated_at\n")
        for number, stamp in enumerate(updated_at, start=start):
            stream.write(f"a{number},Account {number},{stamp}\n")
    return path


def test_registers_the_connector_class() -> None:
    assert crmsync_register_connectors() == [FilesConnector]


def test_csv_rows_are_strings_with_empty_cells_as_none(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "accounts.csv").write_text(
        "remote_id,name,employee_count,custom\n"
        'a1,Acme,12,"{""tier"": ""gold""}"\n'
        "a2,,,\n", encoding="utf-8")

    assert records(read("accounts")) == [
        {"remote_id": "a1", "name": "Acme", "employee_count": "12", "custom": '{"tier": "gold"}'},
        {"remote_id": "a2", "name": None, "employee_count": None, "custom": None},
    ]


def test_jsonl_rows_keep_their_json_values(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "accounts.jsonl").write_text(
        '{"remote_id": "a1", "employee_count": 12, "is_deleted": false, "custom": {"tier": 1}}\n'
        '{"remote_id": "a2", "name": null}\n', encoding="utf-8")

    assert records(read("accounts")) == [
        {"remote_id": "a1", "employee_count": 12, "is_deleted": False, "custom": {"tier": 1}},
        {"remote_id": "a2", "name": None},
    ]


def test_sources_name_the_file_and_physical_line(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "accounts.csv").write_text(
        'remote_id,name\na1,"two\nlines"\n\na2,B\n', encoding="utf-8")

    (batch,) = read("accounts")

    assert list(batch.sources or []) == ["accounts.csv line 2", "accounts.csv line 5"]


def test_jsonl_sources_are_line_numbers(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.jsonl").write_text(
        '{"remote_id": "u1"}\n\n{"remote_id": "u2"}\n', encoding="utf-8")

    (batch,) = read("users")

    assert list(batch.sources or []) == ["users.jsonl line 1", "users.jsonl line 3"]


def test_row_with_value_in_unknown_column_is_rejected(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "accounts.csv").write_text(
        "remote_id,name,colour\na1,A,\na2,B,red\na3,C,\n", encoding="utf-8")

    batches = read("accounts")
    (reject,) = [r for batch in batches for r in batch.rejects]

    assert remote_ids(batches) == ["a1", "a3"]
    assert (reject.remote_id, reject.field) == ("a2", "colour")
    assert reject.source == "accounts.csv line 3"
    assert "unknown column 'colour' for table accounts" in reject.reason
    assert reject.payload == {"remote_id": "a2", "name": "B", "colour": "red"}


def test_unknown_column_left_empty_is_ignored(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "accounts.csv").write_text("remote_id,colour\na1,\n", encoding="utf-8")

    assert records(read("accounts")) == [{"remote_id": "a1"}]


def test_engine_owned_column_is_unknown(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.jsonl").write_text('{"remote_id": "u1", "synced_at": "2024-01-01"}\n',
                                          encoding="utf-8")

    (batch,) = read("users")

    assert [r.field for r in batch.rejects] == ["synced_at"]


def test_invalid_json_line_is_rejected_with_its_line_number(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.jsonl").write_text(
        '{"remote_id": "u1"}\n{"remote_id": \n{"remote_id": "u3"}\n', encoding="utf-8")

    (batch,) = read("users")
    (reject,) = batch.rejects

    assert remote_ids([batch]) == ["u1", "u3"]
    assert reject.source == "users.jsonl line 2"
    assert "line 2 is not valid JSON" in reject.reason


def test_jsonl_line_that_is_not_an_object_is_rejected(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.jsonl").write_text('["u1"]\n', encoding="utf-8")

    (batch,) = read("users")

    assert [r.reason for r in batch.rejects] == ["line 1 is not a JSON object"]


def test_csv_row_with_more_cells_than_header_is_rejected(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.csv").write_text("remote_id,name\nu1,A,extra\nu2,B\n", encoding="utf-8")

    (batch,) = read("users")

    assert remote_ids([batch]) == ["u2"]
    assert [(r.remote_id, r.source) for r in batch.rejects] == [("u1", "users.csv line 2")]


def test_csv_row_that_is_not_utf8_is_rejected(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.csv").write_bytes(b"remote_id,name\nu1,Caf\xe9\nu2,B\n")

    (batch,) = read("users")

    assert remote_ids([batch]) == ["u2"]
    (reject,) = batch.rejects
    assert reject.reason.startswith("byte 0xe9 is not UTF-8")
    assert 'set encoding for it (e.g. encoding = "cp1252"' in reject.reason


def without_lines(cursor: dict[str, Any]) -> dict[str, Any]:
    """A cursor without its line index (``tests/test_files_line_index.py`` tests that)."""
    return {key: value for key, value in cursor.items() if key != "lines"}


def test_missing_table_file_yields_no_records(read: Reader) -> None:
    assert records(read("quotas")) == []


def test_final_cursor_holds_the_greatest_remote_updated_at(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "2024-01-02T00:00:00Z", "2024-03-01T10:00:00.5Z", "2024-02-01")

    final = without_lines(read("accounts")[-1].cursor)

    assert final == {"since": "2024-03-01T10:00:00.500000", "resume": None,
                     "read": file_signature(tmp_path / "accounts.csv")}


def test_incremental_read_yields_only_newer_and_tied_rows(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
    cursor = read("accounts")[-1].cursor
    write_accounts(tmp_path, "2024-01-01T12:00:00Z", "2024-01-03T00:00:00Z", start=3)

    assert remote_ids(read("accounts", cursor)) == ["a2", "a4"]


def test_timestamps_compare_as_instants(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "2024-01-01T12:00:00+02:00", "2024-01-01T09:59:59.999Z",
                   "2024-01-01 10:00:00.000001")
    cursor = {"since": "2024-01-01T10:00:00", "resume": None}

    assert remote_ids(read("accounts", cursor)) == ["a1", "a3"]


def test_rows_without_remote_updated_at_are_always_read(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "", "2020-01-01")
    cursor = {"since": "2024-01-01T00:00:00", "resume": None}

    assert remote_ids(read("accounts", cursor)) == ["a1"]


def test_unparseable_remote_updated_at_is_passed_through(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "last tuesday")
    cursor = {"since": "2024-01-01T00:00:00", "resume": None}

    batches = read("accounts", cursor)

    assert remote_ids(batches) == ["a1"]
    assert without_lines(batches[-1].cursor) == {
        **cursor, "read": file_signature(tmp_path / "accounts.csv")}


def test_batch_cursor_records_progress(tmp_path: Path, read: Reader) -> None:
    path = write_accounts(tmp_path, "2024-01-03", "2024-01-01", "2024-01-02")
    stat = path.stat()

    first = read("accounts", batch_size=2)[0]

    assert first.cursor == {"since": None, "resume": {
        "signature": f"{stat.st_size}:{stat.st_mtime_ns}", "line": 3,
        "max_seen": "2024-01-03T00:00:00"}}


def test_resume_yields_exactly_the_rest(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, *[f"2024-01-{day:02d}" for day in range(1, 11)])
    committed = read("accounts", batch_size=3)[1].cursor

    assert remote_ids(read("accounts", committed, batch_size=3)) == ["a7", "a8", "a9", "a10"]


def test_resume_keeps_max_seen_from_before_the_crash(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "2024-05-01", "2024-01-01", "2024-01-02")
    committed = read("accounts", batch_size=1)[0].cursor

    final = without_lines(read("accounts", committed, batch_size=1)[-1].cursor)

    assert final == {"since": "2024-05-01T00:00:00", "resume": None,
                     "read": file_signature(tmp_path / "accounts.csv")}


def test_a_file_unchanged_since_a_complete_pass_is_not_read_again(tmp_path: Path,
                                                                  read: Reader) -> None:
    path = write_accounts(tmp_path, "2024-01-01", "2024-01-02")
    cursor = read("accounts")[-1].cursor

    again = read("accounts", cursor)

    assert remote_ids(again) == []
    assert again[-1].cursor is None  # the stored cursor (its line index) is kept as it is
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1000))
    assert remote_ids(read("accounts", cursor)) == ["a2"]  # touched: read, tied row again


def test_changed_file_restarts_the_pass(tmp_path: Path, read: Reader) -> None:
    path = write_accounts(tmp_path, "2024-01-01", "2024-01-02", "2024-01-03")
    committed = read("accounts", batch_size=2)[0].cursor
    write_accounts(tmp_path, "2024-01-04", start=4)
    assert committed["resume"]["signature"] != f"{path.stat().st_size}:{path.stat().st_mtime_ns}"

    assert remote_ids(read("accounts", committed, batch_size=2)) == ["a1", "a2", "a3", "a4"]


def test_csv_and_jsonl_for_one_table_is_a_config_error(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.csv").write_text("remote_id\n", encoding="utf-8")
    (tmp_path / "users.jsonl").write_text("", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"users\.csv and .*users\.jsonl"):
        read("users")


def test_format_setting_reads_only_that_format(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "users.csv").write_text("remote_id\nu1\n", encoding="utf-8")
    (tmp_path / "users.jsonl").write_text('{"remote_id": "u2"}\n', encoding="utf-8")

    assert remote_ids(read("users", format="jsonl")) == ["u2"]


def test_missing_folder_is_a_config_error_from_read(
        make_connector: Callable[..., FilesConnector], tmp_path: Path) -> None:
    connector = make_connector(path=str(tmp_path / "nowhere"))

    with pytest.raises(ConfigError, match="nowhere"):
        connector.read("users", None)


def test_missing_folder_is_a_config_error_from_check(
        make_connector: Callable[..., FilesConnector], tmp_path: Path) -> None:
    connector = make_connector(path=str(tmp_path / "nowhere"))

    with pytest.raises(ConfigError, match="nowhere"):
        connector.check()


def test_check_lists_table_files(make_connector: Callable[..., FilesConnector],
                                 tmp_path: Path) -> None:
    for name in ("users.jsonl", "accounts.csv", "acounts.csv"):
        (tmp_path / name).write_text("", encoding="utf-8")

    assert make_connector().check() == (f"folder {tmp_path}: 2 tables (users.jsonl, accounts.csv); "
                                        f"ignored (no such table or format): acounts.csv")


def test_batches_stay_within_batch_size_on_a_large_file(
        tmp_path: Path, make_connector: Callable[..., FilesConnector]) -> None:
    rows = 200_000
    with open(tmp_path / "activities.csv", "w", encoding="utf-8") as stream:
        stream.write("remote_id,type,occurred_at,remote_updated_at\n")
        stream.writelines(f"x{n},call,2024-01-01T00:00:00,2024-01-01T00:00:{n % 60:02d}\n"
                          for n in range(rows))
    sizes = [len(batch.records)
             for batch in make_connector(batch_size=5000).read("activities", None)]

    assert max(sizes) <= 5000
    assert sum(sizes) == rows


def test_cursor_is_json_serialisable(tmp_path: Path, read: Reader) -> None:
    write_accounts(tmp_path, "2024-01-01", "2024-01-02")

    cursors = [batch.cursor for batch in read("accounts", batch_size=1)]

    assert json.loads(json.dumps(cursors)) == cursors


def test_signature_uses_size_and_mtime(tmp_path: Path, read: Reader) -> None:
    path = write_accounts(tmp_path, "2024-01-01", "2024-01-02")
    committed = read("accounts", batch_size=1)[0].cursor
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert remote_ids(read("accounts", committed, batch_size=1)) == ["a1", "a2"]


@pytest.mark.parametrize("settings,key,message", [
    ({"encoding": "klingon"}, "encoding", "unknown encoding 'klingon'"),
    ({"delimiter": ";;"}, "delimiter", "expected one character"),
    ({"date_format": "MM/DD/YYYY"}, "date_format", "expected a strptime format"),
    ({"encoding": {"acounts": "cp1252"}}, "acounts", "no such table"),
    ({"max_row_lines": 0}, "max_row_lines", "must be at least 1"),
])
def test_bad_file_setting_is_a_config_error_naming_it(
        make_connector: Callable[..., FilesConnector], settings: dict[str, Any], key: str,
        message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        make_connector(**settings)

    assert caught.value.key == key


def test_per_table_settings_apply_to_that_table_only(tmp_path: Path, read: Reader) -> None:
    (tmp_path / "accounts.csv").write_bytes("remote_id;name\na1;Café\n".encode("cp1252"))
    (tmp_path / "users.csv").write_text("remote_id,name\nu1,Zoë\n", encoding="utf-8")
    settings = {"encoding": {"accounts": "cp1252"}, "delimiter": {"accounts": ";"}}

    assert records(read("accounts", **settings)) == [{"remote_id": "a1", "name": "Café"}]
    assert records(read("users", **settings)) == [{"remote_id": "u1", "name": "Zoë"}]
