"""Replay under crashes: Telegram and WhatsApp webhooks, each delivered 2 or 3 times with jitter,
while the gateway (a real uvicorn process on SQLite) is killed with SIGKILL at random moments
and restarted. What the channel APIs received is compared with what was expected: every
message answered exactly once, in order, per person: zero duplicates, zero losses.

The engine is a stub of Rasa's REST channel that echoes each message (after a short random
delay, so that kills also land while the gateway waits for it): the real Rasa would make the
test minutes long and is covered by tests/scale; what is tested here is the gateway's queue.

Channel messages are sent at least once (docs/deployment.md, Limits): a kill between the
channel's API taking a message and the database recording it sends it again after the restart.
That gap is milliseconds in the gateway, but this test's stubs share one process (and its GIL)
with the threads that post the webhooks, which stretches it: it was hit in one run in 3 to 10.
So the test tells such a resend apart from a duplicate: the same message sent again after a
kill that came at most RESEND_GAP_S after its previous send, or at most IN_FLIGHT_S before it (a
request on its way when the gateway died reaches the stub, and is timed there, after the kill;
the restarted gateway needs longer than that to start). Any other repeat fails the test, and the
database must hold every answer exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import sqlite3
import threading
import time

import httpx
import pytest
from fastapi import FastAPI, Request

from bot.launch import Stack, free_port
from tests.connectors.conftest import (
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET,
    WHATSAPP_APP_SECRET,
    channel_settings,
    serve,
)

MESSAGES = 6  # per person
RESEND_GAP_S = 1.0  # a send this long before a kill may have been unrecorded when it came
IN_FLIGHT_S = 0.3  # a request the dead gateway sent may reach the stub this long after the kill
TELEGRAM_CHATS = [510000001, 510000002, 510000003]
WHATSAPP_NUMBERS = ["32470000001", "32470000002", "32470000003"]


class EchoRasa:
    def __init__(self) -> None:
        self.app = FastAPI()

        @self.app.post("/webhooks/rest/webhook")
        async def answer(request: Request) -> list[dict]:
            import asyncio

            body = await request.json()
            await asyncio.sleep(random.uniform(0, 0.05))
            return [{"text": f"echo: {body['message']}"}]


def telegram_update(update_id: int, chat: int, said: str) -> tuple[str, bytes, dict[str, str]]:
    person = {"id": chat, "is_bot": False, "first_name": "Anke", "language_code": "fr"}
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": person,
            "chat": {"id": chat, "type": "private", "first_name": "Anke"},
            "date": 1700000000,
            "text": said,
        },
    }
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
    }
    return "/webhooks/telegram", json.dumps(update).encode(), headers


def whatsapp_message(wamid: str, number: str, said: str) -> tuple[str, bytes, dict[str, str]]:
    message = {"from": number, "id": wamid, "timestamp": "1717000000", "type": "text",
               "text": {"body": said}}  # fmt: skip
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "3225551234", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Sophie"}, "wa_id": number}],
        "messages": [message],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2211", "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(payload).encode()
    digest = hmac.new(WHATSAPP_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
    return "/webhooks/whatsapp", body, headers


class Deliveries:
    """Like the channels: a delivery is repeated until the gateway answers 200."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client(timeout=5)
        self.lock = threading.Lock()
        self.attempts = 0
        self.acknowledged = 0

    def deliver(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        while True:
            with self.lock:
                self.attempts += 1
            try:
                if self.client.post(self.base + path, content=body, headers=headers).is_success:
                    with self.lock:
                        self.acknowledged += 1
                    return
            except httpx.HTTPError:
                pass  # the gateway is down (or died mid-request): the channel tries again
            time.sleep(random.uniform(0.2, 0.6))


@pytest.fixture
def gateway(telegram_server, graph_server, tmp_path, monkeypatch):
    echo = EchoRasa()
    with serve(echo.app) as rasa_url:
        settings = channel_settings(
            telegram_server[1],
            graph_server[1],
            rasa_url=rasa_url,
            var_dir=tmp_path,
            gateway_port=free_port(),
            inbound_lease_s=2,
            inbound_retry_s=0.3,
            outbox_base_s=0.2,
            outbox_lease_s=2,
            api_token="replay-test-token",
        )
        # What the launcher does not pass on: the channels' secrets and endpoints.
        for name in ("TELEGRAM_TOKEN", "TELEGRAM_SECRET", "TELEGRAM_API_URL", "WHATSAPP_TOKEN",
                     "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_PHONE_NUMBER_ID",
                     "WHATSAPP_API_URL", "OUTBOX_BASE_S", "OUTBOX_LEASE_S"):  # fmt: skip
            monkeypatch.setenv(f"RELAIS_{name}", str(getattr(settings, name.lower())))
        stack = Stack(settings, only=("gateway",))
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


def test_webhooks_delivered_several_times_while_the_gateway_is_killed(
    gateway, telegram_server, graph_server
):
    telegram, graph = telegram_server[0], graph_server[0]
    telegram.reset()
    graph.reset()
    deliveries = Deliveries(f"http://{gateway.settings.host}:{gateway.settings.gateway_port}")
    expected: dict[str, list[str]] = {}
    people = [("telegram", chat) for chat in TELEGRAM_CHATS]
    people += [("whatsapp", number) for number in WHATSAPP_NUMBERS]
    extra: list[threading.Thread] = []

    def person(channel: str, who: int | str, index: int) -> None:
        for n in range(MESSAGES):
            said = f"message {n} from {who}"
            expected.setdefault(str(who), []).append(f"echo: {said}")
            if channel == "telegram":
                request = telegram_update(700000000 + index * 100 + n, int(who), said)
            else:
                request = whatsapp_message(f"wamid.replay.{who}.{n}", str(who), said)
            deliveries.deliver(*request)
            for _ in range(random.choice((1, 2))):  # 2 or 3 deliveries in all, with jitter
                later = threading.Timer(random.uniform(0.0, 1.5), deliveries.deliver, request)
                later.start()
                extra.append(later)
            time.sleep(random.uniform(0.0, 0.4))

    senders = [
        threading.Thread(target=person, args=(channel, who, i))
        for i, (channel, who) in enumerate(people)
    ]
    began = time.monotonic()
    for sender in senders:
        sender.start()
    kills: list[float] = []
    while any(sender.is_alive() for sender in senders) or len(kills) < 6:
        time.sleep(random.uniform(0.2, 1.5))
        process = gateway.processes["gateway"]
        kills.append(time.monotonic())
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(random.uniform(0.0, 0.5))
        gateway.start()
    for thread in [*senders, *extra]:
        thread.join()

    def sent() -> dict[str, list[tuple[float, str]]]:
        """(when, text) of what each person was sent."""
        found: dict[str, list[tuple[float, str]]] = {}
        times = list(telegram.call_times)  # the stub appends the call, then its time
        for (method, params), at in zip(telegram.calls[: len(times)], times, strict=True):
            if method == "sendMessage":
                found.setdefault(params["chat_id"], []).append((at, params["text"]))
        for request in list(graph.requests):
            found.setdefault(request["json"]["to"], []).append(
                (request["at"], request["json"]["text"]["body"])
            )
        return found

    def resent_at_a_kill(replies: list[tuple[float, str]]) -> tuple[list[str], list[float]]:
        """The texts without the resends a kill explains, and for each resend when its kill came
        after the text's previous send (s; negative: before). A repeat is a resend when a kill
        came before it, at most RESEND_GAP_S after the previous send or IN_FLIGHT_S before it,
        and that kill explains no other repeat of the text."""
        last: dict[str, float] = {}
        used: set[tuple[str, float]] = set()
        texts, resent = [], []
        for at, said in replies:
            kill = next(
                (
                    kill
                    for kill in kills
                    if said in last
                    and -IN_FLIGHT_S <= kill - last[said] <= RESEND_GAP_S
                    and kill < at
                    and (said, kill) not in used
                ),
                None,
            )
            if kill is None:
                texts.append(said)
            else:
                used.add((said, kill))
                resent.append(round(kill - last[said], 3))
            last[said] = at
        return texts, resent

    def distinct() -> int:
        return sum(len({said for _, said in replies}) for replies in sent().values())

    deadline = time.monotonic() + 90
    while distinct() < sum(len(e) + 1 for e in expected.values()):
        assert time.monotonic() < deadline, "messages were lost"
        time.sleep(0.5)
    time.sleep(3)  # would a duplicate still come?
    received = {who: resent_at_a_kill(replies) for who, replies in sent().items()}
    resent = [offset for _, offsets in received.values() for offset in offsets]
    print(
        f"\n{len(kills)} kills, {deliveries.attempts} delivery attempts, "
        f"{deliveries.acknowledged} acknowledged, {len(resent)} resent at a kill "
        f"(kill - previous send, s: {resent}), "
        f"{time.monotonic() - began:.0f} s"
    )
    assert deliveries.acknowledged >= 2 * len(people) * MESSAGES  # really delivered repeatedly
    assert set(received) == set(expected)
    stored = sqlite3.connect(gateway.settings.var_dir / "gateway.db")
    for who, (replies, _) in received.items():
        queued = stored.execute(
            "SELECT count(*) FROM outbox WHERE kind = 'channel' AND status = 'sent'"
            " AND target LIKE ?",
            (f"%:{who}",),
        ).fetchone()[0]
        assert queued == 1 + MESSAGES, f"{who}: each answer stored and sent once, with the notice"
        notice, *answers = replies
        assert not notice.startswith("echo:"), f"{who}: the privacy notice comes first"
        timeline = [(round(at - began, 2), said[:24]) for at, said in sent()[who]]
        assert answers == expected[who], (
            f"{who}: duplicates, losses or disorder; "
            f"kills at {[round(kill - began, 2) for kill in kills]}, sent {timeline}"
        )
    stored.close()
