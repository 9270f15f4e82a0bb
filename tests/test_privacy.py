"""Retention and erasure leave nothing behind, in the gateway's database and in Rasa's tracker."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.gateway.app import create_app
from bot.gateway.privacy import erase_conversation, purge_expired
from bot.gateway.store.db import make_engine, migrate, session_factory
from bot.gateway.store.models import (
    Conversation,
    Handoff,
    InboundEvent,
    Message,
    OutboxItem,
)
from bot.launch import free_port
from bot.settings import get_settings
from tests.stores import EVENTS, seed


def count(sessions, tracker, conversation_id: str) -> dict[str, int]:
    with sessions() as session:
        found = {
            model.__name__: session.scalar(
                select(func.count()).select_from(model).where(column == conversation_id)
            )
            for model, column in (
                (Message, Message.conversation_id),
                (InboundEvent, InboundEvent.conversation_id),
                (OutboxItem, OutboxItem.target),
                (Conversation, Conversation.id),
                (Handoff, Handoff.conversation_id),
            )
        }
    with tracker.connect() as connection:
        found["tracker events"] = connection.scalar(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.sender_id == conversation_id)
        )
    return found


def test_the_retention_purge_removes_old_conversations_from_both_stores(stores):
    sessions, tracker = stores
    seed(sessions, tracker, "web:old-conversation", days_ago=91)
    seed(sessions, tracker, "telegram:42", days_ago=89)
    assert purge_expired(sessions, tracker, days=90) == (1, 1)
    assert set(count(sessions, tracker, "web:old-conversation").values()) == {0}
    kept = count(sessions, tracker, "telegram:42")
    assert kept["Message"] == 2 and kept["tracker events"] == 3 and kept["Handoff"] == 1


def test_erasure_leaves_only_an_erased_stub_for_the_counsellor(stores):
    sessions, tracker = stores
    seed(sessions, tracker, "whatsapp:32470123456", days_ago=1)
    erase_conversation(sessions, tracker, "whatsapp:32470123456")
    left = count(sessions, tracker, "whatsapp:32470123456")
    assert left == {
        "Message": 0, "InboundEvent": 0, "OutboxItem": 0, "Conversation": 1, "Handoff": 1,
        "tracker events": 0,
    }  # fmt: skip
    with sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
        conversation = session.get(Conversation, "whatsapp:32470123456")
        assert handoff.summary["erased"] and handoff.transcript == []
        assert handoff.callback_phone is None and handoff.summary["text"]["fr"].startswith("Effacé")
        assert conversation.erased_at and conversation.sector is None
        assert conversation.distress_level is None


def test_the_gateway_runs_the_purge_at_start_and_commands_erase_on_every_channel(tmp_path):
    settings = dataclasses.replace(
        get_settings(), var_dir=tmp_path, rasa_url=f"http://127.0.0.1:{free_port()}",
        tracker_db=str(tmp_path / "tracker.db"), retention_days=30,
    )  # fmt: skip
    migrate(settings.database)
    sessions = session_factory(make_engine(settings.database))
    tracker = make_engine(settings.tracker_url)
    EVENTS.metadata.create_all(tracker)
    seed(sessions, tracker, "web:stale-conversation", days_ago=31)
    with TestClient(create_app(settings)) as client:
        for _ in range(50):
            if set(count(sessions, tracker, "web:stale-conversation").values()) == {0}:
                break
            client.get("/healthz")
        assert set(count(sessions, tracker, "web:stale-conversation").values()) == {0}
        client.post("/api/chat", json={"sender_id": "abcdefgh99", "text": "/oublier"})
        with sessions() as session:
            events = session.scalars(select(InboundEvent.text)).all()
        assert events == ["/erase_data"], "typed /oublier reaches the bot as the erase intent"


def test_the_privacy_page_exists_in_both_languages(tmp_path):
    settings = dataclasses.replace(get_settings(), var_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        fr, nl = client.get("/privacy?lang=fr").text, client.get("/privacy?lang=nl").text
    assert "90 jours" in fr and "/oublier" in fr and "9.2.a" in fr
    assert "90 dagen" in nl and "/vergeten" in nl
