"""The CLI at 80 columns and piped (not a terminal): no line longer than 80, no word or
number cut (no ``…``), CRM names shown literally, ``-h``, one exit code per kind of error,
progress with totals, rate and ETA."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from conftest import load_records
from crmsync.cli import cli, render
from crmsync.cli.progress import Meter, plain_line
from test_metrics import DATA

WIDTH = 80


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": str(WIDTH)}, **kwargs)


def assert_fits(text: str) -> None:
    long = [line for line in text.splitlines() if len(line.rstrip()) > WIDTH]
    assert not long, long
    assert "…" not in text


@pytest.fixture
def store_config(sqlite_store, tmp_path):
    data = dict(DATA, users=[
        {"remote_id": "U1", "name": "[bold]x[/]", "team": "[red]East[/red]"},
        {"remote_id": "U2", "name": "Ann Long-Surname-Example", "team": "[red]East[/red]"},
        {"remote_id": "U3", "name": "Bo", "team": "West"}])
    load_records(sqlite_store, data)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{sqlite_store.url}"\n[metrics]\nperiod = "quarter"\n'
                    f'[connections.crm]\ntype = "files"\npath = "{tmp_path}"\n')
    return str(path)


def test_status_fits_80_columns(store_config):
    result = invoke("--config", store_config, "status")
    assert result.exit_code == 0, result.output
    assert_fits(result.stdout)
    assert "opportunities" in result.output and "connection crm" in result.output


def test_metrics_show_fits_and_shows_crm_names_literally(store_config):
    assert invoke("--config", store_config, "metrics", "compute", "--metric", "win_rate",
                  "--by", "owner", "--by", "team").exit_code == 0
    result = invoke("--config", store_config, "metrics", "show", "--metric", "win_rate",
                    "--by", "owner")
    assert result.exit_code == 0, result.output
    assert_fits(result.stdout)
    assert max(map(len, result.stderr.splitlines())) <= WIDTH
    assert "[bold]x[/]" in result.output
    assert "Ann Long-Surname-Example" in result.output
    team = invoke("--config", store_config, "metrics", "show", "--metric", "win_rate",
                  "--by", "team")
    assert "[red]East[/red]" in team.output


def test_a_wide_table_stacks_instead_of_cutting_words():
    out = Console(file=io.StringIO(), width=WIDTH, record=True)
    rows = [{"connection": "a-rather-long-connection-name", "entity": "opportunity_contacts",
             "status": "failed", "error": "x " * 60, "cursor": '{"offset": 1234567}'}]
    render.records(out, rows, ("connection", "entity", "status", "error", "cursor"),
                   key=("connection", "entity"))
    text = out.export_text()
    assert_fits(text)
    assert "a-rather-long-connection-name/opportunity_contacts" in text
    assert '{"offset": 1234567}' in text


def test_a_table_that_fits_stays_a_table_with_a_legend():
    out = Console(file=io.StringIO(), width=WIDTH, record=True)
    render.records(out, [{"connection": "crm", "rows_read": 12}], ("connection", "rows_read"),
                   headers={"connection": "conn", "rows_read": "read"})
    lines = out.export_text().splitlines()
    assert lines[0].split() == ["conn", "read"]
    assert "conn: connection · read: rows_read" in lines[-1]


@pytest.mark.parametrize("args", [("-h",), ("sync", "-h"), ("metrics", "show", "-h"),
                                  ("writeback", "plan", "-h"), ("config", "show", "-h")])
def test_dash_h_is_help(args):
    result = invoke(*args)
    assert result.exit_code == 0 and "Usage:" in result.output and "-h, --help" in result.output


def test_unknown_names_exit_2_with_a_suggestion_in_every_command(store_config):
    cases = [
        (("metrics", "show", "--metric", "win_rat"), "unknown metric 'win_rat' — did you mean "
                                                    "'win_rate'? (crmsync metrics list)"),
        (("metrics", "compute", "--metric", "win_rat"), "did you mean 'win_rate'?"),
        (("sync", "crn"), "unknown connection 'crn' — did you mean 'crm'?"),
        (("check", "crn"), "unknown connection 'crn' — did you mean 'crm'?"),
        (("report", "--html", "r.html", "--team", "Wesst"), "unknown team 'Wesst' — did you "
                                                           "mean 'West'?"),
        (("report", "--html", "r.html", "--rep", "Boo"), "unknown rep 'Boo'"),
    ]
    for args, message in cases:
        result = invoke("--config", store_config, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "no values yet" not in result.output


def test_the_same_kind_of_error_gives_the_same_code_in_every_command(tmp_path):
    bad_store = tmp_path / "bad.toml"
    bad_store.write_text('[store]\nurl = "nonsense"\n[connections.crm]\ntype = "files"\n'
                         f'path = "{tmp_path}"\n')
    for args in (("status",), ("metrics", "show"), ("metrics", "compute"),
                 ("export", str(tmp_path / "out"))):
        result = invoke("--config", str(bad_store), *args)
        assert result.exit_code == 7, (args, result.output)      # the store
        assert result.output.splitlines()[-1].startswith("error: store url is not a database")
        assert "Traceback" not in result.output
    bad_config = tmp_path / "c.toml"
    bad_config.write_text('[metrics]\nperiod = "fortnight"\n')
    for args in (("sync",), ("check",), ("config", "show"), ("status",), ("metrics", "show"),
                 ("export", str(tmp_path / "out"))):
        result = invoke("--config", str(bad_config), *args)
        assert result.exit_code == 2, (args, result.output)      # the configuration
        assert "fortnight" in result.output.splitlines()[-1]
    unknown_type = tmp_path / "t.toml"
    unknown_type.write_text('[connections.crm]\ntype = "nope"\n')
    assert invoke("--config", str(unknown_type), "sync").exit_code == 2


def test_plain_progress_lines_give_total_rate_and_eta():
    assert plain_line("sync", 30, 60, "entities", 10.0) == \
        "sync: 30/60 entities · 3 entities/s · ETA 0:00:10"
    now = [0.0]
    stream = io.StringIO()
    m = Meter("lines", console=Console(file=stream, width=WIDTH), interval=5.0,
              clock=lambda: now[0])
    m.start()
    for done in range(0, 1001, 100):
        now[0] = done / 100
        m.update("rows", "demo/deals", done, 1000, "rows")
    lines = stream.getvalue().splitlines()
    assert lines == ["demo/deals: 500/1,000 rows · 100 rows/s · ETA 0:00:05",
                     "demo/deals: 1,000/1,000 rows · 100 rows/s · ETA 0:00:00"]


def test_progress_is_off_for_json(store_config):
    result = invoke("--config", store_config, "metrics", "show", "--json")
    json.loads(result.output)


def test_work_without_progress_of_its_own_still_says_it_is_working(capsys):
    import time

    from crmsync.cli.progress import ticking

    with ticking("lines", "metrics compute", interval=0.05):
        time.sleep(0.18)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("metrics compute: still working, 0:00:0") for line in lines)


class _AuthPlugin:
    """A connector whose CRM refuses the credentials."""

    @staticmethod
    def plugin():
        from crmsync import AuthError, Connector, hookimpl

        class Refused(Connector):
            NAME = "refused_test"
            ENTITIES = ("users",)

            def read(self, entity, cursor):
                raise AuthError("INVALID_SESSION_ID: session expired", connection=self.name,
                                entity=entity)
                yield  # a generator, like every connector's read

        class Plugin:
            @hookimpl
            def crmsync_register_connectors(self):
                return [Refused]

        return Plugin()


def test_a_crm_refusing_the_credentials_exits_6(tmp_path):
    from crmsync.plugin.manager import get_plugin_manager
    from crmsync.plugin.registry import Registry

    pm = get_plugin_manager()
    pm.register(_AuthPlugin.plugin(), name="refused-test")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n'
                   '[connections.crm]\ntype = "refused_test"\n')
    result = invoke("--config", str(cfg), "sync", obj=Registry(pm))
    assert result.exit_code == 6, result.output
    assert "INVALID_SESSION_ID" in result.output
    as_json = invoke("--config", str(cfg), "sync", "--json", obj=Registry(pm))
    assert as_json.exit_code == 6
