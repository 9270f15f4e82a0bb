"""Two replicas on one PostgreSQL and one Redis: each replica is an action server, a Rasa server
(SQL tracker store on PostgreSQL, Redis lock store) and a gateway (its database on PostgreSQL).

One conversation alternates between the replicas message by message and Rasa's tracker keeps
every user message once, in order. Then replica A dies (SIGKILL, Rasa first, then its gateway
with a message it could not answer yet): the message is kept, replica B answers it, and the
conversation goes on there without losing anything. Last, PostgreSQL restarts in the middle of a
conversation, and the next message is answered in context and kept.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from bot.launch import MODEL, Stack, free_port
from bot.settings import get_settings

pytestmark = pytest.mark.e2e

CONVERSATION = [  # (message, what part of the answer shows it was understood in context)
    ("Bonjour", "Racontez-moi"),
    ("Mon resto à Ixelles perd de l'argent, je ne paie plus la TVA", "Combien de personnes"),
    ("trois", "C'est urgent pour vous ?"),
]
AFTER_THE_KILL = ("oui c'est urgent", "3 personnes travaillent pour vous, à Ixelles")


@pytest.fixture(scope="module")
def replicas(postgres, redis, tmp_path_factory):
    base = get_settings()
    if not (base.models_dir / MODEL).exists():
        pytest.fail("no trained model: `make test` trains it first")
    token = secrets.token_urlsafe(32)
    shared = dataclasses.replace(
        base,
        api_token=token,
        tracker_dialect="postgresql",
        tracker_host=f"127.0.0.1:{postgres.port}",
        tracker_db="rasa",
        tracker_user=postgres.user,
        lock_store_host=redis,
        lock_lifetime_s=20,
        database_url=postgres.url("gateway"),
        inbound_lease_s=3,
        inbound_retry_s=0.5,
        inbox_hours="mon-sun 00:00-23:59",
    )
    engines, gateways = [], []
    for name in ("a", "b"):
        settings = dataclasses.replace(
            shared,
            gateway_port=free_port(),
            rasa_port=free_port(),
            rasa_servers=1,  # one Rasa per replica: a replica dies as a whole
            action_port=free_port(),
            var_dir=tmp_path_factory.mktemp(f"replica_{name}"),
        )
        engines.append(Stack(settings, only=("actions", "rasa")))
        gateways.append(Stack(settings, only=("gateway",)))
    began = time.monotonic()
    try:
        # Replica A's Rasa creates the tracker tables; B starts once they exist (two servers
        # creating the same tables at the same moment can collide in PostgreSQL's catalogue).
        first = threading.Thread(target=engines[0].start, kwargs={"timeout_s": 300})
        first.start()
        tracker = create_engine(
            shared.tracker_url.replace("postgresql://", "postgresql+psycopg://"),
            pool_pre_ping=True,  # the last test restarts PostgreSQL
        )
        while "events" not in inspect(tracker).get_table_names():
            assert time.monotonic() - began < 240, "Rasa A never created its tracker tables"
            time.sleep(0.5)
        second = threading.Thread(target=engines[1].start, kwargs={"timeout_s": 300})
        second.start()
        for gateway in gateways:
            gateway.start()
        first.join()
        second.join()
        for stack in engines:
            assert set(stack.processes) == {"actions", "rasa"}, "a replica did not start"
        print(f"\nTwo replicas ready in {time.monotonic() - began:.0f} s")
        yield engines, gateways, tracker
    finally:
        for stack in [*gateways, *engines]:
            stack.stop()


def url(stack: Stack) -> str:
    return f"http://{stack.settings.host}:{stack.settings.gateway_port}"


def user_texts(tracker, sender: str) -> list[str]:
    with tracker.connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
            {"s": sender},
        )
        return [json.loads(row.data)["text"] for row in rows]


def kill(stack: Stack, name: str) -> None:
    process = stack.processes[name]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_conversation_alternates_between_replicas_and_survives_one_dying(replicas):
    engines, gateways, tracker = replicas
    sender = uuid.uuid4().hex
    conversation = f"web:{sender}"
    with httpx.Client(timeout=90) as client:
        for turn, (said, expected) in enumerate(CONVERSATION):
            gateway = gateways[turn % 2]  # A, B, A: and each gateway talks to its own Rasa
            answer = client.post(
                f"{url(gateway)}/api/chat", json={"sender_id": sender, "text": said}
            )
            assert answer.status_code == 200, answer.text
            shown = " ".join(m["text"] for m in answer.json()["messages"])
            assert expected in shown, f"turn {turn} on replica {'ab'[turn % 2]}: {shown}"
        assert user_texts(tracker, conversation) == [said for said, _ in CONVERSATION]

        # Replica A dies: its Rasa first, so its gateway keeps a message it cannot answer...
        kill(engines[0], "rasa")
        said, expected = AFTER_THE_KILL
        down = client.post(f"{url(gateways[0])}/api/chat", json={"sender_id": sender, "text": said})
        assert down.status_code == 503 and "1819" in down.json()["messages"][0]["text"]
        kill(gateways[0], "gateway")
        kill(engines[0], "actions")
        # ...which replica B answers, by itself, once A's lease on the conversation has lapsed.
        deadline = time.monotonic() + 60
        while True:
            found = client.get(
                f"{url(gateways[1])}/api/chat/messages", params={"sender_id": sender}
            ).json()["messages"]
            shown = [m["text"] for m in found]
            if any(expected in t for t in shown):
                break
            assert time.monotonic() < deadline, f"replica B never answered: {shown[-3:]}"
            time.sleep(0.5)
        # The conversation goes on on replica B.
        more = client.post(
            f"{url(gateways[1])}/api/chat", json={"sender_id": sender, "text": "Merci"}
        )
        assert more.status_code == 200 and more.json()["messages"], more.text

    expected_said = [s for s, _ in CONVERSATION] + [AFTER_THE_KILL[0], "Merci"]
    assert user_texts(tracker, conversation) == expected_said  # every message once, in order
    people = [m for m in found if m["author"] == "person"]
    assert [m["text"] for m in people] == expected_said[:-1]


def test_a_database_restart_loses_nothing(replicas, postgres):
    """Replica B (A is dead by now): two turns, PostgreSQL restarts, the third turn is answered
    in the conversation's context, and the tracker and the gateway hold all three."""
    _, gateways, tracker = replicas
    sender = uuid.uuid4().hex
    with httpx.Client(timeout=90) as client:

        def say(said: str) -> str:
            answer = client.post(
                f"{url(gateways[1])}/api/chat", json={"sender_id": sender, "text": said}
            )
            assert answer.status_code == 200, answer.text
            return " ".join(m["text"] for m in answer.json()["messages"])

        for said, expected in CONVERSATION[:2]:
            assert expected in say(said)
        postgres.restart()
        said, expected = CONVERSATION[2]
        assert expected in say(said)  # Rasa still knew the sector and the story
        stored = client.get(
            f"{url(gateways[1])}/api/chat/messages", params={"sender_id": sender}
        ).json()["messages"]
    assert user_texts(tracker, f"web:{sender}") == [said for said, _ in CONVERSATION]
    people = [m["text"] for m in stored if m["author"] == "person"]
    assert people == [said for said, _ in CONVERSATION]
