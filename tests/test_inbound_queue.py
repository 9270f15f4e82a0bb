"""The inbound queue's hand-overs (bot/gateway/inbound.py), with an in-process engine: a message
arriving while a worker answers or gives the conversation back is answered, erasure happens
under the lease, and a duplicate delivery leaves nothing behind."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import datetime

import pytest
from sqlalchemy import event, func, select

from bot.gateway import inbound, profile
from bot.gateway.inbound import Conversations, web_inbound
from bot.gateway.profile import Profile
from bot.gateway.rasa_client import Reply
from bot.gateway.store.models import Conversation, InboundEvent, Message, OutboxItem
from bot.settings import get_settings
from connectors.base import Inbound

PERSON = "abcdefgh42"
CONVERSATION = f"web:{PERSON}"


class Engine:
    """Rasa, in process: echoes; `during[text]` runs while it thinks about that text."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.metadata: list[dict] = []
        self.during: dict[str, object] = {}
        self.profiles: dict[str, Profile] = {}  # the profile the bot reports with its answer

    async def send(self, sender: str, text: str, metadata: dict) -> Reply:
        self.received.append(text)
        self.metadata.append(metadata)
        if hook := self.during.pop(text, None):
            await hook()
        return Reply([{"text": f"echo: {text}"}], self.profiles.pop(text, None))


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


def lease_owner(sessions) -> str | None:
    with sessions() as session:
        return session.get(Conversation, CONVERSATION).inbound_lease_owner


async def test_a_message_arriving_while_the_engine_thinks_is_answered_by_the_same_drain(
    settings, stores, engine
):
    first, second = gateway(settings, stores, engine), gateway(settings, stores, engine)
    one = first.accept(message(1))

    async def another_arrives() -> None:
        two = second.accept(message(2))
        assert await second.drain(two.conversation_id) == [], "the first holds the conversation"

    engine.during["message 1"] = another_arrives
    answered = await first.drain(one.conversation_id)
    assert [(mode, [a["text"] for a in answers]) for _, mode, answers in answered] == [
        ("bot", ["echo: message 1"]),
        ("bot", ["echo: message 2"]),
    ]
    assert engine.received == ["message 1", "message 2"]
    assert lease_owner(stores[0]) is None, "given back once nothing is pending"


async def test_the_engine_hears_the_channel_and_the_language_the_person_chose(
    settings, stores, engine
):
    conversations = gateway(settings, stores, engine)
    await conversations.process(conversations.accept(message(1), take=True))
    unchosen = web_inbound(PERSON, "message 2", None, "client-2")
    await conversations.process(conversations.accept(unchosen, take=True))
    assert engine.metadata == [
        {"channel": "web", "language_hint": "fr"},
        {"channel": "web", "language_hint": None},
    ]


async def test_a_message_accepted_while_the_conversation_is_given_back_is_answered(
    settings, stores, engine
):
    """The last look for pending deliveries and the give-back are one transaction, which holds
    the conversation's row: a message accepted meanwhile is committed after it, and its own
    drain then finds the conversation free."""
    first, second = gateway(settings, stores, engine), gateway(settings, stores, engine)
    one = first.accept(message(1))
    newcomer: dict[str, object] = {}

    def accept_and_drain() -> None:
        try:
            two = second.accept(message(2))
            newcomer["answered"] = asyncio.run(second.drain(two.conversation_id))
        except Exception as error:  # the assertion below shows it
            newcomer["error"] = error

    arrival = threading.Thread(target=accept_and_drain)
    look = first._give_back_or_next

    def look_then_a_message_arrives(session, conversation_id, token):
        turn = look(session, conversation_id, token)
        if turn is None:  # nothing pending: given back, not yet committed
            arrival.start()
            arrival.join(0.5)
            assert arrival.is_alive(), "the newcomer waits for the give-back's commit"
        return turn

    first._give_back_or_next = look_then_a_message_arrives
    answered = await first.drain(one.conversation_id)
    arrival.join(10)
    assert [event_id for event_id, _, _ in answered] == [one.id]
    assert "error" not in newcomer, newcomer
    assert [[a["text"] for a in answers] for _, _, answers in newcomer["answered"]] == [
        ["echo: message 2"]
    ]
    assert engine.received == ["message 1", "message 2"]
    assert lease_owner(stores[0]) is None


