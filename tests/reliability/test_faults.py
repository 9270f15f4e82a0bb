"""Faults, one at a time, on the gateway's queue and outbox (SQLite, stub engine and receivers):
the engine down, several gateways on one conversation, a gateway dying with a lease, a channel
answering 429 with Retry-After, an SMTP server down, and the channels' pacing."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from bot.gateway.inbound import Conversations
from bot.gateway.outbox import DeliveryError, Outbox
from bot.gateway.rasa_client import RasaClient
from bot.gateway.store.models import InboundEvent, Message, OutboxItem, now
from bot.gateway.texts import both
from bot.launch import free_port
from bot.settings import get_settings
from connectors.base import Inbound
from connectors.pacing import Pacer
from tests.connectors.conftest import serve


class Engine:
    """Rasa's REST channel: echoes, or 503 while down; records order and concurrency."""

    def __init__(self) -> None:
        self.down = False
        self.received: list[str] = []
        self.busy: dict[str, int] = {}
        self.most_at_once = 0
        self.app = FastAPI()

        @self.app.post("/webhooks/rest/webhook")
        async def answer(request: Request):
            body = await request.json()
            if self.down:
                return JSONResponse({"error": "down"}, status_code=503)
            sender = body["sender"]
            self.busy[sender] = self.busy.get(sender, 0) + 1
            self.most_at_once = max(self.most_at_once, self.busy[sender])
            await asyncio.sleep(random.uniform(0.0, 0.03))
            self.received.append(body["message"])
            self.busy[sender] -= 1
            return [{"text": f"echo: {body['message']}"}]


@pytest.fixture
def engine():
    stub = Engine()
    with serve(stub.app) as url:
        yield stub, url


@pytest.fixture
def settings(tmp_path):
    return dataclasses.replace(
        get_settings(), var_dir=tmp_path, inbound_lease_s=1.0, outbox_base_s=0.05
    )


def conversations_on(settings, stores, url: str) -> Conversations:
    sessions, tracker = stores
    return Conversations(settings, sessions, RasaClient(url, 5), tracker)


def telegram(n: int, user: str = "4242", hint: str | None = None) -> Inbound:
    return Inbound("telegram", user, f"update-{user}-{n}", f"message {n}", hint)


def outgoing(sessions, target: str) -> list[str]:
    with sessions() as session:
        items = session.scalars(
            select(OutboxItem).where(OutboxItem.target == target).order_by(OutboxItem.id)
        )
        return [item.payload["messages"][0]["text"] for item in items]


async def test_engine_down_the_person_is_told_at_once_and_answered_when_it_is_back(
    settings, stores, engine
):
    stub, url = engine
    conversations = conversations_on(settings, stores, url)
    sessions = stores[0]
    stub.down = True
    for n in (1, 2):  # two messages while the engine is down
        await conversations.answer(conversations.accept(telegram(n)))
    notice = "\n\n".join(both("engine_down").values())  # no language known yet: both
    assert "1819" in notice and "1813" in notice
    assert outgoing(sessions, "telegram:4242") == [notice], "told once, at once"
    with sessions() as session:
        statuses = session.scalars(select(InboundEvent.status).order_by(InboundEvent.id)).all()
    assert statuses == ["pending", "pending"], "the messages are kept"
    assert await conversations.retry_once() == 0  # still down: nothing lost, nothing said again
    stub.down = False
    assert await conversations.retry_once() == 2
    sent = outgoing(sessions, "telegram:4242")
    assert sent[0] == notice and sent[-2:] == ["echo: message 1", "echo: message 2"]
    assert stub.received == ["message 1", "message 2"]


async def test_a_known_language_gets_the_notice_in_that_language(settings, stores, engine):
    stub, url = engine
    conversations = conversations_on(settings, stores, url)
    stub.down = True
    await conversations.answer(conversations.accept(telegram(1, hint="nl")))
    assert outgoing(stores[0], "telegram:4242") == [both("engine_down")["nl"]]


async def test_messages_of_one_conversation_are_answered_one_at_a_time_in_order(
    settings, stores, engine
):
    """Two gateways (two Conversations on one database) answering deliveries of the same
    people all at once: each person's messages reach the engine one at a time, in order."""
    stub, url = engine
    first, second = (conversations_on(settings, stores, url) for _ in range(2))
    accepted = [first.accept(telegram(n, user)) for n in range(8) for user in ("1", "2")]
    await asyncio.gather(
        *(
            (first if i % 2 else second).answer(delivery)
            for i, delivery in enumerate(reversed(accepted))  # workers start in any order
        )
    )
    await first.retry_once()  # whatever a busy lease made a worker leave behind
    assert stub.most_at_once == 1
    assert sorted(stub.received) == sorted(f"message {n}" for n in range(8) for _ in "12")
    for user in ("1", "2"):
        assert outgoing(stores[0], f"telegram:{user}")[1:] == [
            f"echo: message {n}" for n in range(8)
        ], "privacy notice, then every answer once, in order"


