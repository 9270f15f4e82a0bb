"""The inbound queue (bot/gateway/inbound.py), with an in-process engine: a duplicate delivery
leaves nothing behind."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from bot.gateway.inbound import Conversations, web_inbound
from bot.gateway.store.models import InboundEvent, Message
from bot.settings import get_settings

PERSON = "abcdefgh42"


class Engine:
    """Rasa, in process: echoes; `during[text]` runs while it thinks about that text."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.during: dict[str, object] = {}

    async def send(self, sender: str, text: str, metadata: dict) -> list[dict]:
        self.received.append(text)
        if hook := self.during.pop(text, None):
            await hook()
        return [{"text": f"echo: {text}"}]


@pytest.fixture
def settings(tmp_path):
    return dataclasses.replace(get_settings(), var_dir=tmp_path, inbound_lease_s=5.0)


@pytest.fixture
def engine():
    return Engine()


def gateway(settings, stores, engine) -> Conversations:
    sessions, tracker = stores
    return Conversations(settings, sessions, engine, tracker)


def message(n: int):
    return web_inbound(PERSON, f"message {n}", "fr", f"client-{n}")


async def test_a_duplicate_delivery_leaves_nothing_behind(settings, stores, engine):
    conversations = gateway(settings, stores, engine)
    first = conversations.accept(message(1))
    assert conversations.accept(message(1)) is None
    mode, answers = await conversations.process(int(first))  # a bare id is looked up
    assert (mode, [a["text"] for a in answers]) == ("bot", ["echo: message 1"])
    with stores[0]() as session:
        assert session.scalar(select(func.count()).select_from(InboundEvent)) == 1
        assert session.scalars(select(Message.text).order_by(Message.id)).all() == [
            "message 1",
            "echo: message 1",
        ]
