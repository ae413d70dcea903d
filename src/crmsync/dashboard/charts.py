"""Plotly figures built server-side as plain dicts (plotly.js draws them; docs/dashboard.md).

Charts only draw stored values already shown with their ``data-*`` attributes in a table or
card next to them; nothing is computed in the browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["sparkline", "lines", "bars", "band", "waterfall", "Series", "stacked_with_marks"]

_LAYOUT: dict[str, Any] = {"margin": {"l": 48, "r": 12, "t": 28, "b": 40},
                           "font": {"family": "system-ui, sans-serif", "size": 12},
                           "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                           "legend": {"orientation": "h", "y": -0.2}}
_CONFIG = {"displaylogo": False, "responsive": True,
           "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}
#: Value axis format per unit (d3-format, as plotly reads it).
_TICKS = {"ratio": ".0%", "currency": ",.0f", "days": ",.1f", "minutes": ",.0f",
          "score": ",.1f", "count": ",.0f"}

Series = tuple[str, Sequence[str], Sequence[float | None]]


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "layout": {**_LAYOUT, **layout}, "config": _CONFIG}


def sparkline(starts: Sequence[str], values: Sequence[float | None],
              partial: Sequence[bool], title: str) -> dict[str, Any]:
    """A small line of the last periods; a partial (unfinished) period is an open marker."""
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "x": list(starts),
                  "y": list(values), "name": title, "hoverinfo": "x+y",
                  "line": {"width": 2, "color": "#2563eb"},
                  "marker": {"size": [8 if p else 5 for p in partial],
                             "symbol": ["circle-open" if p else "circle" for p in partial],
                             "color": "#2563eb"}}],
        "layout": {"margin": {"l": 2, "r": 2, "t": 2, "b": 2}, "height": 48,
                   "xaxis": {"visible": False}, "yaxis": {"visible": False},
                   "showlegend": False, "paper_bgcolor": "rgba(0,0,0,0)",
                   "plot_bgcolor": "rgba(0,0,0,0)"},
        "config": {"staticPlot": True, "responsive": True, "displayModeBar": False},
    }


def band(x: Sequence[str], low: Sequence[float | None], high: Sequence[float | None],
         name: str = "usual range (trailing 4)") -> list[dict[str, Any]]:
    """A shaded band between ``low`` and ``high`` over ``x`` (two traces: the lower edge,
    then the upper one filled down to it)."""
    edge = {"type": "scatter", "mode": "lines", "x": list(x), "hoverinfo": "skip",
            "line": {"width": 0, "color": "rgba(37,99,235,0.25)"}, "connectgaps": False}
    return [{**edge, "y": list(low), "name": f"{name} low", "showlegend": False},
            {**edge, "y": list(high), "name": name, "fill": "tonexty",
             "fillcolor": "rgba(37,99,235,0.12)"}]


def lines(series: Sequence[Series], unit: str, title: str, *,
          target: float | Series | None = None,
          behind: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One line per series over period starts, with a dashed target line if given (one
    number, or a series when the target differs by period); ``behind``: traces drawn
    first (a baseline band)."""
    data: list[dict[str, Any]] = [*behind, *(
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": list(x), "y": list(y)}
        for name, x, y in series)]
    xs = sorted({v for _, x, _ in series for v in x})
    if isinstance(target, tuple):
        data.append({"type": "scatter", "mode": "lines", "name": target[0],
                     "x": list(target[1]), "y": list(target[2]),
                     "line": {"dash": "dash", "color": "#b91c1c"}})
    elif target is not None and xs:
        data.append({"type": "scatter", "mode": "lines", "name": "target",
                     "x": [xs[0], xs[-1]], "y": [target, target],
                     "line": {"dash": "dash", "color": "#b91c1c"}})
    return _figure(data, {"title": {"text": title}, "height": 380,
                          "yaxis": {"tickformat": _TICKS.get(unit, ","), "automargin": True},
                          "xaxis": {"type": "category", "categoryorder": "category ascending"}})


def bars(series: Sequence[Series], unit: str, title: str, *, horizontal: bool = False,
         stacked: bool = False, target: float | None = None, height: int = 360,
         periods: bool = False) -> dict[str, Any]:
    """Grouped (or stacked) bars; a dashed target line if given; ``periods``: the categories
    are period labels, shown in order."""
    data: list[dict[str, Any]] = []
    for name, x, y in series:
        trace: dict[str, Any] = {"type": "bar", "name": name}
        if horizontal:
            trace.update(orientation="h", y=list(x), x=list(y))
        else:
            trace.update(x=list(x), y=list(y))
        data.append(trace)
    layout: dict[str, Any] = {"title": {"text": title}, "height": height,
                              "barmode": "stack" if stacked else "group"}
    axis = {"tickformat": _TICKS.get(unit, ","), "automargin": True}
    if horizontal:
        layout.update(xaxis=axis, yaxis={"automargin": True, "type": "category",
                                         "autorange": "reversed"})
    else:
        layout.update(yaxis=axis, xaxis={"type": "category", "automargin": True,
                                         "categoryorder": "category ascending"
                                         if periods else "trace"})
    if target is not None:
        line: dict[str, Any] = {"type": "line", "line": {"dash": "dash", "color": "#b91c1c"},
                "xref": "x" if horizontal else "paper", "yref": "paper" if horizontal else "y"}
        if horizontal:
            line.update(x0=target, x1=target, y0=0, y1=1)
        else:
            line.update(x0=0, x1=1, y0=target, y1=target)
        layout["shapes"] = [line]
    return _figure(data, layout)


def waterfall(labels: Sequence[str], values: Sequence[float], title: str) -> dict[str, Any]:
    """A waterfall: the first value a total bar, each next one a step up or down, and the
    last the closing total (plotly's ``waterfall`` trace: ``absolute``, ``relative``…,
    ``total``)."""
    measure = ["absolute", *(["relative"] * (len(values) - 2)), "total"]
    trace = {"type": "waterfall", "x": list(labels), "y": list(values), "measure": measure,
             "name": title, "connector": {"line": {"color": "#94a3b8"}},
             "increasing": {"marker": {"color": "#15803d"}},
             "decreasing": {"marker": {"color": "#b91c1c"}},
             "totals": {"marker": {"color": "#2563eb"}},
             "hovertemplate": "%{x}: %{y:,.2f}<extra></extra>"}
    return _figure([trace], {"title": {"text": title}, "height": 400, "showlegend": False,
                             "yaxis": {"tickformat": _TICKS["currency"], "automargin": True},
                             "xaxis": {"type": "category", "automargin": True}})


def stacked_with_marks(series: Sequence[Series], marks: Series, unit: str, title: str, *,
                       height: int = 360) -> dict[str, Any]:
    """Stacked bars per category with one mark per category (e.g. each rep's quota) drawn
    as a dash across its bar; a category without a mark (``None``) has none."""
    figure = bars(series, unit, title, stacked=True, height=height)
    name, x, y = marks
    figure["data"].append({"type": "scatter", "mode": "markers", "name": name, "x": list(x),
                           "y": list(y), "marker": {"symbol": "line-ew-open", "size": 60,
                                                    "line": {"width": 3, "color": "#b91c1c"}}})
    return figure
