"""The action server down while Rasa is up: the person hears at once that we are in trouble, the
message is kept and not half-processed, and the bot answers it once the action server is back."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.launch import Stack
from tests.conftest import running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Its own stack: this test kills and restarts the action server."""
    var_dir = tmp_path_factory.mktemp("var")
    with running_stack(var_dir, rasa_servers=1, inbound_retry_s=0.5) as running:
        yield running


def _user_texts(stack: Stack, sender: str) -> list[str]:
    engine = create_engine(stack.settings.tracker_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user'"),
                {"s": sender},
            )
            return [json.loads(row.data)["text"] for row in rows]
    finally:
        engine.dispose()


def test_the_message_waits_for_the_action_server_and_is_answered_once(stack):
    base = f"http://{stack.settings.host}:{stack.settings.gateway_port}"
    sender = uuid.uuid4().hex
    actions = stack.processes["actions"]
    with httpx.Client(timeout=60) as client:
        first = client.post(f"{base}/api/chat", json={"sender_id": sender, "text": "Bonjour"})
        assert first.status_code == 200 and first.json()["messages"]

        os.killpg(actions.pid, signal.SIGKILL)
        actions.wait()
        said = "Mon resto à Ixelles perd de l'argent, je ne paie plus la TVA"
        down = client.post(f"{base}/api/chat", json={"sender_id": sender, "text": said})
        assert down.status_code == 503, down.text
        assert "1819" in down.json()["messages"][0]["text"]
        assert _user_texts(stack, f"web:{sender}") == ["Bonjour"], "the failed turn is not saved"

        stack.start(names=("actions",))

        deadline = time.monotonic() + 60
        while True:  # the gateway's worker sends the kept message again
            found = client.get(f"{base}/api/chat/messages", params={"sender_id": sender}).json()[
                "messages"
            ]
            asked = next(i for i, m in enumerate(found) if m["text"] == said)
            after = [m for m in found[asked:] if m["author"] == "bot"]
            if after:
                break
            assert time.monotonic() < deadline, f"never answered: {found[-3:]}"
            time.sleep(0.5)
    assert _user_texts(stack, f"web:{sender}") == ["Bonjour", said]
    answer = " ".join(m["text"] for m in after)
    assert "Combien de personnes" in answer, answer  # the intake goes on, with the story known
