"""The gateway's Rasa client with several servers: one server per conversation, the next one
when it refuses the connection, and no second try once a server accepted the message."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI, Request, Response

from bot.gateway.rasa_client import EngineUnavailable, RasaClient
from bot.launch import free_port
from tests.connectors.conftest import serve


def _server(name: str, received: list[tuple[str, str]], status: int = 200) -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def answer(request: Request):
        body = await request.json()
        received.append((name, body["sender"]))
        if status != 200:
            return Response(status_code=status)
        return [{"text": f"{name} answers {body['message']}"}]

    return app


def _send_all(client: RasaClient, senders: list[str]) -> list[str]:
    async def run() -> list[str]:
        try:
            return [(await client.send(s, "bonjour")).answers[0]["text"] for s in senders]
        finally:
            await client.close()

    return asyncio.run(run())


def test_each_conversation_stays_on_one_server_and_both_are_used():
    received: list[tuple[str, str]] = []
    senders = [f"person-{i}" for i in range(20)]
    with serve(_server("a", received)) as a, serve(_server("b", received)) as b:
        _send_all(RasaClient([a, b], 5), senders * 3)
    servers_of = {}
    for name, sender in received:
        servers_of.setdefault(sender, set()).add(name)
    assert all(len(names) == 1 for names in servers_of.values())
    assert {name for name, _ in received} == {"a", "b"}
    assert len(received) == 60


def test_a_server_that_refuses_connections_is_skipped():
    received: list[tuple[str, str]] = []
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    senders = [f"person-{i}" for i in range(10)]
    with serve(_server("b", received)) as b:
        answers = _send_all(RasaClient([down, b], 5), senders)
    assert answers == ["b answers bonjour"] * 10
    assert [sender for _, sender in received] == senders


def test_no_server_up_is_engine_unavailable():
    client = RasaClient([f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"], 5)
    with pytest.raises(EngineUnavailable):
        _send_all(client, ["person"])


def test_a_server_that_failed_after_accepting_is_not_replaced():
    """It may have processed the message: asking another server could answer it twice."""
    received: list[tuple[str, str]] = []
    with serve(_server("a", received, status=500)) as a, serve(_server("b", received)) as b:
        client = RasaClient([a, b], 5)
        sender = next(s for s in (f"p{i}" for i in range(50)) if client.servers_for(s)[0] == a)
        with pytest.raises(EngineUnavailable):
            _send_all(client, [sender])
    assert received == [("a", sender)]


def test_the_profile_comes_apart_from_the_answers_and_a_bad_one_costs_no_answer(caplog):
    """The action server's custom message carries the profile; Rasa's REST channel sends it
    among the answers (`{"custom": ...}`), and the person never sees it."""
    turns = {
        "bonjour": [
            {"recipient_id": "p", "custom": {"relais_profile": {"sector": "horeca", "workers": 2}}},
            {"recipient_id": "p", "text": "Combien ?", "buttons": [{"title": "0", "payload": "0"}]},
        ],
        "et alors": [
            {"recipient_id": "p", "custom": {"relais_profile": {"workers": -1, "name": "Anke"}}},
            {"recipient_id": "p", "text": "Je vous écoute."},
        ],
    }
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def answer(request: Request):
        return turns[(await request.json())["message"]]

    async def run(url: str) -> list:
        client = RasaClient(url, 5)
        try:
            return [await client.send("p", said) for said in turns]
        finally:
            await client.close()

    with serve(app) as url:
        first, second = asyncio.run(run(url))
    assert first.answers == [{"text": "Combien ?", "buttons": [{"title": "0", "payload": "0"}]}]
    assert (first.profile.sector, first.profile.workers) == ("horeca", 2)
    assert second == ([{"text": "Je vous écoute."}], None)
    assert "invalid profile from the engine dropped: ['name', 'workers']" in caplog.text
    assert "Anke" not in caplog.text  # the fields' names only, never a value


def test_messages_to_one_server_reuse_one_connection():
    ports: list[int] = []
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def answer(request: Request):
        ports.append(request.client.port)
        return [{"text": "ok"}]

    with serve(app) as url:
        assert _send_all(RasaClient(url, 5), ["p"] * 3) == ["ok"] * 3
    assert len(ports) == 3 and len(set(ports)) == 1
