"""The demo CRM's two sales pipelines and their stages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["Stage", "Pipeline", "NEW_BUSINESS", "RENEWALS", "PIPELINES",
           "pipeline_records", "stage_records"]


@dataclass(frozen=True)
class Stage:
    """One stage of a pipeline."""

    remote_id: str
    label: str
    display_order: int
    probability: float
    forecast_category: str
    is_closed: bool = False
    is_won: bool = False


@dataclass(frozen=True)
class Pipeline:
    """A pipeline: its open stages in order, then Closed Won and Closed Lost."""

    remote_id: str
    label: str
    display_order: int
    is_default: bool
    open_stages: tuple[Stage, ...]
    won: Stage
    lost: Stage

    @property
    def stages(self) -> tuple[Stage, ...]:
        """All stages in display order."""
        return (*self.open_stages, self.won, self.lost)


def _pipeline(remote_id: str, label: str, order: int, is_default: bool, prefix: str,
              open_stages: tuple[tuple[str, float, str], ...]) -> Pipeline:
    stages = tuple(Stage(f"{prefix}{n:02d}", name, n, p, category)
                   for n, (name, p, category) in enumerate(open_stages, 1))
    n = len(stages)
    return Pipeline(
        remote_id, label, order, is_default, stages,
        won=Stage(f"{prefix}{n + 1:02d}", "Closed Won", n + 1, 1.0, "Closed", True, True),
        lost=Stage(f"{prefix}{n + 2:02d}", "Closed Lost", n + 2, 0.0, "Omitted", True, False),
    )


NEW_BUSINESS = _pipeline("P1", "New Business", 1, True, "S1", (
    ("Discovery", 0.1, "Pipeline"),
    ("Qualification", 0.2, "Pipeline"),
    ("Solution Demo", 0.4, "Pipeline"),
    ("Proposal", 0.6, "Best Case"),
    ("Negotiation", 0.8, "Commit"),
    ("Contract Sent", 0.9, "Commit"),
))

RENEWALS = _pipeline("P2", "Renewals/Expansion", 2, False, "S2", (
    ("Identified", 0.3, "Pipeline"),
    ("Proposal", 0.6, "Best Case"),
    ("Negotiation", 0.8, "Commit"),
    ("Verbal Commit", 0.9, "Commit"),
))

PIPELINES = (NEW_BUSINESS, RENEWALS)


def pipeline_records(configured_at: dt.datetime) -> list[dict[str, Any]]:
    """The ``pipelines`` records; ``configured_at`` is when the CRM admin set them up."""
    return [{
        "remote_id": p.remote_id,
        "remote_created_at": configured_at,
        "remote_updated_at": configured_at,
        "label": p.label,
        "display_order": p.display_order,
        "is_default": p.is_default,
    } for p in PIPELINES]


def stage_records(configured_at: dt.datetime) -> list[dict[str, Any]]:
    """The ``stages`` records of every pipeline, in display order."""
    return [{
        "remote_id": s.remote_id,
        "remote_created_at": configured_at,
        "remote_updated_at": configured_at,
        "pipeline_id": p.remote_id,
        "label": s.label,
        "display_order": s.display_order,
        "probability": s.probability,
        "is_closed": s.is_closed,
        "is_won": s.is_won,
        "forecast_category": s.forecast_category,
    } for p in PIPELINES for s in p.stages]
