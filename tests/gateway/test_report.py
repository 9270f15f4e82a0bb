"""The coordinators' report: every figure of a known set of conversations and handoffs, the
suppression of small counts, the period's limits, the command line, and who may see it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.inbox import inbox_router
from bot.gateway.report import (
    BRUSSELS,
    HIDDEN,
    SUPPRESSED,
    Share,
    build_report,
    protect,
    share,
    to_csv,
    to_json,
)
from bot.gateway.report_pages import report_router
from bot.gateway.store.models import AuditEntry, Conversation, Handoff

ROOT = Path(__file__).resolve().parents[2]
X, S = HIDDEN, SUPPRESSED
START, END = date(2026, 1, 5), date(2026, 2, 1)  # ISO weeks 2 to 5 of 2026


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A Brussels wall-clock time as the store keeps it (naive UTC)."""
    local = datetime(year, month, day, hour, minute, tzinfo=BRUSSELS)
    return local.astimezone(UTC).replace(tzinfo=None)


def spread(**counts: int) -> list[Any]:
    """["a", "a", "b"] from a=2, b=1: one value per row, in order; none_ is nothing stored."""
    return [None if value == "none_" else value for value, n in counts.items() for _ in range(n)]


# 38 conversations in the period: 12 in week 2 (the first at 00:30 on its first day), none in
# week 3, 20 in week 4, 6 in week 5 (the last at 23:30 on its last day).
TIMES = (
    [utc(2026, 1, 5, 0, 30)]
    + [utc(2026, 1, 5 + k % 7, 10, k) for k in range(1, 12)]
    + [utc(2026, 1, 19 + k % 7, 14, k) for k in range(20)]
    + [utc(2026, 1, 26 + k, 9) for k in range(5)]
    + [utc(2026, 2, 1, 23, 30)]
)
CHANNELS = spread(web=25, telegram=10, whatsapp=3)
LANGUAGES = spread(fr=26, nl=12)
SECTORS = spread(horeca=14, retail=10, culture_events=6, services=4, crafts_construction=2, none_=2)
WORKERS = [0] * 8 + [1, 2, 3, 4, 5] * 4 + [1, 5] + [6, 12, 20] + [None] * 5
PLACES = (
    [("ixelles", "brussels")] * 10
    + [("bruxelles", "brussels")] * 9
    + [("schaerbeek", "brussels")] * 6
    + [("anderlecht", "brussels")] * 3
    + [("molenbeek", "brussels")]
    + [("liege", "wallonia"), ("5000", "wallonia"), ("gent", "flanders")]
    + [(None, "brussels"), ("atlantis", None)]
    + [(None, None)] * 4
)
DISTRESS = spread(none=20, moderate=8, high=6, critical=2, none_=2)
NEED_SPANS = {  # need: the conversations (by index) that have it
    "finance": range(0, 25),
    "insolvency": range(0, 4),
    "coaching": range(4, 7),
    "other": range(7, 8),
    "rent": range(20, 29),
    "psychological": range(28, 35),
}  # conversations 35 to 37 said no need

# 16 handoffs in the period: 5 in week 2 (the first 30 seconds after it starts), none in week
# 3, 8 in week 4, 3 in week 5 (the last at 23:59 on its last day). The last one belongs to a
# conversation that started before the period.
HANDOFF_TIMES = (
    [datetime(2026, 1, 4, 23, 0, 30)]
    + [utc(2026, 1, 7, 9 + k) for k in range(4)]
    + [utc(2026, 1, 20 + k % 5, 15) for k in range(8)]
    + [utc(2026, 1, 27), utc(2026, 1, 28), utc(2026, 2, 1, 23, 59)]
)
PARTNERS = spread(ced=8, hub_brussels=5, gel_anderlecht=3)
STATES = (
    [("queued", None)] * 4
    + [("claimed", None)] * 2
    + [("closed", "helped")] * 5
    + [("closed", "redirected")] * 3
    + [("closed", "unreachable")] * 2
)
REASONS = spread(asked=9, distress=5, contact=2)
CALLBACKS = ["+32 470 00 00 00"] * 6 + [None] * 10