async def test_a_dead_gateways_lease_lapses_and_another_answers_exactly_once(
    settings, stores, engine
):
    _, url = engine
    dead, alive = (conversations_on(settings, stores, url) for _ in range(2))
    delivery = dead.accept(telegram(1))
    taken = dead._take("telegram:4242")  # it took the conversation, then died
    assert taken is not None
    token, _ = taken
    assert await alive.retry_once() == 0, "the lease still runs"
    await asyncio.sleep(settings.inbound_lease_s + 0.1)
    assert await alive.retry_once() == 1
    with stores[0]() as session:
        event = session.get(InboundEvent, delivery.id)
    # Had the first gateway come back with an answer, it would not be stored a second time.
    assert dead._finish(event, [{"text": "late"}], token, "bot") is None
    with stores[0]() as session:
        bot = session.scalars(select(Message.text).where(Message.author == "bot")).all()
    assert bot[-1] == "echo: message 1" and "late" not in bot


async def test_a_429_is_retried_after_retry_after_and_later_messages_wait_their_turn(
    settings, stores
):
    sessions = stores[0]
    calls: list[tuple[str, float]] = []
    refusals = [3.0]  # the channel's first answer: 429, come back in 3 s

    async def channel(item: OutboxItem) -> None:
        calls.append((item.payload["messages"][0]["text"], asyncio.get_running_loop().time()))
        if refusals:
            raise DeliveryError("HTTP 429", retry_after=refusals.pop())

    with sessions() as session:
        for text in ("one", "two"):
            session.add(
                OutboxItem(
                    kind="channel", target="telegram:7", payload={"messages": [{"text": text}]}
                )
            )
        session.commit()
    outbox = Outbox(settings, sessions, channel_sender=channel)
    assert await outbox.deliver_due() == 0
    with sessions() as session:
        first = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).first()
        wait = first.next_attempt_at - now()
    assert timedelta(seconds=2.5) < wait <= timedelta(seconds=3), (
        "Retry-After, not the 0.05 s backoff"
    )
    assert [text for text, _ in calls] == ["one"], "'two' waits behind 'one'"
    assert await outbox.deliver_due() == 0  # too early
    with sessions() as session:  # time passes
        session.get(OutboxItem, first.id).next_attempt_at = now()
        session.commit()
    assert await outbox.deliver_due() == 1  # "one"; "two" was still behind it at this pass
    assert await outbox.deliver_due() == 1
    assert [text for text, _ in calls] == ["one", "one", "two"]
    await outbox.close()


async def test_an_smtp_server_down_is_retried_until_it_is_back(settings, stores):
    sessions = stores[0]
    port = free_port()
    smtp = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
    with sessions() as session:
        payload = {"reference": "BXL-2026-000042", "priority": 1, "url": "http://x/inbox/42"}
        session.add(OutboxItem(kind="email", target="ced@example.org", payload=payload))
        session.commit()
    outbox = Outbox(smtp, sessions)
    assert await outbox.deliver_due() == 0  # nothing listens
    with sessions() as session:
        item = session.scalars(select(OutboxItem)).one()
        assert (
            item.status == "pending" and item.attempts == 1 and "refused" in item.last_error.lower()
        )

    received = []

    class Collect:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for _ in range(40):
            if await outbox.deliver_due():
                break
            await asyncio.sleep(0.05)
    finally:
        controller.stop()
        await outbox.close()
    assert len(received) == 1 and b"BXL-2026-000042" in received[0].content


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_telegram_pacing_one_message_a_second_per_chat_thirty_a_second_overall():
    clock = Clock()
    pacer = Pacer(interval_s=1.0, per_s=30, clock=clock)
    assert [pacer.reserve("a") for _ in range(3)] == [0.0, 1.0, 2.0]
    assert [pacer.reserve(f"chat{i}") for i in range(60)] == [0.0] * 60  # 60 people at once...
    waits = [pacer.reserve_bot() for _ in range(60)]  # ...but the bot sends 30 a second
    assert max(waits) == pytest.approx(59 / 30) and waits == sorted(waits)
    assert all(b - a == pytest.approx(1 / 30) for a, b in itertools.pairwise(waits))


def test_whatsapp_pacing_allows_a_burst_then_one_message_every_six_seconds():
    clock = Clock()
    pacer = Pacer(interval_s=6.0, per_s=80, burst=45, clock=clock)
    waits = [pacer.reserve("32470") for _ in range(47)]
    assert waits[:45] == [0.0] * 45, "a burst of 45 goes at once"
    assert waits[45] == pytest.approx(6.0) and waits[46] == pytest.approx(12.0)
    clock.t += 600  # ten quiet minutes: the bucket is full again
    assert pacer.reserve("32470") == 0.0


async def test_the_telegram_adapter_paces_a_chat_on_the_wire(telegram_server):
    from tests.connectors.conftest import channel_settings

    stub, url = telegram_server
    stub.reset()
    from connectors.telegram import TelegramChannel

    settings = dataclasses.replace(
        channel_settings(url, "http://127.0.0.1:9"), telegram_chat_interval_s=0.3
    )
    channel = TelegramChannel(settings)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await channel.send("99", [{"id": n, "text": f"piece {n}"} for n in range(4)], "fr")
    elapsed = loop.time() - began
    await channel.close()
    assert [p["text"] for p in stub.sent()] == [f"piece {n}" for n in range(4)]
    assert elapsed >= 0.9, "three gaps of 0.3 s between four messages to one chat"
