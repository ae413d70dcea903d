"""Coaching rules as data (docs/coaching.md): the built-in pack, ``[coach]`` in crmsync.toml
and the rules plugins add.

A rule is a table::

    [[coach.rules]]
    id = "call_opening"
    title = "Many calls, few connects"
    area = "Call opening"
    when = ["calls >= team_median * 1.2", "call_connect_rate <= team_median * 0.8"]
    min_n = { calls = 30, call_connect_rate = 30 }

Every condition of ``when`` must hold (AND). A condition compares one KPI of the rep — a
metric id, or ``metric[stage]`` for a per-stage metric such as
``stage_conversion_rate[Discovery]`` — with ``team_median``, ``target`` (optionally
``target or 0.8``: that number when no target is set) or a number, times an optional factor.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from crmsync.core.config import Section, SectionContext
from crmsync.core.errors import ConfigError

__all__ = ["COACH", "CoachConfig", "Condition", "Rule", "DEFAULT_MIN_N", "parse_condition",
           "parse_rule", "parse_rules", "builtin_rules", "merge_rules"]

#: The minimum sample of a KPI when a rule does not state one (docs/coaching.md).
DEFAULT_MIN_N = 20
_RULE_KEYS = ("id", "title", "area", "when", "min_n", "severity_kpi", "advice", "enabled")
_REQUIRED = ("id", "title", "area", "when")
_NUMBER = r"-?\d+(?:\.\d+)?"
_CONDITION = re.compile(
    rf"^\s*(?P<kpi>[a-z_][a-z0-9_]*)(?:\[(?P<subject>[^\]]+)\])?\s*(?P<op><=|>=|<|>)\s*"
    rf"(?:(?P<ref>team_median|target)(?:\s+or\s+(?P<fallback>{_NUMBER}))?"
    rf"(?:\s*\*\s*(?P<factor>{_NUMBER}))?|(?P<number>{_NUMBER}))\s*$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Condition:
    """``kpi op reference × factor`` (reference ``team_median``, ``target`` or ``number``)."""

    metric: str
    op: str
    reference: str
    factor: float = 1.0
    number: float | None = None
    subject: str | None = None
    text: str = ""

    @property
    def kpi(self) -> str:
        """The KPI as the rule names it: ``metric`` or ``metric[subject]``."""
        return f"{self.metric}[{self.subject}]" if self.subject else self.metric


@dataclass(frozen=True)
class Rule:
    """One coaching rule (module docstring)."""

    id: str
    title: str
    area: str
    conditions: tuple[Condition, ...]
    #: KPI (as :attr:`Condition.kpi`) → the minimum ``n`` for the rule to fire.
    min_n: Mapping[str, int] = field(default_factory=dict)
    #: The KPI whose gap sets the severity (default: the last condition's).
    severity_kpi: str | None = None
    advice: str = ""
    enabled: bool = True
    #: Where the rule comes from: ``built-in``, ``plugin NAME`` or the config file.
    source: str = "built-in"

    def minimum(self, kpi: str) -> int:
        """The minimum sample of ``kpi`` for this rule."""
        return self.min_n.get(kpi, DEFAULT_MIN_N)

    @property
    def severity_condition(self) -> Condition:
        """The condition whose gap sets the severity."""
        for c in self.conditions:
            if c.kpi == self.severity_kpi:
                return c
        return self.conditions[-1]


@dataclass(frozen=True)
class CoachConfig:
    """``[coach]``: whether the built-in pack is used, and the rules of crmsync.toml."""

    builtin: bool = True
    rules: tuple[Mapping[str, Any], ...] = ()
    file: str | None = None


def parse_condition(text: Any, *, where: str, file: str | None = None) -> Condition:
    """One condition such as ``calls >= team_median * 1.2``; errors name ``where``."""
    m = _CONDITION.match(text) if isinstance(text, str) else None
    if m is None:
        raise ConfigError(f"cannot read condition {text!r}: expected KPI OP REFERENCE such as "
                          "'calls >= team_median * 1.2', 'win_rate < target or 0.25' or "
                          "'deal_slippage_rate >= 0.3'", file=file, section="coach.rules",
                          key=where)
    number = m["number"] if m["number"] is not None else m["fallback"]
    return Condition(metric=m["kpi"], op=m["op"], reference=m["ref"] or "number",
                     factor=float(m["factor"]) if m["factor"] else 1.0,
                     number=float(number) if number is not None else None,
                     subject=m["subject"].strip() if m["subject"] else None,
                     text=" ".join(text.split()))


def _min_n(raw: Any, kpis: Sequence[str], where: str, file: str | None) -> dict[str, int]:
    """``min_n``: one integer for every KPI of the rule, or a table by KPI."""
    def check(v: Any, key: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ConfigError("min_n must be a whole number ≥ 0", file=file,
                              section="coach.rules", key=key)
        return v

    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        for kpi in raw:
            if kpi not in kpis:
                raise ConfigError(f"min_n names '{kpi}', which no condition of the rule uses "
                                  f"(KPIs: {', '.join(kpis)})", file=file,
                                  section="coach.rules", key=f"{where}.min_n")
        return {k: check(v, f"{where}.min_n.{k}") for k, v in raw.items()}
    n = check(raw, f"{where}.min_n")
    return dict.fromkeys(kpis, n)


def _text(spec: Mapping[str, Any], key: str, where: str, file: str | None) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"'{key}' must be a non-empty string", file=file,
                          section="coach.rules", key=f"{where}.{key}")
    return value.strip()


def parse_rule(spec: Any, *, source: str = "built-in", file: str | None = None,
               position: int = 0) -> Rule:
    """Validate one rule table; errors name the file, the rule (its id, else its position)
    and the key."""
    if not isinstance(spec, Mapping):
        raise ConfigError("a rule must be a table with id, title, area and when", file=file,
                          section="coach.rules", key=f"#{position + 1}")
    rid = spec.get("id")
    where = rid if isinstance(rid, str) and rid else f"#{position + 1}"
    for key in spec:
        if key not in _RULE_KEYS:
            raise ConfigError(f"unknown key '{key}' (known: {', '.join(_RULE_KEYS)})",
                              file=file, section="coach.rules", key=f"{where}.{key}")
    if spec.get("enabled") is False and set(spec) <= {"id", "enabled"}:
        return Rule(id=_text(spec, "id", where, file), title="", area="", conditions=(),
                    enabled=False, source=source)
    for key in _REQUIRED:
        if key not in spec:
            raise ConfigError(f"missing '{key}'", file=file, section="coach.rules",
                              key=f"{where}.{key}")
    rule_id = _text(spec, "id", where, file)
    if not _ID.match(rule_id):
        raise ConfigError("id must be lower-case letters, digits and _", file=file,
                          section="coach.rules", key=f"{where}.id")
    when = spec["when"]
    texts = [when] if isinstance(when, str) else when
    if not isinstance(texts, list) or not texts:
        raise ConfigError("'when' must be a condition or a non-empty list of conditions",
                          file=file, section="coach.rules", key=f"{where}.when")
    conditions = tuple(parse_condition(t, where=f"{where}.when", file=file) for t in texts)
    kpis = [c.kpi for c in conditions]
    severity_kpi = spec.get("severity_kpi")
    if severity_kpi is not None and severity_kpi not in kpis:
        raise ConfigError(f"severity_kpi must be one of the rule's KPIs ({', '.join(kpis)})",
                          file=file, section="coach.rules", key=f"{where}.severity_kpi")
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("enabled must be true or false", file=file, section="coach.rules",
                          key=f"{where}.enabled")
    advice = spec.get("advice", "")
    if not isinstance(advice, str):
        raise ConfigError("advice must be a string", file=file, section="coach.rules",
                          key=f"{where}.advice")
    return Rule(id=rule_id, title=_text(spec, "title", where, file),
                area=_text(spec, "area", where, file), conditions=conditions,
                min_n=_min_n(spec.get("min_n"), kpis, where, file),
                severity_kpi=severity_kpi, advice=advice.strip(), enabled=enabled,
                source=source)


def parse_rules(specs: Iterable[Any], *, source: str = "built-in",
                file: str | None = None) -> list[Rule]:
    """Validate a list of rule tables; an id used twice in the list is an error."""
    out: list[Rule] = []
    for i, spec in enumerate(specs):
        rule = parse_rule(spec, source=source, file=file, position=i)
        if any(r.id == rule.id for r in out):
            raise ConfigError(f"rule id '{rule.id}' is used twice", file=file,
                              section="coach.rules", key=f"{rule.id}.id")
        out.append(rule)
    return out


def builtin_rules() -> list[Rule]:
    """The built-in pack (``coaching_rules.toml`` next to this module)."""
    text = resources.files("crmsync.metrics").joinpath("coaching_rules.toml").read_text("utf-8")
    return parse_rules(tomllib.loads(text)["rules"], file="coaching_rules.toml (built-in)")


def merge_rules(layers: Iterable[Sequence[Rule]]) -> list[Rule]:
    """Rules by id, later layers winning (built-in, then plugins, then crmsync.toml). A rule
    that only says ``enabled = false`` switches off the rule of that id, keeping nothing."""
    merged: dict[str, Rule] = {}
    for layer in layers:
        for rule in layer:
            if not rule.conditions and not rule.enabled:
                if rule.id in merged:
                    merged[rule.id] = replace(merged[rule.id], enabled=False)
                continue
            merged[rule.id] = rule
    return [r for r in merged.values() if r.enabled]


def _parse_section(raw: Any, ctx: SectionContext) -> CoachConfig:
    table = ctx.expect(raw, dict, "coach", "coach")
    for key in table:
        if key not in ("builtin", "rules"):
            raise ctx.error(f"unknown key '{key}' (known: builtin, rules)", "coach", key)
    builtin = ctx.expect(table.get("builtin", True), bool, "coach", "builtin")
    rules = ctx.expect(table.get("rules", []), list, "coach", "rules")
    parse_rules(rules, source=ctx.file or "crmsync.toml", file=ctx.file)  # fail early
    return CoachConfig(builtin=builtin, rules=tuple(rules), file=ctx.file)


#: ``[coach]`` (docs/configuration.md#coach): ``COACH.get(config)``.
COACH: Section[CoachConfig] = Section("coach", _parse_section, default=CoachConfig)
