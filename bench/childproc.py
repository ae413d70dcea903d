"""What the benchmarks' child processes share: the real ``crmsync sync`` and a peak RSS that
is the child's own.

``ru_maxrss`` survives ``execve`` on Linux, so a child started from a large parent would report
the parent's peak; ``VmHWM`` in ``/proc/self/status`` belongs to this address space only.

Children start as an installed crmsync does: with its modules' bytecode written once
(:func:`compile_crmsync`), as ``pip install`` and any first run leave it. Where
``PYTHONDONTWRITEBYTECODE`` is set and crmsync is installed in editable mode, every start would
otherwise compile crmsync's sources again (about 0.2 s on the benches' machine,
``docs/performance.md``).
"""

from __future__ import annotations

import compileall
import os
import resource
from pathlib import Path

__all__ = ["status_kib", "peak_rss_kib", "report_rss", "run_cli_sync", "compile_crmsync"]

ROOT = Path(__file__).resolve().parent.parent


def status_kib(key: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmHWM``, ``VmRSS``…); 0 when absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for row in f:
                if row.startswith(key + ":"):
                    return int(row.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kib() -> int:
    """This process's own peak RSS (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    return status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def report_rss() -> None:
    """Print the ``PEAK_RSS_KIB=`` line the parent reads as the child's last line."""
    print(f"PEAK_RSS_KIB={peak_rss_kib()}")


def run_cli_sync(config: str) -> None:
    """``crmsync --config CONFIG sync --json`` in this process; a failed sync raises."""
    from crmsync.cli import main

    try:
        main(["--config", config, "sync", "--json"])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise


def compile_crmsync() -> str:
    """Write the bytecode of crmsync's modules (``src/`` and the built-in ``plugins/``) next
    to them, as Python's first import does unless ``PYTHONDONTWRITEBYTECODE`` is set; the
    line the benches print about it."""
    ok = all(compileall.compile_dir(str(ROOT / d), quiet=1) for d in ("src", "plugins"))
    if not ok:
        raise SystemExit("compiling crmsync's modules failed (see above)")
    unset = "" if os.environ.get("PYTHONDONTWRITEBYTECODE") else " (the interpreter's default)"
    return f"children start with crmsync's bytecode written{unset}, as an installed crmsync does"
