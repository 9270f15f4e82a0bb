"""The web chat page in Chromium, against the real services."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def page(browser, gateway_url):
    context = browser.new_context(locale="nl-BE", base_url=gateway_url)
    page = context.new_page()
    yield page
    context.close()


def test_dutch_browser_gets_a_dutch_page_and_dutch_answers(page):
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "nl"
    page.get_by_label("Uw bericht").fill("Goedendag, mijn kapsalon in Jette heeft schulden")
    page.get_by_role("button", name="Versturen").click()
    bot = page.locator(".msg--bot")
    bot.first.wait_for(timeout=30_000)
    assert bot.first.inner_text().startswith("Hoeveel mensen werken er voor u")
    assert page.locator(".msg--user").first.inner_text().startswith("Goedendag")
    assert dialogs == []


def test_buttons_answer_and_the_page_can_switch_to_french(page):
    page.goto("/")
    page.get_by_label("Uw bericht").fill(
        "mijn bloemenwinkel in Evere verkoopt niets meer, ik werk alleen"
    )
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Geld, schulden, facturen").click()
    page.get_by_role("button", name="Het kan wachten").wait_for(timeout=30_000)
    page.get_by_role("button", name="Het kan wachten").click()
    recap = page.locator(".msg--bot", has_text="Dit heb ik begrepen")
    recap.wait_for(timeout=30_000)
    assert "handel, u werkt alleen, in Evere" in recap.inner_text()
    page.get_by_role("button", name="Français").click()
    page.get_by_role("button", name="Envoyer").wait_for()
    assert page.get_by_label("Votre message").is_visible()
