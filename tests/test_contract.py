"""crmsync's own connectors pass the contract suite third parties use."""

from __future__ import annotations

import csv
import io

import pytest

from crmsync.testing import ConnectorContract
from crmsync_files import FilesConnector
from test_files_sync import DATASET


@pytest.fixture(scope="module")
def files_folder(tmp_path_factory):
    from crmsync.orchestration.export import EXPORTED_COLUMNS, format_csv_value

    folder = tmp_path_factory.mktemp("contract-files")
    for table, records in DATASET.items():
        columns = EXPORTED_COLUMNS[table]
        # five copies with distinct ids, so batches of 2 split each file
        rows = [dict(r, remote_id=f"{r['remote_id']}-{n}") for n in range(5) for r in records]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([format_csv_value(r.get(c)) for c in columns])
        (folder / f"{table}.csv").write_text(buf.getvalue())
    return folder


class TestFilesConnector(ConnectorContract):
    @pytest.fixture
    def connector(self, files_folder):
        return FilesConnector("files", FilesConnector.validate_settings(
            {"path": str(files_folder), "batch_size": 2}))


class ForgetfulFiles(FilesConnector):
    """Resumes one record too late: the contract must catch it."""

    def read(self, entity, cursor):
        batches = iter(super().read(entity, cursor))
        if cursor is not None:
            first = next(batches, None)
            if first is not None:
                first.records = list(first.records)[1:]
                yield first
        yield from batches


class InventiveFiles(FilesConnector):
    """Emits a record that fails schema validation: the contract must catch it."""

    def read(self, entity, cursor):
        for batch in super().read(entity, cursor):
            batch.records = [dict(r, remote_id=None) for r in batch.records]
            yield batch


@pytest.mark.parametrize("cls, test", [
    (ForgetfulFiles, "test_resuming_after_the_first_batch_loses_nothing"),
    (InventiveFiles, "test_every_record_validates"),
    (InventiveFiles, "test_sync_stores_every_record_once"),
])
def test_the_contract_catches_broken_connectors(files_folder, tmp_path, cls, test):
    connector = cls("files", FilesConnector.validate_settings(
        {"path": str(files_folder), "batch_size": 2}))
    method = getattr(ConnectorContract(), test)
    with pytest.raises(AssertionError):
        if test == "test_sync_stores_every_record_once":
            method(connector, tmp_path)
        else:
            method(connector)
