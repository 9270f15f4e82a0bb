"""The coordinators' report: conversations and handoffs over a period, counted from the store.

Every figure is computed from the stored conversations (their triage profile) and handoffs each
time it is asked for, never kept in a counter that could drift. Only protected aggregates leave
this module (docs/report.md says why each rule is there):

- primary suppression: any count from 1 to 4 is published as "< 5", everywhere;
- secondary suppression: a breakdown whose cells add up to a published total (all of them but
  the needs, where a conversation counts once per need) never shows a single "< 5" cell among
  exact ones, or the total minus the others would reveal it: the smallest other cell is then
  published as "x" too;
- a share is published only on a base of at least 5, as a whole percent, and only as a bound
  ("< 25", "> 84") when fewer than 5 cases are on one side of it.

Command line, for the database of RELAIS_DATABASE_URL (migrated first), on stdout:
python -m bot.gateway.report --from 2026-01-01 --to 2026-12-31 --format csv|json [--language nl]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.gateway.inbox import OUTCOMES, partner_name
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import Conversation, Handoff
from bot.gateway.texts import LANGUAGES, all_texts, text
from bot.intake.extract import place_by_id
from bot.intake.lexicon import load
from bot.safety import LEVELS
from bot.settings import get_settings

BRUSSELS = ZoneInfo("Europe/Brussels")
SMALL = 5  # counts from 1 to SMALL - 1 are never published
SUPPRESSED = "< 5"
HIDDEN = "x"
Figure = int | str  # an exact count, SUPPRESSED or HIDDEN
UNKNOWN = "unknown"
MAX_DAYS = 3 * 366  # beyond that the weekly chart is unreadable: ask for several reports
DEFAULT_WEEKS = 12

SIZE_CLASSES = ("0", "1-5", "6-20", "21+")
CHANNELS = ("web", "telegram", "whatsapp")
REASONS = ("asked", "distress", "contact", "fallback")
OUTSIDE_REGIONS = ("wallonia", "flanders")
SHARES = ("small_firms", "callbacks")
HEADER = ("section", "category", "label", "value")


@dataclass(frozen=True)
class Cell:
    """One published category of a breakdown."""

    key: str
    value: Figure


@dataclass(frozen=True)
class Week:
    """One ISO week of the period (cut at the period's ends), with what started in it."""

    key: str  # 2026-W03
    monday: date
    conversations: Figure
    handoffs: Figure


@dataclass(frozen=True)
class Share:
    """A published percentage: whole, a bound such as "< 25", or None (too few to publish)."""

    percent: Figure | None
    base: Figure


@dataclass(frozen=True)
class Report:
    """What the page, the CSV and the JSON show: it holds no unprotected count at all."""

    start: date
    end: date
    conversations: Figure
    handoffs: Figure
    breakdowns: dict[str, tuple[Cell, ...]]  # section -> cells, in the order they are shown
    weeks: tuple[Week, ...]
    small_firms: Share  # at most 5 workers, among the conversations whose size is known
    callbacks: Share  # handoffs where the person asked to be called back, among all handoffs


def publish(count: int) -> Figure:
    return SUPPRESSED if 0 < count < SMALL else count


def protect(counts: Sequence[int], partition: bool) -> list[Figure]:
    """The published figures of a breakdown's cells; `partition`: they add up to the total."""
    figures = [publish(count) for count in counts]
    suppressed = [i for i, count in enumerate(counts) if 0 < count < SMALL]
    exact = [i for i, count in enumerate(counts) if count >= SMALL]
    # Without any exact cell the total is under 5 too, and published as "< 5".
    if partition and len(suppressed) == 1 and exact:
        figures[min(exact, key=lambda i: counts[i])] = HIDDEN
    return figures


def share(part: int, base: int, base_shown: Figure | None = None) -> Share:
    """part/base as a whole percent, bounded when fewer than 5 are on one side of it."""
    shown = publish(base) if base_shown is None else base_shown
    rest = base - part
    if base < SMALL or (0 < part < SMALL and 0 < rest < SMALL):
        return Share(None, shown)
    if 0 < part < SMALL:
        return Share(f"< {math.ceil(100 * SMALL / base)}", shown)
    if 0 < rest < SMALL:
        return Share(f"> {math.floor(100 - 100 * SMALL / base)}", shown)
    return Share(math.floor(100 * part / base + 0.5), shown)


def _rank(cell: Cell) -> tuple[int, int, str]:
    """Largest exact counts first, then hidden, suppressed and empty cells by key: the order
    must not tell apart counts that are not published."""
    if isinstance(cell.value, int) and cell.value > 0:
        return 0, -cell.value, cell.key
    return {HIDDEN: 1, SUPPRESSED: 2}.get(cell.value, 3), 0, cell.key


def breakdown(
    counts: Counter[str], known: Iterable[str], partition: bool = True, by_count: bool = False
) -> tuple[Cell, ...]:
    """The known categories (even empty), then any other value found, then the unknown."""
    keys = list(known)
    keys += sorted(key for key in counts if key not in keys and key != UNKNOWN)
    if counts[UNKNOWN]:
        keys.append(UNKNOWN)
    figures = protect([counts[key] for key in keys], partition)
    cells = [Cell(key, figure) for key, figure in zip(keys, figures, strict=True)]
    if by_count:
        cells = sorted((c for c in cells if c.key != UNKNOWN), key=_rank) + [
            c for c in cells if c.key == UNKNOWN
        ]
    return tuple(cells)


def size_class(workers: int | None) -> str:
    if workers is None:
        return UNKNOWN
    if workers == 0:
        return "0"
    return "1-5" if workers <= 5 else "6-20" if workers <= 20 else "21+"


def brussels_communes() -> list[str]:
    return [commune["id"] for commune in load("communes")["brussels"]]


def place(commune: str | None, region: str | None) -> str:
    """A Brussels commune by id; a place outside the Region only by its region."""
    if commune in brussels_communes():
        return commune
    return region if region in OUTSIDE_REGIONS else UNKNOWN


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """From start 00:00 to the day after end 00:00, Brussels time, as the store's naive UTC."""

    def utc(day: date) -> datetime:
        return datetime.combine(day, time.min, BRUSSELS).astimezone(UTC).replace(tzinfo=None)

    return utc(start), utc(end + timedelta(days=1))


def local_day(moment: datetime) -> date:
    return moment.replace(tzinfo=UTC).astimezone(BRUSSELS).date()


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def default_period(today: date) -> tuple[date, date]:
    """The last 12 ISO weeks, the current one included."""
    return monday(today) - timedelta(weeks=DEFAULT_WEEKS - 1), today


def period_error(start: date, end: date) -> str | None:
    """Why a period cannot be reported ("order", "long"), or None."""
    if start > end:
        return "order"
    if (end - start).days >= MAX_DAYS:
        return "long"
    return None


def _weeks(
    start: date, end: date, conversations: Sequence[Any], handoffs: Sequence[Any]
) -> tuple[Week, ...]:
    """Every ISO week of the period, empty ones included; each column protected on its own."""
    first = monday(start)
    mondays = [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]
    keys = [week_key(day) for day in mondays]

    def column(rows: Sequence[Any]) -> list[Figure]:
        counts = Counter(week_key(local_day(row.created_at)) for row in rows)
        return protect([counts[key] for key in keys], partition=True)

    columns = zip(keys, mondays, column(conversations), column(handoffs), strict=True)
    return tuple(Week(*values) for values in columns)


def build_report(session: Session, start: date, end: date) -> Report:
    """The conversations and handoffs created from start to end, inclusive Brussels days."""
    low, high = utc_bounds(start, end)
    conversations = session.execute(
        select(
            Conversation.created_at,
            Conversation.channel,
            Conversation.language,
            Conversation.sector,
            Conversation.workers,
            Conversation.commune,
            Conversation.region,
            Conversation.needs,
            Conversation.distress_level,
        ).where(Conversation.created_at >= low, Conversation.created_at < high)
    ).all()
    handoffs = session.execute(
        select(
            Handoff.created_at,
            Handoff.partner_id,
            Handoff.status,
            Handoff.outcome,
            Handoff.reason,
            Handoff.callback_phone.is_not(None).label("callback"),
        ).where(Handoff.created_at >= low, Handoff.created_at < high)
    ).all()

    labels = load("labels")
    sizes = Counter(size_class(c.workers) for c in conversations)
    needs = Counter(
        need for c in conversations for need in (sorted(set(map(str, c.needs or []))) or [UNKNOWN])
    )
    outcomes = Counter("open" if h.status != "closed" else h.outcome or UNKNOWN for h in handoffs)
    breakdowns = {
        "conversations_by_sector": breakdown(
            Counter(c.sector or UNKNOWN for c in conversations), labels["sectors"], by_count=True
        ),
        "conversations_by_need": breakdown(needs, labels["needs"], partition=False, by_count=True),
        "conversations_by_size": breakdown(sizes, SIZE_CLASSES),
        "conversations_by_place": breakdown(
            Counter(place(c.commune, c.region) for c in conversations), (), by_count=True
        ),
        "conversations_by_channel": breakdown(Counter(c.channel for c in conversations), CHANNELS),
        "conversations_by_language": breakdown(
            Counter(c.language or UNKNOWN for c in conversations), LANGUAGES
        ),
        "conversations_by_distress": breakdown(
            Counter(c.distress_level or UNKNOWN for c in conversations), LEVELS
        ),
        "handoffs_by_partner": breakdown(
            Counter(h.partner_id for h in handoffs), (), by_count=True
        ),
        "handoffs_by_outcome": breakdown(outcomes, ("open", *OUTCOMES)),
        "handoffs_by_reason": breakdown(Counter(h.reason for h in handoffs), REASONS),
    }
    # The base of the size share is the total minus the unknown sizes: hidden when they are.
    unknown_size = {c.key: c.value for c in breakdowns["conversations_by_size"]}.get(UNKNOWN)
    return Report(
        start=start,
        end=end,
        conversations=publish(len(conversations)),
        handoffs=publish(len(handoffs)),
        breakdowns=breakdowns,
        weeks=_weeks(start, end, conversations, handoffs),
        small_firms=share(
            sizes["0"] + sizes["1-5"],
            len(conversations) - sizes[UNKNOWN],
            None if unknown_size is None or isinstance(unknown_size, int) else HIDDEN,
        ),
        callbacks=share(sum(h.callback for h in handoffs), len(handoffs)),
    )


def _from_labels(group: str) -> Callable[[str, str], str]:
    return lambda key, language: load("labels")[group].get(key, {}).get(language, key)


def _from_texts(*prefixes: str) -> Callable[[str, str], str]:
    def label(key: str, language: str) -> str:
        found = next((p + key for p in prefixes if p + key in all_texts()), None)
        return text(found, language) if found else key

    return label


def _place_label(key: str, language: str) -> str:
    commune = place_by_id(key) if key in brussels_communes() else None
    return commune.name(language) if commune else _from_texts("inbox_report_region_")(key, language)


LABELS: dict[str, Callable[[str, str], str]] = {
    "conversations_by_sector": _from_labels("sectors"),
    "conversations_by_need": _from_labels("needs"),
    "conversations_by_size": _from_texts("inbox_report_size_"),
    "conversations_by_place": _place_label,
    "conversations_by_channel": _from_texts("inbox_report_channel_"),
    "conversations_by_language": _from_texts("inbox_report_language_"),
    "conversations_by_distress": _from_texts("inbox_report_distress_"),
    "handoffs_by_partner": partner_name,
    "handoffs_by_outcome": _from_texts("inbox_report_outcome_", "inbox_outcome_"),
    "handoffs_by_reason": _from_texts("inbox_report_reason_"),
}


def label(section: str, key: str, language: str) -> str:
    """A category in words, in one language; an unexpected value as it is stored."""
    if key == UNKNOWN:
        return load("labels")["unknown"][language]
    return LABELS[section](key, language)


def week_label(week: Week, language: str) -> str:
    return text("inbox_report_week", language, monday=week.monday.strftime("%d/%m/%Y"))


def rows(report: Report, language: str) -> list[tuple[str, str, str, Figure | None]]:
    """The whole report in long format: (section, category, label, value)."""

    def words(key: str) -> str:
        return text(f"inbox_report_{key}", language)

    found: list[tuple[str, str, str, Figure | None]] = [
        ("period", "from", words("from"), report.start.isoformat()),
        ("period", "to", words("to"), report.end.isoformat()),
        ("totals", "conversations", words("conversations"), report.conversations),
        ("totals", "handoffs", words("handoffs"), report.handoffs),
    ]
    for name in SHARES:
        figure: Share = getattr(report, name)
        found.append(("shares", f"{name}_percent", words(f"{name}_percent"), figure.percent))
        found.append(("shares", f"{name}_base", words(f"{name}_base"), figure.base))
    for section, cells in report.breakdowns.items():
        found += [(section, c.key, label(section, c.key, language), c.value) for c in cells]
    for column in ("conversations", "handoffs"):
        found += [
            (f"{column}_by_week", w.key, week_label(w, language), getattr(w, column))
            for w in report.weeks
        ]
    return found


def _safe(value: str) -> str:
    """No spreadsheet formula in a cell (a category comes from the database)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


def to_csv(report: Report, language: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for section, category, words, value in rows(report, language):
        writer.writerow((section, _safe(category), _safe(words), "" if value is None else value))
    return out.getvalue()


def to_json(report: Report, language: str) -> dict[str, Any]:
    return {
        "period": {"from": report.start.isoformat(), "to": report.end.isoformat()},
        "language": language,
        "suppression": {"below": SMALL, "suppressed": SUPPRESSED, "hidden": HIDDEN},
        "totals": {"conversations": report.conversations, "handoffs": report.handoffs},
        "shares": {name: asdict(getattr(report, name)) for name in SHARES},
        "breakdowns": {
            section: [
                {"key": c.key, "label": label(section, c.key, language), "value": c.value}
                for c in cells
            ]
            for section, cells in report.breakdowns.items()
        },
        "weeks": [
            {
                "week": w.key,
                "monday": w.monday.isoformat(),
                "conversations": w.conversations,
                "handoffs": w.handoffs,
            }
            for w in report.weeks
        ],
    }


PERIOD_ERRORS = {
    "order": "--from is after --to",
    "long": f"the period is longer than {MAX_DAYS} days: ask for several reports",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.gateway.report",
        description="The coordinators' report (aggregates only) on stdout.",
    )
    start, end = default_period(datetime.now(BRUSSELS).date())
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default=start)
    parser.add_argument("--to", dest="end", type=date.fromisoformat, default=end)
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--language", choices=LANGUAGES, default="fr")
    args = parser.parse_args(argv)
    if error := period_error(args.start, args.end):
        parser.error(PERIOD_ERRORS[error])

    database = get_settings().database
    migrate(database)
    engine = make_engine(database)
    try:
        with session_factory(engine)() as session:
            report = build_report(session, args.start, args.end)
    finally:
        engine.dispose()
    if args.format == "json":
        json.dump(to_json(report, args.language), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(to_csv(report, args.language))
    return 0


if __name__ == "__main__":
    sys.exit(main())
