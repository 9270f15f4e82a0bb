"""The coordinators' report in the inbox: GET /inbox/report and GET /inbox/report.csv.

Coordinators only (anyone else gets a 404, as for the audit log); every access is written to
the audit log. The figures come from bot.gateway.report, already protected. Charts are SVG drawn
here on the server, with their numbers also in a table: no script and no style attribute, so
the inbox's strict Content-Security-Policy holds.

No `from __future__ import annotations`: FastAPI must see the dependencies declared inside
report_router as real types, not as strings it cannot resolve.
"""

import math
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway import auth
from bot.gateway.inbox import page_texts, remembered_language, templates
from bot.gateway.report import (
    BRUSSELS,
    HIDDEN,
    SHARES,
    SMALL,
    SUPPRESSED,
    Cell,
    Figure,
    Report,
    Share,
    Week,
    build_report,
    default_period,
    label,
    period_error,
    to_csv,
    week_label,
)
from bot.gateway.store.models import AuditEntry
from bot.gateway.texts import text
from bot.settings import Settings

# Bar charts: each category's words on one or more lines, its bar underneath, the count after.
BAR_CHART_WIDTH = 560
BAR_SPACE = 480  # the longest bar; the rest of the width is for its count
LINE = 17
BAR_HEIGHT = 16
GAP = 12
WRAP = 64  # characters per line of a category's words
# The weekly chart: two columns a week (conversations, handoffs) over a y axis.
WEEK_CHART_WIDTH = 960
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 48, 950, 12, 200
WEEK_CHART_HEIGHT = 228
WEEK_LABELS = 13  # at most this many dates under the x axis
SERIES = ("conversations", "handoffs")


def kind(figure: Figure) -> str:
    """How a figure is drawn: exact, suppressed (1 to 4) or hidden (secondary suppression)."""
    if isinstance(figure, int):
        return "exact"
    return "suppressed" if figure == SUPPRESSED else "hidden"


def drawn(figure: Figure) -> int:
    """The height a figure is drawn to: a "< 5" is an outline up to 5, a hidden one nothing."""
    return figure if isinstance(figure, int) else SMALL if figure == SUPPRESSED else 0


@dataclass(frozen=True)
class Bar:
    label: str
    lines: tuple[tuple[int, str], ...]  # (baseline y, words) of the label
    value: str
    kind: str
    y: int
    width: float
    value_x: float
    value_y: int


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    bar_height: int = BAR_HEIGHT


def describe(pairs: list[tuple[str, str]], language: str) -> str:
    """The chart's figures in one line, for screen readers (the <desc> of the SVG)."""
    return "; ".join(text("inbox_report_pair", language, label=k, value=v) for k, v in pairs)


def bar_chart(section: str, cells: tuple[Cell, ...], language: str) -> BarChart:
    """One horizontal bar per category, scaled on the largest count shown (at least 5)."""
    top = max([c.value for c in cells if isinstance(c.value, int)] + [SMALL])
    bars, y = [], 0
    for cell in cells:
        words = label(section, cell.key, language)
        lines = textwrap.wrap(words, WRAP) or [words]
        bar_y = y + len(lines) * LINE + 2
        width = round(BAR_SPACE * drawn(cell.value) / top, 1)
        bars.append(
            Bar(
                label=words,
                lines=tuple((y + (i + 1) * LINE - 4, line) for i, line in enumerate(lines)),
                value=str(cell.value),
                kind=kind(cell.value),
                y=bar_y,
                width=width,
                value_x=width + 6,
                value_y=bar_y + BAR_HEIGHT - 3,
            )
        )
        y = bar_y + BAR_HEIGHT + GAP
    title = text(f"inbox_report_{section}", language)
    return BarChart(
        id=section.replace("_", "-"),
        title=title,
        description=describe([(b.label, b.value) for b in bars], language),
        bars=tuple(bars),
        width=BAR_CHART_WIDTH,
        height=max(y - GAP, LINE),
    )


def nice_scale(largest: int) -> tuple[int, int]:
    """An axis top >= largest and a round step (1, 2 or 5 times a power of ten), <= 5 steps."""
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            if step * 5 >= largest:
                return step * math.ceil(largest / step), step
        magnitude *= 10


@dataclass(frozen=True)
class Column:
    series: str
    kind: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class WeekChart:
    title: str
    description: str
    columns: tuple[Column, ...]
    hidden: tuple[float, ...]  # x of each hidden figure: an "x" on the axis
    ticks: tuple[tuple[float, int], ...]  # (y, value) of each horizontal grid line
    dates: tuple[tuple[float, str], ...]  # (x, dd/mm) under the axis
    width: int = WEEK_CHART_WIDTH
    height: int = WEEK_CHART_HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    plot_bottom: int = PLOT_BOTTOM


