"""Coaching findings (``crmsync.api.coach``, docs/coaching.md): each built-in rule fires on a
rep built to trip it and not on one just inside its threshold, never below the minimum
sample; severity; the lifecycle across runs (SQLite and PostgreSQL); rules overridden,
switched off and added in crmsync.toml and by a plugin; invalid rules name the file, rule
and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import load_records
from crmsync import ConfigError, api, hookimpl
from crmsync.core.internal_tables import coaching_findings
from crmsync.core.schema import metric_values
from crmsync.metrics.coaching import gap_of, severity_of
from crmsync.metrics.coaching_rules import builtin_rules, parse_condition
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry

Q3 = (dt.date(2026, 7, 1), dt.date(2026, 10, 1))
AS_OF = dt.date(2026, 12, 1)
T1 = dt.datetime(2026, 12, 1, 8, 0)
T2 = dt.datetime(2026, 12, 8, 8, 0)
T3 = dt.datetime(2026, 12, 15, 8, 0)
BUILTIN = ("call_opening", "qualification", "lead_response", "forecasting_discipline",
           "appointment_setting", "negotiation")
HOSTILE = "<script>alert(1)</script> [bold]Rex[/]"

#: U1 trips every built-in rule; U2 is just inside each threshold; U6 looks like U1 but every
#: rate rests on a sample below the rules' minimum; U3–U5, U7, U8 are the team's baseline
#: (five equal values keep every team median at the baseline whatever U1, U2 and U6 hold).
USERS = [{"remote_id": "U1", "name": HOSTILE, "team": "East"},
         {"remote_id": "U2", "name": "Grace Hopper", "team": "East"},
         {"remote_id": "U6", "name": "Tiny Sample", "team": "East"},
         *({"remote_id": f"U{i}", "name": f"Baseline {i}", "team": "East"}
           for i in (3, 4, 5, 7, 8))]
STAGES = [{"remote_id": "S1", "pipeline_id": "P1", "label": "Discovery", "display_order": 1,
           "is_closed": False}]
#: metric (or metric[S1]) → (baseline, U1 trips, U2 just inside, n of a rate).
KPIS = {
    "calls": (50.0, 80.0, 80.0, None),
    "call_connect_rate": (0.4, 0.2, 0.33, 50),            # fires at ≤ 0.32
    "meetings": (20.0, 30.0, 30.0, None),
    "stage_conversion_rate[S1]": (0.5, 0.2, 0.41, 20),    # fires at ≤ 0.40
    "lead_response_sla_rate": (0.95, 0.5, 0.8, 20),       # fires at < 0.8 (no target)
    "deal_slippage_rate": (0.2, 0.5, 0.29, 20),           # fires at ≥ 0.30 and ≥ 0.30
    "appointment_rate": (0.5, 0.3, 0.41, 30),             # fires at ≤ 0.40
    "avg_deal_size": (1000.0, 2000.0, 2000.0, 5),
    "win_rate": (0.3, 0.2, 0.25, 20),                     # fires at ≤ 0.24
}


def value_rows(changes: dict[tuple[str, str], float] | None = None) -> list[tuple]:
    """(metric, subject, rep, value, n) of the hand-built store."""
    changes = changes or {}
    rows = []
    for kpi, (base, trip, inside, n) in KPIS.items():
        metric, _, subject = kpi.partition("[")
        subject = subject.rstrip("]") or None
        for rep in ("U1", "U2", "U6", "U3", "U4", "U5", "U7", "U8"):
            value = {"U1": trip, "U2": inside, "U6": trip}.get(rep, base)
            sample = 5 if rep == "U6" and n is not None else n
            rows.append((metric, subject, rep, changes.get((kpi, rep), value), sample))
    return rows


def write_values(store, rows, run_id: str, computed_at: dt.datetime) -> None:
    """One computation by owner of ``rows`` (the latest run wins, as after metrics compute)."""
    with store.engine.begin() as conn:
        conn.execute(sa.insert(metric_values), [
            {"run_id": run_id, "metric": m, "period": "quarter", "period_start": Q3[0],
             "period_end": Q3[1], "dimension": "owner", "dimension_value": rep,
             "subject_id": subject, "value": v, "numerator": None, "denominator": n,
             "computed_at": computed_at} for m, subject, rep, v, n in rows])


def write_config(tmp_path: Path, store, extra: str = "") -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n{extra}',
                    encoding="utf-8")
    return path


@pytest.fixture
def hand_built(store, tmp_path):
    """The hand-built store (SQLite and PostgreSQL) and its configuration."""
    load_records(store, {"users": USERS, "stages": STAGES})
    write_values(store, value_rows(), "r1", dt.datetime(2026, 12, 1))
    return store, api.load_config(write_config(tmp_path, store))


def run(config, registry, store, **kw):
    kw.setdefault("now", T1)
    return api.coach(config, registry, as_of=AS_OF, store=store, **kw)


def fired(result, rep="U1"):
    return {f["rule_id"]: f for f in result["findings"] if f["rep_id"] == rep}


# -- each built-in rule -----------------------------------------------------------------------

@pytest.mark.parametrize("rule", BUILTIN)
def test_builtin_rule_fires_on_the_rep_built_to_trip_it(hand_built, registry, rule):
    store, config = hand_built
    result = run(config, registry, store)
    assert rule in fired(result)
    assert fired(result)[rule]["rep"] == HOSTILE


@pytest.mark.parametrize("rule", BUILTIN)
def test_builtin_rule_does_not_fire_just_inside_its_threshold(hand_built, registry, rule):
    store, config = hand_built
    assert rule not in fired(run(config, registry, store), "U2")


@pytest.mark.parametrize("rule", BUILTIN)
def test_builtin_rule_does_not_fire_below_its_minimum_sample(hand_built, registry, rule):
    store, config = hand_built
    assert rule not in fired(run(config, registry, store), "U6")


def test_baseline_reps_have_no_findings(hand_built, registry):
    store, config = hand_built
    reps = {f["rep_id"] for f in run(config, registry, store)["findings"]}
    assert reps == {"U1"}


def test_finding_carries_its_evidence(hand_built, registry):
    store, config = hand_built
    f = fired(run(config, registry, store))["call_opening"]
    (calls, connect) = f["evidence"]
    assert (f["area"], f["period"], f["period_start"]) == ("Call opening", "quarter",
                                                           "2026-07-01")
    assert (calls["kpi"], calls["value"], calls["n"], calls["team_median"]) == \
        ("calls", 80.0, 80.0, 50.0)
    assert (connect["value"], connect["n"], connect["team_median"], connect["min_n"]) == \
        (0.2, 50, 0.4, 20)
    assert connect["threshold"] == pytest.approx(0.32)


def test_per_stage_kpi_is_read_by_stage_name(hand_built, registry):
    store, config = hand_built
    (_, discovery) = fired(run(config, registry, store))["qualification"]["evidence"]
    assert discovery["kpi"] == "stage_conversion_rate[Discovery]"
    assert (discovery["value"], discovery["team_median"]) == (0.2, 0.5)


def test_target_replaces_the_fallback_number(hand_built, registry, tmp_path):
    store, _ = hand_built
    config = api.load_config(write_config(tmp_path, store,
                                          "[targets]\nlead_response_sla_rate = 0.9\n"))
    f = fired(run(config, registry, store), "U2")["lead_response"]   # 0.8 < 0.9
    assert (f["evidence"][0]["target"], f["evidence"][0]["threshold"]) == (0.9, 0.9)


# -- severity -----------------------------------------------------------------------------------

def test_severity_grows_with_the_gap_past_the_threshold():
    assert gap_of("<=", 0.2, 0.32) == pytest.approx(0.375)
    assert gap_of(">=", 0.5, 0.3) == pytest.approx(2 / 3)
    assert [severity_of(g) for g in (0.0, 0.249, 0.25, 0.499, 0.5)] == \
        ["low", "low", "medium", "medium", "high"]


def test_finding_severity_comes_from_its_weakness(hand_built, registry):
    store, config = hand_built
    result = fired(run(config, registry, store))
    # connect rate 0.2 against 0.32: gap 0.375; win rate 0.2 against 0.24: gap 0.167
    assert (result["call_opening"]["severity"], result["negotiation"]["severity"]) == \
        ("medium", "low")


# -- lifecycle ----------------------------------------------------------------------------------

def test_findings_are_opened_then_still_open(hand_built, registry):
    store, config = hand_built
    first = run(config, registry, store)
    second = run(config, registry, store, now=T2)
    assert first["changes"]["opened"] == len(BUILTIN)
    assert second["changes"] == {"opened": 0, "reopened": 0, "still_open": len(BUILTIN),
                                 "resolved": 0}
    assert {f["status"] for f in second["findings"]} == {"still open"}
    assert {f["opened_at"] for f in second["findings"]} == {T1.isoformat()}


def test_finding_that_no_longer_fires_is_resolved_then_reopened(hand_built, registry):
    store, config = hand_built
    run(config, registry, store)
    write_values(store, value_rows({("call_connect_rate", "U1"): 0.4}), "r2",
                 dt.datetime(2026, 12, 7))
    second = run(config, registry, store, now=T2)
    write_values(store, value_rows(), "r3", dt.datetime(2026, 12, 14))
    third = run(config, registry, store, now=T3)

    (resolved,) = second["resolved"]
    assert (resolved["rule_id"], resolved["resolved_at"]) == ("call_opening", T2.isoformat())
    assert "call_opening" not in fired(second)
    reopened = fired(third)["call_opening"]
    assert (reopened["status"], reopened["reopened"], reopened["opened_at"]) == \
        ("reopened", 1, T3.isoformat())
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(coaching_findings).where(
            coaching_findings.c.rule_id == "call_opening")).one()
    assert (row.status, row.resolved_at) == ("open", None)


def test_reps_out_of_scope_keep_their_findings(hand_built, registry):
    store, config = hand_built
    run(config, registry, store)
    write_values(store, value_rows({("call_connect_rate", "U1"): 0.4}), "r2",
                 dt.datetime(2026, 12, 7))
    narrowed = run(config, registry, store, rep="U2", now=T2)
    assert narrowed["changes"]["resolved"] == 0
    assert len(api.coaching_findings(config, store=store)) == len(BUILTIN)


def test_no_record_leaves_the_store_untouched(hand_built, registry):
    store, config = hand_built
    result = run(config, registry, store, record=False)
    assert {f["status"] for f in result["findings"]} == {"new"}
    assert api.coaching_findings(config, store=store) == []


# -- rules as data ------------------------------------------------------------------------------

def test_builtin_pack_is_valid_and_reads_registered_metrics(registry, sqlite_store, tmp_path):
    config = api.load_config(write_config(tmp_path, sqlite_store))
    assert [r.id for r in api.coaching_rules(config, registry)] == list(BUILTIN)
    assert {c.metric for r in builtin_rules() for c in r.conditions} <= set(registry.metrics())


def test_config_rule_overrides_a_builtin_one(hand_built, registry, tmp_path):
    store, _ = hand_built
    config = api.load_config(write_config(tmp_path, store, """
