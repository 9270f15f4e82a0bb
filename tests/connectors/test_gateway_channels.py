"""The gateway with Telegram and WhatsApp on: webhooks acknowledged once, answers delivered
through the outbox to the (stub) channel APIs, counsellor replies on the person's channel."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.gateway import relay
from bot.gateway.app import create_app
from bot.gateway.store.models import InboundEvent, Message
from tests.connectors.conftest import TELEGRAM_SECRET, serve
from tests.connectors.test_telegram import callback_update, message_update
from tests.connectors.test_whatsapp import SOPHIE, WORRIED, incoming, sign, webhook


class RasaStub:
    """Rasa's REST channel: answers every message with one text and two buttons."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.received: list[dict] = []

        @self.app.post("/webhooks/rest/webhook")
        async def answer(request: Request) -> list[dict]:
            self.received.append(await request.json())
            return [{"text": "Bonjour ! Que se passe-t-il ?", "buttons": [
                {"title": "Argent", "payload": '/inform{"need":"finance"}'},
                {"title": "Loyer", "payload": '/inform{"need":"rent"}'},
            ]}]  # fmt: skip


@pytest.fixture
def rasa():
    stub = RasaStub()
    with serve(stub.app) as url:
        yield stub, url


@pytest.fixture
def client(settings, rasa, tmp_path):
    configured = dataclasses.replace(
        settings, rasa_url=rasa[1], var_dir=tmp_path, outbox_base_s=0.05
    )
    with TestClient(create_app(configured)) as test_client:
        yield test_client


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError("timed out")


def telegram(client, payload, secret=TELEGRAM_SECRET):
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return client.post("/webhooks/telegram", content=json.dumps(payload), headers=headers)


def test_telegram_update_answered_once_even_when_delivered_three_times(client, rasa, telegram_stub):
    update = message_update(text="Bonjour, mon resto coule")
    answers = [telegram(client, update) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["new"] for a in answers] == [1, 0, 0]
    wait_for(lambda: len(telegram_stub.sent()) >= 2)
    time.sleep(0.5)  # would a duplicate arrive?
    notice, message = telegram_stub.sent()
    assert len(rasa[0].received) == 1
    assert "/privacy" in notice["text"], "a conversation starts with the privacy notice"
    assert message["text"] == "Bonjour ! Que se passe-t-il ?"
    refs = [row[0]["callback_data"] for row in message["reply_markup"]["inline_keyboard"]]
    assert refs[0].startswith("b") and refs[0].endswith(":1")
    # The button comes back as a callback: the bot receives its payload, the transcript its title.
    telegram(client, callback_update(update_id=update["update_id"] + 1, data=refs[1]))
    wait_for(lambda: len(rasa[0].received) == 2)
    assert rasa[0].received[1]["message"] == '/inform{"need":"rent"}'
    with client.app.state.sessions() as session:
        said = session.scalars(select(Message.text).where(Message.author == "person")).all()
    assert said == ["Bonjour, mon resto coule", "Loyer"]


@pytest.mark.parametrize("secret", [None, "guessed-secret"])
def test_forged_telegram_requests_are_refused_and_not_processed(client, rasa, secret):
    assert telegram(client, message_update(text="hello"), secret=secret).status_code == 403
    assert (
        client.post(
            "/webhooks/telegram",
            content=b"{not json",
            headers={
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
                "Content-Type": "application/json",
            },
        ).status_code
        == 400
    )
    with client.app.state.sessions() as session:
        assert session.scalars(select(InboundEvent)).all() == []
    assert rasa[0].received == []


def test_whatsapp_handshake_signature_and_interactive_answer(client, rasa, graph_stub):
    ok = client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "relais-verify-token",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert bad.status_code == 403
    body = json.dumps(
        webhook(incoming("text", text={"body": WORRIED})), ensure_ascii=False
    ).encode()
    forged = client.post("/webhooks/whatsapp", content=body, headers=sign(body, "wrong-secret"))
    assert forged.status_code == 403
    assert client.post("/webhooks/whatsapp", content=body, headers=sign(body)).json()["new"] == 1
    notice, sent = wait_for(lambda: graph_stub.bodies if len(graph_stub.bodies) >= 2 else None)
    assert "Avant de commencer" in notice["text"]["body"] and "Vooraf" in notice["text"]["body"]
    assert sent["to"] == SOPHIE and sent["type"] == "interactive"
    assert [b["reply"]["title"] for b in sent["interactive"]["action"]["buttons"]] == [
        "Argent",
        "Loyer",
    ]
    assert (
        rasa[0].received[0]["message"] == WORRIED
        and rasa[0].received[0]["sender"] == f"whatsapp:{SOPHIE}"
    )


def test_a_counsellor_reply_outside_the_24_hour_window_goes_as_the_template(client, graph_stub):
    with client.app.state.sessions() as session:
        conversation = relay.conversation_for(session, f"whatsapp:{SOPHIE}", "nl")
        conversation.mode = "human"
        graph_stub.fail(400, 131047, "Re-engagement message")
        relay.send_to_person(session, conversation, "Goedendag, ik ben Bram van het COM.")
        session.commit()
    bodies = wait_for(lambda: graph_stub.bodies if len(graph_stub.bodies) >= 2 else None)
    assert bodies[0]["type"] == "text" and bodies[1]["type"] == "template"


def test_without_a_template_the_counsellor_is_told_it_could_not_be_delivered(
    settings, rasa, graph_stub, tmp_path
):
    no_template = dataclasses.replace(
        settings, rasa_url=rasa[1], var_dir=tmp_path, whatsapp_template=""
    )
    with TestClient(create_app(no_template)) as client:
        with client.app.state.sessions() as session:
            conversation = relay.conversation_for(session, f"whatsapp:{SOPHIE}", "fr")
            graph_stub.fail(400, 131047, "Re-engagement message")
            relay.send_to_person(session, conversation, "Bonjour, ici Anna du CEd.")
            session.commit()

        def note():
            with client.app.state.sessions() as session:
                return session.scalars(select(Message).where(Message.author == "system")).first()

        assert "n'a pas pu être remis" in wait_for(note).text


def test_unsupported_content_gets_a_polite_bilingual_answer(client, rasa, telegram_stub):
    voice = message_update(
        update_id=200000001, voice={"file_id": "AwAD", "file_unique_id": "x", "duration": 3}
    )
    assert telegram(client, voice).status_code == 200
    (sent,) = wait_for(lambda: telegram_stub.sent())
    assert (
        "Je ne peux lire que du texte" in sent["text"]
        or "Ik kan alleen tekst lezen" in sent["text"]
    )
    assert rasa[0].received == []


def test_a_message_whatsapp_fails_to_deliver_later_is_reported_to_the_counsellor_once(client):
    failed = {
        "id": "wamid.HBgLMzI0NzAxMjM0NTYVAgARGBI5",
        "status": "failed",
        "timestamp": "1717000100",
        "recipient_id": SOPHIE,
        "errors": [{"code": 131047, "title": "Re-engagement message"}],
    }
    body = json.dumps(webhook(statuses=(failed,))).encode()
    for _ in range(2):  # Meta delivers webhooks more than once
        assert (
            client.post("/webhooks/whatsapp", content=body, headers=sign(body)).status_code == 200
        )
    with client.app.state.sessions() as session:
        notes = session.scalars(select(Message).where(Message.author == "system")).all()
    assert len(notes) == 1 and "n'a pas pu être remis" in notes[0].text
    assert notes[0].conversation_id == f"whatsapp:{SOPHIE}"
