"""``crmsync dashboard`` and ``crmsync report --html`` (docs/cli.md, docs/dashboard.md)."""

from __future__ import annotations

import datetime as dt

import click

from crmsync.cli.names import check_rep, check_team
from crmsync.cli.state import State, emit_json, pass_state, say
from crmsync.dashboard.filters import PERIODS

__all__ = ["dashboard", "report"]


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _as_of_moved(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``dashboard --as-of``: its old meaning is ``--today``; "as of" is a page filter."""
    if value is not None:
        raise click.BadParameter(
            "the dashboard's pages take the as-of date as a filter (the filter bar, "
            f"?as_of={value} in the URL); --today DATE sets the day the current period "
            "contains")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --auth-token or --no-auth.")
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open it in the web browser.")
@click.option("--auth-token", envvar="CRMSYNC_DASHBOARD_TOKEN",
              help="Require this token (Authorization: Bearer TOKEN, or ?token=TOKEN once).")
@click.option("--no-auth", is_flag=True, help="Serve a non-loopback address without a token.")
@click.option("--today", callback=_date, help="The day the current period contains "
              "(YYYY-MM-DD; default today).")
@click.option("--as-of", callback=_as_of_moved, hidden=True, expose_value=False)
@pass_state
def dashboard(state: State, host: str, port: int, open_browser: bool, auth_token: str | None,
              no_auth: bool, today: dt.date | None) -> None:
    """Serve the live, read-only sales dashboard over the store."""
    from crmsync.dashboard.serve import serve  # imported on use: web stack

    serve(state.config, state.registry, host=host, port=port,
                        auth_token=auth_token, no_auth=no_auth, open_browser=open_browser,
                        as_of=today)


@click.command()
@click.option("--html", "path", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")
@click.option("--period", type=click.Choice(PERIODS),
              help="Period granularity (default: [metrics] period, if computed).")
@click.option("--as-of", callback=_date, help="Show the figures as they read at the end "
              "of DATE (YYYY-MM-DD): the values `metrics compute --as-of DATE` stored.")
@click.option("--today", callback=_date, help="The day the current period contains "
              "(YYYY-MM-DD; default --as-of, else today).")
@click.option("--team", help="Only this team (its page and its reps' pages).")
@click.option("--rep", help="Only this rep (remote id): their page and their team's.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def report(state: State, path: str, period: str | None, as_of: dt.date | None,
           today: dt.date | None, team: str | None, rep: str | None, as_json: bool) -> None:
    """Write the dashboard as ONE self-contained HTML file that opens offline."""
    if team is not None:
        team = check_team(state.config, team)
    if rep is not None:
        rep = check_rep(state.config, rep)
    if not as_json:
        say(f"writing the report{f' as of {as_of}' if as_of else ''} to {path}…")
    from crmsync.dashboard.report import write_report  # imported on use: web stack

    result = write_report(state.config, state.registry, path, period=period, as_of=today,
                          values_as_of=as_of, team=team, rep=rep)
    if as_json:
        emit_json({"path": str(result.path), "bytes": result.size,
                   "sections": result.sections, "seconds": round(result.seconds, 3)})
        return
    click.echo(f"wrote {result.path} ({result.size / 1e6:.1f} MB, {result.sections} "
               f"sections)")
