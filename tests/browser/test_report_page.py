"""The coordinators' report in Chromium: the charts render, small counts read "< 5", nothing
complains, and docs/report.png shows what a coordinator sees."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.gateway.inbox import inbox_router
from bot.gateway.report_pages import report_router
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.launch import free_port
from bot.settings import get_settings
from tests.gateway.conftest import PASSWORD, add_counsellor
from tests.gateway.test_report import seed

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage

pytestmark = [pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "bot" / "gateway" / "static"


@pytest.fixture(scope="module")
def inbox_url(tmp_path_factory) -> Iterator[str]:
    """The inbox and its report (no engine, no channels) on a free port, on a seeded database."""
    var = tmp_path_factory.mktemp("report")
    settings = dataclasses.replace(
        get_settings(),
        var_dir=var,
        database_url=f"sqlite:///{var / 'gateway.db'}",
        cookie_secure=False,
    )
    migrate(settings.database)
    engine = make_engine(settings.database)
    sessions = session_factory(engine)
    seed(sessions)
    add_counsellor(sessions, "cora", None, role="coordinator")
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(inbox_router(settings, sessions))
    app.include_router(report_router(settings, sessions))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the inbox did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def console_error(message: ConsoleMessage) -> list[str]:
    """An error of the page; the browser's own request for a favicon (the gateway has none)
    is not one."""
    if message.type != "error" or message.location.get("url", "").endswith("/favicon.ico"):
        return []
    return [f"{message.text} ({message.location.get('url')})"]


def test_a_coordinator_reads_the_report_at_a_glance(browser, inbox_url):
    context = browser.new_context(
        locale="fr-BE", base_url=inbox_url, viewport={"width": 1200, "height": 900}
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.extend(console_error(message)))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))

    page.goto("/inbox/login")
    page.get_by_label("Identifiant").fill("cora")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Rapport").click()
    page.get_by_role("heading", level=1, name="Rapport des coordinateurs").wait_for()

    page.get_by_label("Du", exact=True).fill("2026-01-05")
    page.get_by_label("Au (inclus)", exact=True).fill("2026-02-01")
    page.get_by_role("button", name="Afficher").click()
    page.get_by_text("Du 05/01/2026 au 01/02/2026 inclus").wait_for()

    charts = page.locator("main svg[role=img]")
    assert charts.count() == 11
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 40  # drawn, not collapsed
    sector = page.get_by_role("img", name="Conversations par secteur")
    assert sector.locator("rect.chart__bar--exact").count() == 3  # horeca, commerce, culture
    assert sector.locator("text", has_text="< 5").count() == 3
    channel = page.locator(
        "figure", has=page.get_by_role("heading", name="Conversations par canal")
    )
    assert channel.locator("text.chart__value").all_text_contents() == ["25", "x", "< 5"]
    weekly = page.get_by_role("img", name="Par semaine")
    assert weekly.locator("rect.chart__col").count() == 5  # 3 + 2 weeks drawn, 1 hidden, 1 empty
    # Bars are in proportion: horeca (14) is 14/6 as long as culture (6).
    widths = [b.bounding_box()["width"] for b in sector.locator("rect.chart__bar--exact").all()]
    assert widths[0] / widths[2] == pytest.approx(14 / 6, rel=0.02)
    assert page.locator(".report-card__figure").all_inner_texts() == ["38", "16", "> 84 %", "38 %"]

    page.screenshot(path=str(ROOT / "docs" / "report.png"), full_page=True)
    assert problems == []
    context.close()
