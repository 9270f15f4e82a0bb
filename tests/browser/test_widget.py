"""The embeddable widget on a partner's page (/demo), in Chromium, against the real services."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.gateway import relay
from bot.gateway.store.models import Conversation

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def phone(browser, gateway_url):
    """A small phone screen (360 px wide), French."""
    context = browser.new_context(
        locale="fr-BE", base_url=gateway_url, viewport={"width": 360, "height": 740}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(dialog.message))
    yield page, errors
    context.close()


def test_embedded_conversation_with_buttons_reload_resume_and_a_counsellor(phone, gateway_db):
    page, errors = phone
    page.goto("/demo")
    launcher = page.get_by_role("button", name="Besoin d'aide ? Écrivez-nous")
    # Keyboard only: Tab reaches the launcher, Enter opens, the text field has the focus.
    launcher.focus()
    page.keyboard.press("Enter")
    box = page.get_by_label("Votre message")
    box.wait_for()
    assert launcher.get_attribute("aria-expanded") == "true"
    page.keyboard.type("Ma librairie à Etterbeek a des factures impayées, je suis seule")
    page.keyboard.press("Enter")
    urgent = page.get_by_role("button", name="Aujourd'hui")
    urgent.wait_for(timeout=30_000)
    # The host page's loud styles (30 px yellow buttons) do not reach into the widget.
    assert urgent.evaluate("b => getComputedStyle(b).fontSize") == "16px"
    panel = page.locator("#relais-panel")
    assert panel.bounding_box()["width"] <= 360
    urgent.click()
    page.get_by_role("button", name="Plus de détails").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ROOT / "docs" / "widget.png"))
    page.get_by_role("button", name="Plus de détails").first.click()
    page.locator(".msg--bot", has_text="Informations vérifiées le").wait_for(timeout=30_000)

    # Reload: the conversation is still there, the panel still open.
    shown = page.locator(".msg").count()
    page.reload()
    page.locator(".msg--bot", has_text="Informations vérifiées le").wait_for(timeout=15_000)
    assert page.locator(".msg").count() >= shown

    # A counsellor takes over and writes: the person sees it in the widget.
    with gateway_db() as session:
        conversation = session.scalars(
            select(Conversation).order_by(Conversation.last_message_at.desc())
        ).first()
        conversation.mode = "human"
        relay.send_to_person(
            session, conversation, "Bonjour, ici Anna du CEd. Je lis votre demande."
        )
        session.commit()
    page.locator(".msg--counsellor", has_text="ici Anna du CEd").wait_for(timeout=15_000)
    assert page.get_by_text("Vous parlez maintenant avec un conseiller").is_visible()
    page.keyboard.press("Escape")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert errors == []
