"""What the benchmarks' child processes share: the real ``crmsync sync`` and a peak RSS that
is the child's own.

``ru_maxrss`` survives ``execve`` on Linux, so a child started from a large parent would report
the parent's peak; ``VmHWM`` in ``/proc/self/status`` belongs to this address space only.
"""

from __future__ import annotations

import resource

__all__ = ["status_kib", "peak_rss_kib", "report_rss", "run_cli_sync"]


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