# Just outside the period, on both sides: Brussels midnight is 23:00 UTC in winter.
OUTSIDE_CONVERSATIONS = [utc(2026, 1, 4, 23, 30), utc(2026, 2, 2, 0, 0), utc(2025, 12, 20)]
OUTSIDE_PROFILE = {
    "channel": "web",
    "language": "nl",
    "sector": "retail",
    "workers": 3,
    "commune": "ixelles",
    "region": "brussels",
    "needs": ["rent"],
    "distress_level": "critical",
}
OUTSIDE_HANDOFFS = [utc(2026, 1, 4, 23, 59), utc(2026, 2, 2, 0, 0)]


def seed(sessions: sessionmaker[Session]) -> None:
    """The known set: 38 conversations and 16 handoffs in the period, a few around it."""
    with sessions() as session:
        conversations = []
        for i, when in enumerate(TIMES):
            commune, region = PLACES[i]
            needs = [need for need, span in NEED_SPANS.items() if i in span]
            conversations.append(
                Conversation(
                    id=f"{CHANNELS[i]}:report{i:03d}",
                    channel=CHANNELS[i],
                    language=LANGUAGES[i],
                    sector=SECTORS[i],
                    workers=WORKERS[i],
                    commune=commune,
                    region=region,
                    # A need said twice counts once; an empty list is "no need said".
                    needs=needs + needs[:1] if i == 0 else needs,
                    distress_level=DISTRESS[i],
                    created_at=when,
                )
            )
        conversations += [
            Conversation(id=f"web:outside{i}", created_at=when, **OUTSIDE_PROFILE)
            for i, when in enumerate(OUTSIDE_CONVERSATIONS)
        ]
        session.add_all(conversations)
        owners = [*conversations[:15], conversations[38]]  # the last: before the period
        rows = zip(HANDOFF_TIMES, PARTNERS, STATES, REASONS, CALLBACKS, owners, strict=True)
        for i, (when, partner, (status, outcome), reason, phone, owner) in enumerate(rows):
            session.add(handoff(i, owner, when, partner, reason, status, outcome, phone))
        for i, when in enumerate(OUTSIDE_HANDOFFS):
            owner = conversations[20 + i]  # conversations of the period: only the time counts
            session.add(handoff(100 + i, owner, when, "ced", "asked", "queued", None, None))
        session.commit()


def handoff(
    n: int,
    conversation: Conversation,
    when: datetime,
    partner: str,
    reason: str,
    status: str,
    outcome: str | None,
    phone: str | None,
) -> Handoff:
    return Handoff(
        reference=f"BXL-2026-{n:06d}",
        conversation=conversation,
        sequence=n + 1,
        partner_id=partner,
        reason=reason,
        priority=4,
        status=status,
        outcome=outcome,
        summary={},
        transcript=[],
        callback_phone=phone,
        callback_slot="morning" if phone else None,
        created_at=when,
        closed_at=when if status == "closed" else None,
    )


