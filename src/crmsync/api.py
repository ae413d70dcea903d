"""The run API: what the CLI, the dashboard, the scheduler and programs call.

A thin re-export of :mod:`crmsync.orchestration` (docs/architecture.md): each function lives in
the module that owns its job. Import from here in programs; nothing in crmsync below the
interfaces imports this module.
"""

from __future__ import annotations

from crmsync.orchestration.admin import (
    export,
    init_config,
    load_config,
    serve_schedule,
    show_config,
    upgrade,
)
from crmsync.orchestration.coaching import coach, coaching_findings, coaching_rules
from crmsync.orchestration.coaching_writeback import write_coaching as coach_writeback
from crmsync.orchestration.connections import (
    CheckResult,
    check,
    connect,
    open_store,
    redactor_for,
)
from crmsync.orchestration.demo import DemoResult, demo
from crmsync.orchestration.forecast import forecast
from crmsync.orchestration.forecast_accuracy import forecast_accuracy
from crmsync.orchestration.pipeline_changes import pipeline_changes
from crmsync.orchestration.reading import metric_report, metric_values, status
from crmsync.orchestration.runs import compute_metrics, compute_standard_metrics, sync
from crmsync.orchestration.scorecards import scorecard
from crmsync.orchestration.snapshots import (
    SnapshotResult,
    compute_as_of,
    compute_standard_as_of,
    record_snapshots,
    snapshot_report,
)
from crmsync.orchestration.themes import analyse_texts, text_analyser, theme_taxonomy, themes
from crmsync.orchestration.trends import metric_trends, why_changed
from crmsync.orchestration.writeback import apply as writeback_apply
from crmsync.orchestration.writeback import plan as writeback_plan
from crmsync.orchestration.writeback import run

__all__ = [
    "load_config", "open_store", "connect", "redactor_for", "check", "sync", "compute_metrics",
    "compute_standard_metrics", "metric_values", "metric_report", "status", "export",
    "upgrade", "show_config", "init_config", "demo", "DemoResult", "serve_schedule",
    "CheckResult", "writeback_plan", "writeback_apply", "run", "scorecard",
    "coach", "coaching_findings", "coaching_rules", "coach_writeback",
    "metric_trends", "why_changed",
    "pipeline_changes",
    "themes", "analyse_texts", "text_analyser", "theme_taxonomy",
    "forecast", "forecast_accuracy",
    "compute_as_of", "compute_standard_as_of", "record_snapshots", "snapshot_report",
    "SnapshotResult",
]