def week_chart(weeks: tuple[Week, ...], language: str) -> WeekChart:
    """Conversations and handoffs side by side for every week of the period."""
    figures = [getattr(w, s) for w in weeks for s in SERIES]
    top, step = nice_scale(max([drawn(f) for f in figures] + [SMALL]))
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(weeks)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    names = {s: text(f"inbox_report_{s}", language) for s in SERIES}
    columns, hidden = [], []
    for i, week in enumerate(weeks):
        for j, series in enumerate(SERIES):
            figure = getattr(week, series)
            # In each week's slot: a 10 % margin, conversations, a 4 % gap, handoffs.
            x = round(PLOT_LEFT + slot * (i + 0.1 + 0.42 * j), 1)
            width = round(slot * 0.38, 1)
            height = round(plot_height * drawn(figure) / top, 1)
            pair = text("inbox_report_pair", language, label=names[series], value=figure)
            columns.append(
                Column(
                    series=series,
                    kind=kind(figure),
                    x=x,
                    y=PLOT_BOTTOM - height,
                    width=width,
                    height=height,
                    title=f"{week_label(week, language)} — {pair}",
                )
            )
            if figure == HIDDEN:
                hidden.append(round(x + width / 2, 1))
    every = math.ceil(len(weeks) / WEEK_LABELS)
    title = text("inbox_report_weekly", language)
    return WeekChart(
        title=title,
        description=describe(
            [
                (week_label(w, language), ", ".join(f"{names[s]} {getattr(w, s)}" for s in SERIES))
                for w in weeks
            ],
            language,
        ),
        columns=tuple(columns),
        hidden=tuple(hidden),
        ticks=tuple(
            (round(PLOT_BOTTOM - plot_height * v / top, 1), v) for v in range(0, top + 1, step)
        ),
        dates=tuple(
            (round(PLOT_LEFT + slot * (i + 0.5), 1), w.monday.strftime("%d/%m"))
            for i, w in enumerate(weeks)
            if i % every == 0
        ),
    )


def percent(figure: Share, language: str) -> str:
    if figure.percent is None:
        return text("inbox_report_too_few", language)
    return text("inbox_report_percent", language, value=figure.percent)


def page_context(report: Report, language: str) -> dict[str, Any]:
    """What report.html draws: key figures, the weekly chart, a bar chart per breakdown."""
    charts = {
        section: bar_chart(section, cells, language) for section, cells in report.breakdowns.items()
    }
    return {
        "report": report,
        "period": text(
            "inbox_report_period",
            language,
            start=report.start.strftime("%d/%m/%Y"),
            end=report.end.strftime("%d/%m/%Y"),
        ),
        "shares": [
            (name, percent(getattr(report, name), language), getattr(report, name))
            for name in SHARES
        ],
        "weekly": week_chart(report.weeks, language),
        "weeks": [(week_label(w, language), w) for w in report.weeks],
        "conversation_charts": [c for s, c in charts.items() if s.startswith("conversations_")],
        "handoff_charts": [c for s, c in charts.items() if s.startswith("handoffs_")],
    }


def requested_period(
    start: str | None, end: str | None, today: date
) -> tuple[date, date, str | None]:
    """The period asked for (either end defaults to the last 12 weeks'), and what is wrong."""
    default_start, default_end = default_period(today)
    try:
        first = date.fromisoformat(start) if start else default_start
        last = date.fromisoformat(end) if end else default_end
    except ValueError:
        return default_start, default_end, "date"
    return first, last, period_error(first, last)


def report_router(settings: Settings, sessions: sessionmaker[Session]) -> APIRouter:
    """The report's page and CSV, under /inbox (settings: the same signature as the others)."""
    router = APIRouter(prefix="/inbox", include_in_schema=False)
    guard = auth.Auth(sessions)

    def coordinator(
        viewer: Annotated[auth.SignedIn, Depends(guard.current_counsellor)],
    ) -> auth.SignedIn:
        """Signed in (else the login page) and a coordinator (else 404, as if it did not exist)."""
        if not viewer.is_coordinator:
            raise HTTPException(status_code=404)
        return viewer

    Coordinator = Annotated[auth.SignedIn, Depends(coordinator)]
    From = Annotated[str | None, Query(alias="from", max_length=32)]
    To = Annotated[str | None, Query(alias="to", max_length=32)]

    def page_language(viewer: Coordinator, lang: str | None = None) -> str:
        return remembered_language(sessions, viewer, lang)

    def audited_report(viewer: auth.SignedIn, start: date, end: date, error: str | None):
        """Every access is audited, even one refused for its period; figures only if valid."""
        with sessions() as session:
            session.add(AuditEntry(counsellor_id=viewer.id, action="report"))
            session.commit()
            return None if error else build_report(session, start, end)

    @router.get("/report", response_class=HTMLResponse)
    def report_page(
        request: Request,
        viewer: Coordinator,
        language: Annotated[str, Depends(page_language)],
        start: From = None,
        end: To = None,
    ) -> HTMLResponse:
        first, last, error = requested_period(start, end, datetime.now(BRUSSELS).date())
        report = audited_report(viewer, first, last, error)
        response = templates.TemplateResponse(
            request,
            "inbox/report.html",
            {
                "lang": language,
                "other": "nl" if language == "fr" else "fr",
                "t": page_texts(language),
                "viewer": viewer,
                "start": first.isoformat(),
                "end": last.isoformat(),
                "error": error,
                **(page_context(report, language) if report else {}),
            },
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @router.get("/report.csv")
    def report_csv(viewer: Coordinator, start: From = None, end: To = None) -> Response:
        """The same figures in long format; a byte-order mark so spreadsheets read UTF-8."""
        first, last, error = requested_period(start, end, datetime.now(BRUSSELS).date())
        report = audited_report(viewer, first, last, error)
        if report is None:
            raise HTTPException(
                status_code=400, detail=text(f"inbox_report_error_{error}", viewer.language)
            )
        return Response(
            "\ufeff" + to_csv(report, viewer.language),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="relais-report-{first}-{last}.csv"',
                "Cache-Control": "no-store",
            },
        )

    return router