EXPECTED_BREAKDOWNS = {
    "conversations_by_sector": [
        ("horeca", 14), ("retail", 10), ("culture_events", 6),
        ("crafts_construction", S), ("services", S), ("other", 0), ("unknown", S),
    ],
    "conversations_by_need": [
        ("finance", 25), ("rent", 9), ("psychological", 7),
        ("coaching", S), ("insolvency", S), ("other", S),
        ("creation", 0), ("digital", 0), ("social_economy", 0), ("unknown", S),
    ],
    # One size class under 5 next to exact ones: the smallest other (unknown, 5) is hidden.
    "conversations_by_size": [("0", 8), ("1-5", 22), ("6-20", S), ("21+", 0), ("unknown", X)],
    "conversations_by_place": [
        ("ixelles", 10), ("bruxelles", 9), ("schaerbeek", 6),
        ("anderlecht", S), ("flanders", S), ("molenbeek", S), ("wallonia", S), ("unknown", 6),
    ],
    "conversations_by_channel": [("web", 25), ("telegram", X), ("whatsapp", S)],
    "conversations_by_language": [("fr", 26), ("nl", 12)],
    "conversations_by_distress": [
        ("none", 20), ("moderate", 8), ("high", 6), ("critical", S), ("unknown", S),
    ],
    "handoffs_by_partner": [("ced", 8), ("hub_brussels", X), ("gel_anderlecht", S)],
    "handoffs_by_outcome": [
        ("open", 6), ("helped", 5), ("redirected", S), ("unreachable", S),
        ("no_need", 0), ("other", 0),
    ],
    "handoffs_by_reason": [("asked", 9), ("distress", X), ("contact", S), ("fallback", 0)],
}  # fmt: skip
EXPECTED_WEEKS = [
    ("2026-W02", date(2026, 1, 5), 12, X),
    ("2026-W03", date(2026, 1, 12), 0, 0),
    ("2026-W04", date(2026, 1, 19), 20, 8),
    ("2026-W05", date(2026, 1, 26), 6, S),
]


@pytest.fixture
def seeded(sessions) -> sessionmaker[Session]:
    seed(sessions)
    return sessions


@pytest.fixture
def app(settings, sessions) -> FastAPI:
    """The inbox with the report's routes, as the gateway mounts them."""
    app = FastAPI()
    app.include_router(inbox_router(settings, sessions))
    app.include_router(report_router(settings, sessions))
    return app


def report_of(sessions: sessionmaker[Session], start: date = START, end: date = END):
    with sessions() as session:
        return build_report(session, start, end)


def test_every_figure_of_the_known_set(seeded):
    report = report_of(seeded)

    assert (report.start, report.end) == (START, END)
    assert (report.conversations, report.handoffs) == (38, 16)
    assert {
        section: [(c.key, c.value) for c in cells] for section, cells in report.breakdowns.items()
    } == EXPECTED_BREAKDOWNS
    assert [(w.key, w.monday, w.conversations, w.handoffs) for w in report.weeks] == EXPECTED_WEEKS
    # 30 of the 33 firms of known size have at most 5 workers (90.9 %), but only 3 have more:
    # a bound, not the exact share; the base (38 - 5 unknown) would reveal the hidden cell.
    assert report.small_firms == Share("> 84", X)
    assert report.callbacks == Share(38, 16)  # 6 of 16 asked for a phone call: 37.5 %


def test_the_period_is_inclusive_in_brussels_days(seeded):
    """Brussels midnight is 23:00 UTC in winter: what happened then belongs to the next day."""
    day_before = report_of(seeded, date(2026, 1, 4), date(2026, 1, 4))
    assert (day_before.conversations, day_before.handoffs) == (S, S)  # one each, 23:30 and 23:59
    day_after = report_of(seeded, date(2026, 2, 2), date(2026, 2, 2))
    assert (day_after.conversations, day_after.handoffs) == (S, S)  # one each, at 00:00
    first_day = report_of(seeded, START, START)
    assert (first_day.conversations, first_day.handoffs) == (S, S)  # 2 and 1
    everything = report_of(seeded, date(2025, 12, 1), date(2026, 2, 28))
    assert (everything.conversations, everything.handoffs) == (41, 18)
    empty = report_of(seeded, date(2026, 1, 12), date(2026, 1, 18))
    assert (empty.conversations, empty.handoffs) == (0, 0)
    assert [(w.key, w.conversations, w.handoffs) for w in empty.weeks] == [("2026-W03", 0, 0)]
    assert empty.small_firms == empty.callbacks == Share(None, 0)


