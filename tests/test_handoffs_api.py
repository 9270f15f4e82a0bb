"""POST /api/handoffs, availability, notifications through the outbox, and the web-chat relay."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.gateway import relay
from bot.gateway.app import create_app
from bot.gateway.outbox import SIGNATURE_HEADER, Outbox
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import Counsellor, Handoff, LoginSession, OutboxItem, now
from bot.launch import free_port
from bot.settings import get_settings

TOKEN = "s3cret-token-for-tests"


def body(**changes) -> dict:
    base = {
        "conversation_id": "web:abcdefgh12",
        "sequence": 1,
        "partner": "ced",
        "reason": "distress",
        "priority": 1,
        "language": "fr",
        "consent": True,
        "summary": {"text": {"fr": "Détresse élevée.", "nl": "Hoge nood."}, "partner": "ced"},
        "transcript": [{"author": "person", "text": "je n'en peux plus 😔", "at": None}],
    }
    return {**base, **changes}


@pytest.fixture
def settings(tmp_path):
    return dataclasses.replace(
        get_settings(),
        var_dir=tmp_path,
        rasa_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: the bot is "down"
        api_token=TOKEN,
        inbox_hours="mon-sun 00:00-23:59",
        outbox_base_s=0.01,
        notify={
            "ced": {"email": "ced@example.org", "webhook": "http://127.0.0.1:9/hook", "secret": "k"}
        },
        smtp_host="127.0.0.1",
    )


@pytest.fixture
def sessions(settings):
    """The database alone, without the app's own outbox worker racing the test's."""
    migrate(settings.database)
    engine = make_engine(settings.database)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def post(client, payload, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/handoffs", json=payload, headers=headers)


def test_the_internal_api_refuses_missing_or_wrong_tokens(client):
    assert post(client, body(), token=None).status_code == 401
    assert post(client, body(), token="guess").status_code == 401
    assert client.get("/api/availability", params={"partner": "ced"}).status_code == 401


def test_handoffs_are_idempotent_on_conversation_and_sequence(client):
    first = post(client, body())
    assert first.status_code == 201
    reference = first.json()["reference"]
    assert reference.startswith("BXL-20") and reference.endswith("-000001")
    again = post(client, body())
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False}
    second = post(client, body(sequence=2))
    assert second.status_code == 201 and second.json()["reference"] != reference
    with client.app.state.sessions() as session:
        assert len(session.scalars(select(Handoff)).all()) == 2


@pytest.mark.parametrize(
    "changes",
    [{"partner": "nobody"}, {"reason": "boredom"}, {"priority": 9}, {"conversation_id": "sms:1"},
     {"sequence": 0}, {"unexpected": 1}, {"callback": {"phone": "call me", "slot": "x"}}],
)  # fmt: skip
def test_malformed_handoffs_are_refused(client, changes):
    assert post(client, body(**changes)).status_code == 422


def test_availability_needs_an_open_partner_and_someone_signed_in(client):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ask = lambda: client.get("/api/availability", params={"partner": "ced"}, headers=headers)  # noqa: E731
    assert ask().json() == {"status": "later", "answer_from": None}
    with client.app.state.sessions() as session:
        anna = Counsellor(username="anna", display_name="Anna", partner_id="ced", password_hash="x")
        session.add(anna)
        session.flush()
        session.add(
            LoginSession(
                token_hash="h",
                csrf_token="c",
                counsellor_id=anna.id,
                expires_at=now() + timedelta(hours=1),
            )
        )
        session.commit()
    assert ask().json() == {"status": "now"}
    assert post(client, body()).json()["next"] == {"status": "now"}


def test_a_new_handoff_notifies_without_personal_data(client):
    post(client, body())
    with client.app.state.sessions() as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.kind)).all()
    assert [(i.kind, i.target) for i in items] == [
        ("email", "ced@example.org"),
        ("webhook", "http://127.0.0.1:9/hook"),
    ]
    flat = json.dumps([i.payload for i in items], ensure_ascii=False)
    assert "BXL-" in flat and "/inbox/handoffs/" in flat
    assert "n'en peux plus" not in flat and "Détresse" not in flat


class FlakyReceiver(BaseHTTPRequestHandler):
    """Answers 500, then 429 with Retry-After, then 200; keeps what it was sent."""

    answers: ClassVar[list[int]] = [500, 429, 200]
    received: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        FlakyReceiver.received.append((raw, self.headers.get(SIGNATURE_HEADER, "")))
        self.send_response(FlakyReceiver.answers.pop(0))
        self.send_header("Retry-After", "0.2")
        self.end_headers()

    def log_message(self, *args):
        """Silent: http.server would print every request on the test's output."""