[[coach.rules]]
id = "call_opening"
title = "Connects below the bar"
area = "Call opening"
when = ["call_connect_rate <= team_median * 0.85"]
min_n = 20
"""))
    f = fired(run(config, registry, store), "U2")["call_opening"]   # 0.33 ≤ 0.34
    assert f["title"] == "Connects below the bar"


def test_config_rule_switches_a_builtin_one_off_and_adds_one(hand_built, registry, tmp_path):
    store, _ = hand_built
    config = api.load_config(write_config(tmp_path, store, """
[[coach.rules]]
id = "negotiation"
enabled = false
[[coach.rules]]
id = "big_talker"
title = "Many calls"
area = "Time management"
when = "calls >= 70"
min_n = 0
"""))
    result = fired(run(config, registry, store))
    assert "negotiation" not in result and "big_talker" in result


def test_builtin_false_keeps_only_the_configured_rules(registry, sqlite_store, tmp_path):
    config = api.load_config(write_config(tmp_path, sqlite_store, """
[coach]
builtin = false
[[coach.rules]]
id = "slow"
title = "Slow"
area = "Lead handling"
when = ["lead_response_minutes > 60"]
"""))
    assert [r.id for r in api.coaching_rules(config, registry)] == ["slow"]


class RulesPlugin:
    @hookimpl
    def crmsync_coaching_rules(self):
        return [{"id": "quiet_week", "title": "Few meetings", "area": "Prospecting",
                 "when": ["meetings <= team_median * 0.5"], "min_n": 0}]


@pytest.fixture
def rules_plugin(registry):
    registry.pm.register(RulesPlugin(), name="rules_plugin")
    yield registry
    registry.pm.unregister(name="rules_plugin")


def test_plugin_adds_a_rule(rules_plugin, sqlite_store, tmp_path):
    config = api.load_config(write_config(tmp_path, sqlite_store))
    rules = {r.id: r for r in api.coaching_rules(config, rules_plugin)}
    assert rules["quiet_week"].source == "plugin rules_plugin"


class BadPlugin:
    @hookimpl
    def crmsync_coaching_rules(self):
        return [{"id": "bad", "title": "Bad", "area": "X", "when": ["calls >> 3"]}]


def test_invalid_plugin_rule_names_the_plugin(registry, sqlite_store, tmp_path):
    registry.pm.register(BadPlugin(), name="bad_plugin")
    try:
        config = api.load_config(write_config(tmp_path, sqlite_store))
        with pytest.raises(ConfigError, match=r"plugin bad_plugin.*bad\.when"):
            api.coaching_rules(config, registry)
    finally:
        registry.pm.unregister(name="bad_plugin")


@pytest.mark.parametrize(("rule", "key", "message"), [
    ('id = "x"\ntitle = "X"\narea = "A"\nwhen = ["calls >> 3"]', "x.when", "cannot read"),
    ('id = "x"\ntitle = "X"\nwhen = ["calls > 3"]', "x.area", "missing 'area'"),
    ('id = "x"\ntitle = "X"\narea = "A"\nwhen = ["calls > 3"]\nmin_n = -1', "x.min_n",
     "whole number"),
    ('id = "x"\ntitle = "X"\narea = "A"\nwhen = ["calls > 3"]\nmin_n = { win_rate = 3 }',
     "x.min_n", "no condition"),
    ('id = "x"\ntitle = "X"\narea = "A"\nwhen = ["calls > 3"]\ncolour = "red"', "x.colour",
     "unknown key"),
    ('title = "X"\narea = "A"\nwhen = ["calls > 3"]', "#1.id", "missing 'id'"),
])
def test_invalid_config_rule_names_file_rule_and_key(sqlite_store, tmp_path, rule, key,
                                                     message):
    path = write_config(tmp_path, sqlite_store, f"[[coach.rules]]\n{rule}\n")
    with pytest.raises(ConfigError, match=message) as err:
        api.load_config(path)
    assert str(path) in str(err.value) and f"'{key}'" in str(err.value)


def test_unknown_metric_in_a_rule_is_a_config_error(registry, sqlite_store, tmp_path):
    config = api.load_config(write_config(tmp_path, sqlite_store, """
[[coach.rules]]
id = "typo"
title = "Typo"
area = "A"
when = ["win_rat <= 0.2"]
"""))
    with pytest.raises(ConfigError, match=r"'typo\.when': unknown metric 'win_rat'"):
        api.coaching_rules(config, registry)


def test_condition_reads_target_fallback_and_stage():
    c = parse_condition("stage_conversion_rate[ Discovery ] < target or 0.4 * 0.5",
                        where="x.when")
    assert (c.kpi, c.op, c.reference, c.number, c.factor) == \
        ("stage_conversion_rate[Discovery]", "<", "target", 0.4, 0.5)


def test_builtin_rules_reading_unregistered_metrics_are_left_out(sqlite_store, tmp_path):
    pm = get_plugin_manager()
    pm.set_blocked("kpis")
    config = api.load_config(write_config(tmp_path, sqlite_store))
    assert api.coaching_rules(config, Registry(pm)) == []