def test_small_counts_and_shares_are_protected():
    assert protect([0, 1, 4, 5], partition=False) == [0, S, S, 5]
    assert protect([9, 3, 7, 0], partition=True) == [9, S, X, 0]
    assert protect([9, 3, 2], partition=True) == [9, S, S]  # two unknowns: each stays hidden
    assert share(3, 4) == Share(None, S)  # base under 5
    assert share(3, 7) == Share(None, 7)  # fewer than 5 on both sides
    assert share(2, 20) == Share("< 25", 20)
    assert share(18, 20) == Share("> 75", 20)
    assert share(0, 12) == Share(0, 12)
    assert share(12, 12) == Share(100, 12)
    assert share(5, 8) == Share("> 37", 8)  # 62.5 %, but only 3 on the other side
    assert share(5, 10) == Share(50, 10)


def published(value: Any) -> list[Any]:
    """Every leaf of a JSON document."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in published(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in published(item)]
    return [value]


def run_cli(settings, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.gateway.report", *arguments],
        cwd=ROOT,
        env={**os.environ, "RELAIS_DATABASE_URL": settings.database},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_command_line_json(settings, seeded):
    period = ("--from", "2026-01-05", "--to", "2026-02-01")
    done = run_cli(settings, *period, "--format", "json", "--language", "nl")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["period"] == {"from": "2026-01-05", "to": "2026-02-01"}
    assert document["totals"] == {"conversations": 38, "handoffs": 16}
    assert document["shares"] == {
        "small_firms": {"percent": "> 84", "base": X},
        "callbacks": {"percent": 38, "base": 16},
    }
    breakdowns = document["breakdowns"]
    assert {
        section: [(c["key"], c["value"]) for c in cells] for section, cells in breakdowns.items()
    } == EXPECTED_BREAKDOWNS
    labels = {c["key"]: c["label"] for c in breakdowns["conversations_by_place"]}
    assert labels["ixelles"] == "Elsene" and labels["wallonia"] == "buiten het Gewest: Wallonië"
    assert breakdowns["handoffs_by_partner"][0]["label"].startswith("Centrum voor Ondernemingen")
    weeks = [(w["week"], w["monday"], w["conversations"], w["handoffs"]) for w in document["weeks"]]
    assert weeks == [(key, day.isoformat(), c, h) for key, day, c, h in EXPECTED_WEEKS]
    counts = [v for v in published(document) if isinstance(v, int) and not isinstance(v, bool)]
    assert not [v for v in counts if 0 < v < 5]  # no small count anywhere


def test_command_line_csv_is_the_long_format_of_the_same_figures(settings, seeded):
    done = run_cli(settings, "--from", "2026-01-05", "--to", "2026-02-01", "--format", "csv")
    assert done.returncode == 0, done.stderr
    lines = list(csv.reader(io.StringIO(done.stdout)))
    assert lines[0] == ["section", "category", "label", "value"]
    rows = {(section, category): (label, value) for section, category, label, value in lines[1:]}
    assert rows["period", "from"][1] == "2026-01-05"
    assert rows["totals", "conversations"] == ("Conversations", "38")
    assert rows["shares", "small_firms_percent"][1] == "> 84"
    assert rows["shares", "small_firms_base"][1] == "x"
    assert rows["shares", "callbacks_percent"][1] == "38"
    assert rows["conversations_by_sector", "culture_events"] == ("culture et événements", "6")
    assert rows["conversations_by_place", "molenbeek"] == ("Molenbeek-Saint-Jean", "< 5")
    assert rows["conversations_by_size", "unknown"] == ("non précisé", "x")
    assert rows["handoffs_by_outcome", "open"] == ("en cours", "6")
    assert rows["handoffs_by_week", "2026-W05"] == ("semaine du 26/01/2026", "< 5")
    assert rows["conversations_by_week", "2026-W03"] == ("semaine du 12/01/2026", "0")
    assert not [v for (_, v) in rows.values() if v in {"1", "2", "3", "4"}]
    # The JSON and the CSV say the same.
    document = to_json(report_of(seeded), "fr")
    for section, cells in document["breakdowns"].items():
        for cell in cells:
            assert rows[section, cell["key"]] == (cell["label"], str(cell["value"]))


def test_command_line_refuses_a_reversed_period(settings, sessions):
    done = run_cli(settings, "--from", "2026-02-01", "--to", "2026-01-01")
    assert done.returncode == 2 and "--from is after --to" in done.stderr and not done.stdout


def test_only_coordinators_see_the_report(login_as, app):
    anonymous, anna = TestClient(app), login_as("anna")
    for path in ("/inbox/report", "/inbox/report.csv"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/inbox/login"
        assert anna.get(path).status_code == 404
    assert "/inbox/report" not in anna.get("/inbox").text
    assert 'href="/inbox/report"' in login_as("cora").get("/inbox").text


def report_audits(sessions: sessionmaker[Session]) -> list[tuple[int | None, int | None]]:
    with sessions() as session:
        return list(
            session.execute(
                select(AuditEntry.counsellor_id, AuditEntry.handoff_id).where(
                    AuditEntry.action == "report"
                )
            )
        )


def test_the_page_draws_the_figures_and_is_audited(seeded, login_as, accounts):
    cora = login_as("cora")
    page = cora.get("/inbox/report", params={"from": "2026-01-05", "to": "2026-02-01"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Rapport des coordinateurs" in html and "Du 05/01/2026 au 01/02/2026" in html
    assert html.count("<svg") == 11  # the weekly chart and one per breakdown
    assert '<desc id="conversations-by-sector-desc">horeca : 14; commerce : 10;' in html
    assert '<th scope="row">Molenbeek-Saint-Jean</th><td>&lt; 5</td>' in html
    assert '<th scope="row">non précisé</th><td>x</td>' in html  # the hidden size class
    assert "&gt; 84 %" in html and "38 %" in html
    assert 'href="/inbox/report.csv?from=2026-01-05&amp;to=2026-02-01"' in html
    assert " style=" not in html and "<script>" not in html  # the CSP allows neither
    assert report_audits(seeded) == [(accounts["cora"], None)]

    dutch = cora.get(
        "/inbox/report", params={"from": "2026-01-05", "to": "2026-02-01", "lang": "nl"}
    )
    assert "Gesprekken per sector" in dutch.text and "Elsene" in dutch.text
    assert len(report_audits(seeded)) == 2


def test_the_csv_route_downloads_the_same_figures(seeded, login_as):
    cora = login_as("cora")
    answer = cora.get("/inbox/report.csv", params={"from": "2026-01-05", "to": "2026-02-01"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="relais-report-2026-01-05-2026-02-01.csv"'
    )
    assert answer.text == "\ufeff" + to_csv(report_of(seeded), "fr")
    assert len(report_audits(seeded)) == 1


def test_a_wrong_period_is_explained_not_reported(seeded, login_as):
    cora = login_as("cora")
    page = cora.get("/inbox/report", params={"from": "2026-02-01", "to": "2026-01-05"})
    assert "La date de début est après la date de fin." in page.text and "<svg" not in page.text
    page = cora.get("/inbox/report", params={"from": "hier", "to": "2026-01-05"})
    assert "Une date n&#39;est pas valable" in page.text
    page = cora.get("/inbox/report", params={"from": "2020-01-01", "to": "2026-01-05"})
    assert "La période dépasse trois ans" in page.text
    answer = cora.get("/inbox/report.csv", params={"from": "2026-02-01", "to": "2026-01-05"})
    assert answer.status_code == 400
    assert len(report_audits(seeded)) == 4  # refused accesses are audited too


def test_the_default_period_is_the_last_twelve_weeks(seeded, login_as):
    page = login_as("cora").get("/inbox/report")
    assert page.status_code == 200 and page.text.count("<svg") == 11
    today = datetime.now(BRUSSELS).date()
    assert f'name="to" value="{today.isoformat()}"' in page.text