def test_webhooks_are_retried_with_backoff_and_signed_over_the_raw_bytes(settings, sessions):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/relais"
    with sessions() as session:
        item = OutboxItem(
            kind="webhook",
            target=url,
            payload={"event": "handoff.created", "partner": "ced", "reference": "BXL-é-😔"},
        )
        session.add(item)
        session.commit()
    outbox = Outbox(settings, sessions)

    async def drain():
        for _ in range(100):
            await outbox.deliver_due()
            with sessions() as session:
                stored = session.get(OutboxItem, item.id)
                if stored.status != "pending":
                    return stored
            await asyncio.sleep(0.05)
        raise AssertionError("never delivered")

    stored = asyncio.run(drain())
    server.shutdown()
    assert stored.status == "sent" and stored.attempts == 3
    assert len(FlakyReceiver.received) == 3
    raw, signature = FlakyReceiver.received[-1]
    assert signature == "sha256=" + hmac.new(b"k", raw, hashlib.sha256).hexdigest()
    assert "😔" in raw.decode() and json.loads(raw)["reference"] == "BXL-é-😔"


def test_email_notifications_reach_a_real_smtp_server(settings, sessions):
    class Collect:
        messages: ClassVar[list] = []

        async def handle_DATA(self, server, session, envelope):
            Collect.messages.append(envelope)
            return "250 OK"

    controller = Controller(Collect(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        smtp = dataclasses.replace(settings, smtp_port=controller.port, smtp_starttls=False)
        with sessions() as session:
            session.add(
                OutboxItem(
                    kind="email",
                    target="ced@example.org",
                    payload={
                        "reference": "BXL-2026-000007",
                        "priority": 1,
                        "url": "http://x/inbox/handoffs/7",
                    },
                )
            )
            session.commit()
        assert asyncio.run(Outbox(smtp, sessions).deliver_due()) >= 1
    finally:
        controller.stop()
    (envelope,) = Collect.messages
    assert envelope.rcpt_tos == ["ced@example.org"]
    assert b"BXL-2026-000007" in envelope.content


def test_the_bot_stays_silent_while_a_counsellor_owns_the_conversation(client):
    sender = "abcdefgh12"
    with client.app.state.sessions() as session:
        conversation = relay.conversation_for(session, f"web:{sender}", "fr")
        conversation.mode = "human"
        session.commit()
    answer = client.post("/api/chat", json={"sender_id": sender, "text": "vous êtes là ?"})
    assert answer.status_code == 200, "the bot (down here) was not asked"
    assert answer.json() == {"messages": [], "mode": "human", "last_id": None}
    with client.app.state.sessions() as session:
        conversation = relay.conversation_for(session, f"web:{sender}")
        relay.send_to_person(session, conversation, "Bonjour, je suis Anna du CEd.")
        conversation.mode = "bot"
        session.commit()
    history = client.get("/api/chat/messages", params={"sender_id": sender}).json()
    assert [(m["author"], m["text"]) for m in history["messages"]] == [
        ("person", "vous êtes là ?"),
        ("counsellor", "Bonjour, je suis Anna du CEd."),
    ]
    after = history["messages"][0]["id"]
    newer = client.get("/api/chat/messages", params={"sender_id": sender, "after": after}).json()
    assert [m["author"] for m in newer["messages"]] == ["counsellor"]
    back = client.post("/api/chat", json={"sender_id": sender, "text": "merci"})
    assert back.status_code == 503, "back with the bot: the (down) engine is asked again"
