"""Progress on standard error for sync, compute and export (docs/cli.md, "Progress"): bars
with the total, rate and time left on a terminal; when standard error is not a terminal, a
plain line every few seconds; nothing with ``--json``."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from crmsync.cli import render

__all__ = ["Meter", "Mode", "meter", "mode_for", "sync_progress", "plain_line", "ticking"]

Mode = Literal["bar", "lines", "off"]


def mode_for(as_json: bool) -> Mode:
    """Bars on a terminal, plain lines when standard error is piped, nothing for ``--json``."""
    if as_json:
        return "off"
    return "bar" if sys.stderr.isatty() else "lines"


class _Rate(ProgressColumn):
    """``1,234 rows/s``."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = str(task.fields.get("unit", ""))
        return Text("" if speed is None else f"{speed:,.0f} {unit}/s", style="dim")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def plain_line(label: str, done: int, total: int | None, unit: str, elapsed: float) -> str:
    """``sync demo/deals: 1,200/3,000 rows · 400 rows/s · ETA 0:00:05``."""
    rate = done / elapsed if elapsed > 0 else None
    count = f"{done:,}/{total:,}" if total is not None else f"{done:,}"
    line = f"{label}: {count} {unit}"
    if rate:
        line += f" · {rate:,.0f} {unit}/s"
    if total is not None:
        line += f" · ETA {_eta((total - done) / rate if rate else None)}"
    return line


@dataclass
class _Track:
    label: str
    total: int | None
    unit: str
    started: float
    done: int = 0


@dataclass
class Meter:
    """Tasks ``key → (label, done, total, unit)`` shown as bars or plain lines."""

    mode: Mode
    console: Console = field(default_factory=lambda: render.console(stderr=True))
    interval: float = 5.0
    clock: Callable[[], float] = time.monotonic
    tracks: dict[str, _Track] = field(default_factory=dict)
    bar: Progress | None = None
    ids: dict[str, TaskID] = field(default_factory=dict)
    last_line: float = 0.0

    def start(self) -> None:
        self.last_line = self.clock()
        if self.mode == "bar":
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=12),
                                MofNCompleteColumn(), _Rate(), TimeRemainingColumn(),
                                TimeElapsedColumn(), console=self.console)
            self.bar.start()

    def update(self, key: str, label: str, done: int, total: int | None, unit: str) -> None:
        """Task ``key`` has done ``done`` of ``total`` ``unit``."""
        if self.mode == "off":
            return
        track = self.tracks.setdefault(key, _Track(label, total, unit, self.clock()))
        track.done, track.total = done, total
        if self.bar is not None:
            if key not in self.ids:
                self.ids[key] = self.bar.add_task(label, total=total, unit=unit)
            self.bar.update(self.ids[key], completed=done, total=total)
        elif self.clock() - self.last_line >= self.interval:
            self.last_line = self.clock()
            self.console.print(self.line(track), markup=False, highlight=False)

    def line(self, track: _Track) -> str:
        return plain_line(track.label, track.done, track.total, track.unit,
                          self.clock() - track.started)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextmanager
def meter(mode: Mode, interval: float = 5.0) -> Iterator[Meter]:
    """A started :class:`Meter`, stopped afterwards."""
    m = Meter(mode, interval=interval)
    m.start()
    try:
        yield m
    finally:
        m.stop()


def sync_progress(m: Meter, entities: Sequence[tuple[str, str]]
                  ) -> Callable[[str, str, int], None]:
    """A sync's ``ProgressCallback``: rows per entity, and entities done of ``entities``."""
    seen: list[tuple[str, str]] = []

    def update(connection: str, entity: str, rows: int) -> None:
        if (connection, entity) not in seen:
            seen.append((connection, entity))
            m.update("sync", "sync", len(seen) - 1, len(entities) or None, "entities")
        m.update(f"{connection}/{entity}", f"  {connection}/{entity}", rows, None, "rows")

    return update


@contextmanager
def ticking(mode: Mode, label: str, interval: float = 5.0) -> Iterator[None]:
    """For work that reports no progress of its own (``metrics compute``): a spinner with the
    elapsed time on a terminal; a ``label: still working, 0:00:10`` line every ``interval``
    seconds when piped; nothing with ``--json``."""
    if mode == "off":
        yield
        return
    if mode == "bar":
        with Progress(TextColumn("{task.description}"), BarColumn(bar_width=12),
                      TimeElapsedColumn(), console=render.console(stderr=True)) as bar:
            bar.add_task(label, total=None)
            yield
        return
    done = threading.Event()
    started = time.monotonic()
    out = render.console(stderr=True)

    def tick() -> None:
        while not done.wait(interval):
            out.print(f"{label}: still working, {_eta(time.monotonic() - started)}",
                      markup=False, highlight=False)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
