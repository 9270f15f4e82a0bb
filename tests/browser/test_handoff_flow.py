"""The heart of the mission in Chromium: a person in distress reaches a counsellor and back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long passphrase for the tests"


@pytest.fixture(scope="module")
def counsellor(stack):
    """An Un pass dans l'impasse counsellor, created with the admin command line."""
    env = {
        **os.environ,
        "RELAIS_DATABASE_URL": stack.settings.database,
        "RELAIS_NEW_PASSWORD": PASSWORD,
    }
    subprocess.run(
        [sys.executable, "-m", "bot.gateway.admin", "create-user", "--username", "lea",
         "--name", "Léa", "--partner", "un_pass", "--role", "counsellor", "--language", "fr"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return "lea"


def test_distress_handoff_counsellor_reply_and_back_to_the_bot(browser, gateway_url, counsellor):
    inbox = browser.new_context(locale="fr-BE", base_url=gateway_url).new_page()
    person = browser.new_context(locale="fr-BE", base_url=gateway_url).new_page()
    dialogs = []
    for page in (inbox, person):
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))

    inbox.goto("/inbox/login")
    inbox.get_by_label("Identifiant").fill(counsellor)
    inbox.get_by_label("Mot de passe").fill(PASSWORD)
    inbox.get_by_role("button", name="Se connecter").click()
    inbox.get_by_role("heading", level=1).wait_for()

    person.goto("/")
    person.get_by_label("Votre message").fill(
        "Je n'en peux plus, mon resto à Ixelles coule et je ne dors plus depuis des semaines"
    )
    person.get_by_role("button", name="Envoyer").click()
    person.get_by_role("button", name="Parler à quelqu'un").click(timeout=30_000)
    consent = person.locator(".msg--bot", has_text="Êtes-vous d'accord ?")
    consent.wait_for(timeout=30_000)
    assert "Un pass dans l'impasse" in consent.inner_text()
    person.get_by_role("button", name="Oui, d'accord").click()
    answer = person.locator(".msg--bot", has_text="Votre référence")
    answer.wait_for(timeout=30_000)
    reference = re.search(r"BXL-\d{4}-\d{6}", answer.inner_text()).group()
    person.locator(".msg--bot", has_text="va vous répondre ici").wait_for()

    # The queue updates live: the new handoff appears without a reload, at the top.
    first_row = inbox.locator("table.queue tbody tr").first
    first_row.get_by_role("link", name=reference).wait_for(timeout=15_000)
    first_row.get_by_role("link", name=reference).click()
    summary = inbox.locator("main")
    inbox.locator(".summary__text", has_text="Transmis à cause de la détresse exprimée.").wait_for()
    assert "Ixelles" in summary.inner_text() and "je n'en peux plus" in summary.inner_text().lower()
    inbox.screenshot(path=str(ROOT / "docs" / "inbox-handoff.png"), full_page=True)

    inbox.get_by_role("button", name="Prendre en charge").click()
    person.get_by_text("Vous parlez maintenant avec Léa").wait_for(timeout=15_000)
    assert person.get_by_text("Vous parlez maintenant avec un conseiller").is_visible()
    inbox.get_by_label(re.compile("Votre réponse")).fill(
        "Bonjour, je suis Léa. Je suis là, on peut parler maintenant."
    )
    inbox.get_by_role("button", name="Envoyer").click()
    reply = person.locator(".msg--counsellor", has_text="je suis Léa")
    reply.wait_for(timeout=15_000)

    person.get_by_label("Votre message").fill("merci, ça fait du bien")
    person.get_by_role("button", name="Envoyer").click()
    inbox.locator(".transcript", has_text="ça fait du bien").wait_for(timeout=15_000)
    assert person.locator(".msg--bot", has_text="ça fait du bien").count() == 0

    inbox.get_by_role("button", name="Rendre la conversation au bot").click()
    person.get_by_text("de nouveau en conversation avec Relais").wait_for(timeout=15_000)
    bots_before = person.locator(".msg--bot").count()
    person.get_by_label("Votre message").fill("c'est quoi le prêt proxi ?")
    person.get_by_role("button", name="Envoyer").click()
    person.locator(".msg--bot", has_text="Proxi").wait_for(timeout=30_000)
    assert person.locator(".msg--bot").count() > bots_before, "the bot answers again"
    assert not person.get_by_text("Vous parlez maintenant avec un conseiller").is_visible()
    assert dialogs == []