async def test_erasure_runs_under_the_lease_and_a_later_message_is_answered_after_it(
    settings, stores, engine, monkeypatch
):
    first, second = gateway(settings, stores, engine), gateway(settings, stores, engine)
    sessions = stores[0]
    one = first.accept(message(1))

    async def erasure_asked() -> None:
        with sessions() as session:  # what POST /api/erasures does while Rasa confirms
            session.get(Conversation, CONVERSATION).erase_requested = True
            session.commit()

    owners_while_erasing = []

    def erase_then_a_message_arrives(sessions_, tracker, conversation_id) -> None:
        owners_while_erasing.append(lease_owner(sessions))
        erase_conversation(sessions_, tracker, conversation_id)
        two = second.accept(message(2))
        assert second._take(two.conversation_id) is None, "still held: its drain would wait"

    erase_conversation = inbound.erase_conversation
    monkeypatch.setattr(inbound, "erase_conversation", erase_then_a_message_arrives)
    engine.during["message 1"] = erasure_asked
    answered = await first.drain(one.conversation_id)
    assert [[a["text"] for a in answers] for _, _, answers in answered] == [
        ["echo: message 1"],
        ["echo: message 2"],
    ]
    assert len(owners_while_erasing) == 1 and owners_while_erasing[0] is not None
    with sessions() as session:
        conversation = session.get(Conversation, CONVERSATION)
        assert conversation.erased_at is not None and not conversation.erase_requested
        assert conversation.inbound_lease_owner is None
        texts = session.scalars(
            select(Message.text).where(Message.conversation_id == CONVERSATION)
        ).all()
    assert texts == ["message 2", "echo: message 2"], "erased, then the next turn kept"


async def test_the_web_chat_takes_the_conversation_as_it_stores_the_message(
    settings, stores, engine
):
    """accept(take=True): one transaction stores the message and leases the conversation; a
    message accepted meanwhile finds it held and is answered by that holder's drain, in order;
    a duplicate takes nothing."""
    here, there = gateway(settings, stores, engine), gateway(settings, stores, engine)
    first = here.accept(message(1), take=True)
    assert first.lease is not None and lease_owner(stores[0]) == first.lease[0]
    second = there.accept(message(2), take=True)
    assert second is not None and second.lease is None, "held by the first"
    assert there.accept(message(2), take=True) is None, "a duplicate"
    assert lease_owner(stores[0]) == first.lease[0]
    _, answers = await here.process(first)
    assert [a["text"] for a in answers] == ["echo: message 1"]
    _, answers = await there.process(second)  # answered by the first's drain
    assert [a["text"] for a in answers] == ["echo: message 2"]
    assert engine.received == ["message 1", "message 2"]
    assert lease_owner(stores[0]) is None
    assert here.accept(message(1), take=True) is None
    assert lease_owner(stores[0]) is None, "a duplicate leaves no lease behind"


async def test_a_duplicate_delivery_leaves_nothing_behind(settings, stores, engine):
    conversations = gateway(settings, stores, engine)
    first = conversations.accept(message(1))
    assert conversations.accept(message(1)) is None
    mode, answers = await conversations.process(first)
    assert (mode, [a["text"] for a in answers]) == ("bot", ["echo: message 1"])
    with stores[0]() as session:
        assert session.scalar(select(func.count()).select_from(InboundEvent)) == 1
        assert session.scalars(select(Message.text).order_by(Message.id)).all() == [
            "message 1",
            "echo: message 1",
        ]


async def test_a_conversation_is_opened_once_by_whichever_gateway(settings, stores, engine):
    """One upsert opens it (no look-then-insert that a second gateway could race); a language
    hint fills an unknown language and never replaces a known one."""
    here, there = gateway(settings, stores, engine), gateway(settings, stores, engine)
    first = here.accept(web_inbound(PERSON, "bonjour", None, "client-1"))
    second = there.accept(web_inbound(PERSON, "hallo", "nl", "client-2"))
    third = here.accept(web_inbound(PERSON, "salut", "fr", "client-3"))
    assert None not in (first, second, third)
    with stores[0]() as session:
        conversation = session.get(Conversation, CONVERSATION)
        assert (conversation.channel, conversation.language) == ("web", "nl")  # filled, then kept
    _, answers = await there.process(third)
    assert [a["text"] for a in answers] == ["echo: bonjour", "echo: hallo", "echo: salut"]


def profile_of(sessions) -> tuple:
    with sessions() as session:
        c = session.get(Conversation, CONVERSATION)
        return (c.language, c.sector, c.workers, c.commune, c.needs, c.distress_level, c.urgency)


