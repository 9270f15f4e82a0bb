"""Erasure through the real services, and no personal data in any log."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text

from bot.gateway.store.db import make_engine
from bot.gateway.store.models import Conversation, Message

pytestmark = pytest.mark.e2e


def said(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


def test_erasure_after_confirmation_removes_the_conversation_from_both_stores(
    chat, stack, gateway_db
):
    sender = uuid.uuid4().hex
    said(chat(sender, "Mon salon de coiffure à Jette a 3 mois de loyer en retard"))
    (confirm,) = said(chat(sender, "/oublier"))
    assert "Voulez-vous que j'efface tout" in confirm and "0800 32 123" in confirm
    (done,) = said(chat(sender, "/affirm"))
    assert done.startswith("C'est fait : cette conversation est effacée")
    conversation_id = f"web:{sender}"
    with gateway_db() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == conversation_id)
            )
            == 0
        )
        assert session.get(Conversation, conversation_id).erased_at is not None
    tracker = make_engine(stack.settings.tracker_url)
    with tracker.connect() as connection:
        left = connection.scalar(
            text("SELECT count(*) FROM events WHERE sender_id = :id"), {"id": conversation_id}
        )
    tracker.dispose()
    assert left == 0
    # Writing again starts afresh: nothing is remembered.
    fresh = said(chat(sender, "bonjour"))
    assert fresh and "Jette" not in " ".join(fresh)


@pytest.mark.parametrize(
    ("command", "words", "heading"),
    [
        ("/mesdonnees", "quelles données avez-vous sur moi ?", "Voici ce que Relais garde"),
        ("/mijngegevens", "welke gegevens hebben jullie over mij?", "Dit bewaart Relais over u"),
    ],
)
def test_the_person_gets_a_copy_of_their_data_in_words_and_as_a_download(
    chat, stack, command, words, heading
):
    sender = uuid.uuid4().hex
    opening = {
        "/mesdonnees": "Mon salon de coiffure à Jette a 3 mois de loyer en retard",
        "/mijngegevens": "Mijn kapsalon in Jette heeft 3 maanden huurachterstand",
    }[command]
    said(chat(sender, opening))
    for asked in (command, words):
        answer = said(chat(sender, asked))  # the copy, its link, the intake's question again
        assert answer[0].startswith(heading), answer
        (url,) = re.findall(r"http://\S+/privacy/copy/\S+", " ".join(answer))
        assert url.startswith(stack.settings.public_url + "/privacy/copy/")
        download = httpx.get(url)
        assert download.status_code == 200
        assert download.json()["messages"][0]["text"] == opening
        assert download.json()["conversation"]["id"] == f"web:{sender}"


def test_no_message_text_phone_or_email_in_the_logs(chat, stack):
    sender = uuid.uuid4().hex
    secret = "Zorglub-7341"
    said(
        chat(
            sender,
            f"Je m'appelle {secret}, mon numéro est 0470 98 76 54, jean.{secret}@example.org",
        )
    )
    said(chat(sender, "je veux parler à un conseiller"))
    said(chat(sender, "/affirm"))
    logs = stack.settings.var_dir / "logs"
    written = {path.name: path.read_text(errors="replace") for path in logs.glob("*.log")}
    assert set(written) >= {"actions.log", "rasa.log", "gateway.log"}
    for name, content in written.items():
        for personal in (secret, "0470 98 76 54", "example.org"):
            assert personal not in content, f"{personal!r} in {name}"
