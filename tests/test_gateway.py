"""The gateway alone: chat page, bad input and an engine that does not answer."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from bot.gateway.app import create_app
from bot.launch import free_port
from bot.settings import get_settings


@pytest.fixture
def client(tmp_path):
    # Nothing listens on this port: every relay attempt meets a refused connection.
    settings = dataclasses.replace(
        get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}", var_dir=tmp_path
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_page_follows_the_browser_language(client):
    dutch = client.get("/", headers={"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.8"})
    assert '<html lang="nl">' in dutch.text and 'data-lang="nl"' in dutch.text
    french = client.get("/", headers={"Accept-Language": "fr-BE,fr;q=0.9"})
    assert '<html lang="fr">' in french.text and 'data-lang="fr"' in french.text
    assert '<html lang="fr">' in client.get("/", headers={"Accept-Language": "de"}).text


def test_page_language_can_be_chosen_in_the_address(client):
    page = client.get("/?lang=nl", headers={"Accept-Language": "fr"})
    assert '<html lang="nl">' in page.text and 'data-mode="page"' in page.text


def test_the_widget_is_served_with_its_words_and_answers_other_sites(client):
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert client.get("/widget.css").headers["content-type"].startswith("text/css")
    config = client.get("/api/widget/config", headers={"Origin": "https://partner.example"})
    assert config.headers["access-control-allow-origin"] == "*"
    texts = config.json()["texts"]
    assert texts["fr"]["send"] == "Envoyer" and texts["nl"]["send"] == "Versturen"
    assert set(texts["fr"]) == set(texts["nl"]) and config.json()["max_chars"] == 2000
    demo = client.get("/demo?lang=nl")
    assert '<script src="/widget.js" data-lang="nl" defer>' in demo.text


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_message_is_refused_clearly(client, text):
    response = client.post(
        "/api/chat", json={"sender_id": "abcdefgh", "text": text, "language": "nl"}
    )
    assert response.status_code == 422
    assert response.json() == {"error": "error_empty", "message": "Het bericht is leeg."}


def test_huge_message_is_refused_with_the_limit(client):
    response = client.post("/api/chat", json={"sender_id": "abcdefgh", "text": "a" * 10_000})
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "error_too_long"
    assert "2000" in body["message"]["fr"] and "2000" in body["message"]["nl"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"sender_id": "abcdefgh"}',
        b'{"sender_id": "x", "text": "hello"}',
        b'{"sender_id": "abcdefgh", "text": "hi", "admin": true}',
        b'{"sender_id": "abcdefgh", "text": "hi", "language": "de"}',
        b'{"sender_id": "../../etc/passwd", "text": "hi"}',
        b"[]",
    ],
)
def test_malformed_requests_get_a_clean_422(client, body):
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "error_bad_request"
    assert "Traceback" not in response.text


def test_engine_down_answers_with_help_in_the_persons_language(client):
    response = client.post(
        "/api/chat", json={"sender_id": "abcdefgh", "text": "bonjour", "language": "fr"}
    )
    assert response.status_code == 503
    (message,) = response.json()["messages"]
    assert "1819" in message["text"] and "0800 32 123" in message["text"]
    dutch = client.post(
        "/api/chat", json={"sender_id": "abcdefgh", "text": "hoi", "language": "nl"}
    )
    assert "1813" in dutch.json()["messages"][0]["text"]


def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_what_the_gateway_holds_from_its_start_is_left_out_of_full_collections(tmp_path):
    """Frozen while it runs (gc.freeze: full collections skip it), given back when it stops."""
    import gc

    settings = dataclasses.replace(get_settings(), var_dir=tmp_path)
    before = gc.get_freeze_count()
    with TestClient(create_app(settings)):
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0, "given back"