async def test_the_profile_is_stored_with_the_answers_and_distress_only_goes_up(
    settings, stores, engine
):
    """What the report counts comes with the bot's answers; a field the bot does not give keeps
    its value, and a lower distress level never replaces a higher one."""
    conversations = gateway(settings, stores, engine)
    engine.profiles["message 1"] = Profile(
        language="fr", sector="horeca", workers=3, needs=["rent"], distress_level="high"
    )
    engine.profiles["message 2"] = Profile(commune="ixelles", distress_level="moderate")
    engine.profiles["message 3"] = Profile(needs=["finance", "rent"], distress_level="critical")
    first = conversations.accept(web_inbound(PERSON, "message 1", None, "client-1"))
    _, answers = await conversations.process(first)
    assert [a["text"] for a in answers] == ["echo: message 1"]
    assert profile_of(stores[0]) == ("fr", "horeca", 3, None, ["rent"], "high", None)
    await conversations.process(conversations.accept(message(2)))
    assert profile_of(stores[0]) == ("fr", "horeca", 3, "ixelles", ["rent"], "high", None)
    await conversations.process(conversations.accept(message(3)))
    assert profile_of(stores[0]) == (
        "fr", "horeca", 3, "ixelles", ["finance", "rent"], "critical", None
    )  # fmt: skip


async def test_the_persons_message_and_the_answers_each_mark_the_conversation_active(
    settings, stores, engine
):
    """The retention purge counts from a conversation's last message (bot/gateway/privacy.py)."""
    conversations = gateway(settings, stores, engine)
    long_ago = datetime(2020, 1, 1)

    def last_message_at_then_long_ago() -> datetime:
        with stores[0]() as session:
            conversation = session.get(Conversation, CONVERSATION)
            last = conversation.last_message_at
            conversation.last_message_at = long_ago
            session.commit()
        return last

    await conversations.process(conversations.accept(message(1)))
    last_message_at_then_long_ago()
    delivery = conversations.accept(message(2))
    assert last_message_at_then_long_ago() > long_ago, "the person's message"
    await conversations.process(delivery)
    assert last_message_at_then_long_ago() > long_ago, "the bot's answers"
    conversations.accept(web_inbound(PERSON, "delivered", None, "report-1"), answer=False)
    assert last_message_at_then_long_ago() == long_ago, "a delivery report is no message"


async def test_a_profile_that_changes_nothing_is_not_written(settings, stores, engine):
    """The bot reports the profile on every turn; most turns change nothing of it (a language
    once known stays), and then the profile costs no statement."""
    conversations = gateway(settings, stores, engine)
    engine.profiles["message 1"] = Profile(language="fr", sector="horeca", needs=["rent"])
    engine.profiles["message 2"] = Profile(language="nl", sector="horeca", needs=["rent"])
    engine.profiles["message 3"] = Profile(sector="retail", distress_level="none")
    engine.profiles["message 4"] = Profile(needs=["rent"], distress_level="moderate")
    engine.profiles["message 5"] = Profile(sector="retail", distress_level="none")
    written: list[int] = []

    def count(connection, statement, *args) -> None:
        written.extend([1] if statement is profile._STORE else [])

    database = stores[0].kw["bind"]
    event.listen(database, "before_execute", count)
    try:
        for n in (1, 2, 3, 4, 5):
            await conversations.process(conversations.accept(message(n)))
    finally:
        event.remove(database, "before_execute", count)
    assert len(written) == 3  # the first, the new sector, the distress level raised
    assert profile_of(stores[0]) == ("fr", "retail", None, None, ["rent"], "moderate", None)


async def test_a_channel_turn_leaves_in_the_language_the_bot_found_with_it(
    settings, stores, engine
):
    """WhatsApp gives no language: the first turn's answers go out in the one the bot found
    while answering, stored with them, not in the default."""
    conversations = gateway(settings, stores, engine)
    engine.profiles["hallo, mijn zaak"] = Profile(language="nl")
    delivery = conversations.accept(
        Inbound("whatsapp", "32470000001", "wamid-1", "hallo, mijn zaak")
    )
    await conversations.process(delivery)
    with stores[0]() as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert session.get(Conversation, "whatsapp:32470000001").language == "nl"
    assert len(items) == 2  # the privacy notice, then the bot's answer
    assert [item.payload["language"] for item in items] == ["nl", "nl"]
