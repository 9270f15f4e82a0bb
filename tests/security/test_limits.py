"""Rate limits (per web-chat sender, per address, per address on the login form), body size
limits, strict content types, the login lockout and session expiry, through the whole gateway."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bot.gateway.security import RequestGuard, Security, TokenBuckets, limits_of
from bot.gateway.store.models import Counsellor, LoginSession, Message, now
from bot.settings import get_settings
from tests.gateway.conftest import sign_in
from tests.security.conftest import AUTH, JSON_HEADERS, SENDER, limits, signed_in

DEFAULTS = limits_of(get_settings())
SENDER_PER_MINUTE = DEFAULTS.sender_per_minute
IP_PER_MINUTE = DEFAULTS.ip_per_minute
LOGIN_PER_MINUTE = DEFAULTS.login_per_minute


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chat(client: TestClient, text: str = "Bonjour", sender: str = SENDER):
    return client.post("/api/chat", json={"sender_id": sender, "text": text})


def person_messages(client: TestClient) -> int:
    with client.app.state.sessions() as session:
        return session.scalar(select(func.count()).where(Message.author == "person"))


def assert_too_many(response, most_seconds: float) -> int:
    """A clear 429: Retry-After in whole seconds, said in both languages; returns it."""
    assert response.status_code == 429
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= most_seconds
    message = response.json()["message"]
    assert response.json()["error"] == "security_rate_limited"
    assert f"{seconds} secondes" in message["fr"] and f"{seconds} seconden" in message["nl"]
    return seconds


def test_a_burst_from_one_sender_gets_429_and_the_refused_message_is_not_kept(gateway, rasa):
    client = gateway(limiter=TokenBuckets(clock=Clock()))
    answers = [chat(client, f"message {n}") for n in range(SENDER_PER_MINUTE)]
    assert {answer.status_code for answer in answers} == {200}
    assert_too_many(chat(client, "one too many"), 60 / SENDER_PER_MINUTE)
    assert person_messages(client) == SENDER_PER_MINUTE == len(rasa.received)
    assert chat(client, sender="another-sender").status_code == 200  # same address, other person


def test_the_sender_may_write_again_after_retry_after(gateway):
    clock = Clock()
    client = gateway(limiter=TokenBuckets(clock=clock))
    for _ in range(SENDER_PER_MINUTE):
        chat(client)
    seconds = assert_too_many(chat(client), 60)
    clock.now += seconds
    assert chat(client).status_code == 200
    assert chat(client).status_code == 429


def test_a_burst_from_one_address_gets_429_that_the_partner_page_can_read(gateway):
    client = gateway(limiter=TokenBuckets(clock=Clock()))  # time stands still meanwhile
    partner = {"Origin": "https://partner.example"}
    for _ in range(IP_PER_MINUTE):
        assert client.get("/api/widget/config", headers=partner).status_code == 200
    refused = client.get("/api/widget/config", headers=partner)
    assert_too_many(refused, 60 / IP_PER_MINUTE + 1)
    assert refused.headers["access-control-allow-origin"] == "*"
    assert chat(client).status_code == 429  # every API route of that address
    assert client.get("/").status_code == 200  # pages are not limited
    elsewhere = TestClient(client.app, client=("203.0.113.9", 50000))
    assert elsewhere.get("/api/widget/config").status_code == 200


def test_only_refused_calls_of_the_internal_api_count(gateway):
    client = gateway(limits=limits(ip_per_minute=5))
    erasure = {"conversation_id": f"web:{SENDER}"}
    for _ in range(20):  # the action server, many conversations at once
        assert client.post("/api/erasures", json=erasure, headers=AUTH).status_code == 202
    wrong = {"Authorization": "Bearer guessed"}
    for _ in range(5):
        assert client.post("/api/erasures", json=erasure, headers=wrong).status_code == 401
    assert client.post("/api/erasures", json=erasure, headers=AUTH).status_code == 429
    elsewhere = TestClient(client.app, client=("10.0.0.7", 50000))
    assert elsewhere.post("/api/erasures", json=erasure, headers=AUTH).status_code == 202


@pytest.mark.parametrize(
    ("path", "size", "headers"),
    [
        ("/api/chat", 64 * 1024 + 1, JSON_HEADERS),
        ("/inbox/login", 64 * 1024 + 1, {"Content-Type": "application/x-www-form-urlencoded"}),
        ("/webhooks/telegram", 1024 * 1024 + 1, JSON_HEADERS),
        ("/api/handoffs", 4 * 1024 * 1024 + 1, {**JSON_HEADERS, **AUTH}),
    ],
)
def test_oversize_bodies_get_413_in_both_languages(gateway, path, size, headers):
    response = gateway().post(path, content=b"a" * size, headers=headers)
    assert response.status_code == 413
    limit = (size - 1) // 1024
    if path.startswith("/inbox"):
        assert f"maximum {limit} Kio" in response.text and f"maximum {limit} KiB" in response.text
    else:
        assert response.json()["error"] == "security_too_large"
        assert f"{limit} Kio" in response.json()["message"]["fr"]


def test_webhooks_may_carry_more_than_the_chat(gateway):
    client = gateway()
    body = b"a" * (200 * 1024)
    assert client.post("/webhooks/telegram", content=body, headers=JSON_HEADERS).status_code == 404
    assert client.post("/api/chat", content=body, headers=JSON_HEADERS).status_code == 413


def test_an_endless_body_is_refused_without_reading_it_all():
    """Sent in chunks without Content-Length: the guard stops reading at the limit."""
    chunks_read = 0
    reached_app = False

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"a" * 1024, "more_body": True}

    async def app(scope, receive, send):
        nonlocal reached_app
        reached_app = True

    sent = []

    async def send(message):
        sent.append(message)

    guard = RequestGuard(app, Security(DEFAULTS, TokenBuckets()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/chat",
        "headers": [(b"content-type", b"application/json")],
        "client": ("198.51.100.1", 4000),
    }
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 413 and not reached_app
    assert chunks_read == 65  # 64 KiB, then the chunk that goes over


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/chat", None),
        ("/api/chat", "text/plain"),
        ("/api/chat", "application/x-www-form-urlencoded"),
        ("/api/chat", "multipart/form-data; boundary=x"),
        ("/api/chat", "application/jsonp"),
        ("/api/chat", "text/json"),
        ("/api/handoffs", "text/plain"),
        ("/webhooks/telegram", "text/plain"),
        ("/webhooks/whatsapp", "application/x-www-form-urlencoded"),
        ("/inbox/login", "application/json"),
        ("/inbox/login", "multipart/form-data; boundary=x"),
        ("/inbox/logout", "text/plain"),
    ],
)
def test_wrong_content_types_get_415(gateway, path, content_type):
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    response = gateway().post(path, content=b'{"sender_id": "abcdefgh12"}', headers=headers)
    assert response.status_code == 415
    assert "Type de contenu refusé" in response.text and "Inhoudstype geweigerd" in response.text


def test_json_with_a_charset_or_in_capitals_is_json(gateway):
    client = gateway()
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        body = b'{"sender_id": "abcdefgh12", "text": "Bonjour"}'
        response = client.post("/api/chat", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200


def test_login_lockout_after_the_allowed_failures(gateway, gateway_settings, coordinator):
    client = gateway(follow_redirects=False)
    for _ in range(gateway_settings.login_max_failures):
        refused = sign_in(client, coordinator, "not the password")
        assert refused.headers["location"] == "/inbox/login?failed=1"
    locked = sign_in(client, coordinator)  # the right password, but the account is locked
    assert locked.headers["location"] == "/inbox/login?failed=1"
    with client.app.state.sessions() as session:
        until = session.scalar(select(Counsellor.locked_until))
        minutes = gateway_settings.login_lockout_minutes
        assert now() + timedelta(minutes=minutes - 1) < until <= now() + timedelta(minutes=minutes)
        session.execute(update(Counsellor).values(locked_until=now() - timedelta(seconds=1)))
        session.commit()
    assert sign_in(client, coordinator).headers["location"] == "/inbox"


def test_login_attempts_from_one_address_are_throttled(gateway):
    client = gateway(follow_redirects=False)
    form = {"username": "cora", "password": "guess", "csrf": "x"}
    for _ in range(LOGIN_PER_MINUTE):
        assert client.post("/inbox/login", data=form).status_code == 403  # no CSRF cookie
    refused = client.post("/inbox/login", data=form)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"].startswith("text/plain")
    assert "Réessayez dans" in refused.text and "Probeer opnieuw over" in refused.text
    assert client.get("/inbox/login").status_code == 200  # the form itself still shows


def test_an_expired_session_is_refused_and_deleted(gateway, coordinator):
    client = signed_in(gateway(follow_redirects=False), coordinator)
    assert client.get("/inbox").status_code == 200
    with client.app.state.sessions() as session:
        session.execute(update(LoginSession).values(expires_at=now() - timedelta(seconds=1)))
        session.commit()
    answer = client.get("/inbox")
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox/login"
    assert client.get("/inbox/queue").status_code == 401
    with client.app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 0


def test_the_limiter_forgets_full_buckets_and_the_least_recent_beyond_its_size():
    clock = Clock()
    buckets = TokenBuckets(clock=clock, max_keys=3)
    for key in ("a", "b", "c", "d"):
        assert buckets.take(key, 1) == 0
    assert list(buckets.buckets) == ["b", "c", "d"]  # "a" was the least recently used
    assert buckets.take("d", 1) == pytest.approx(60)
    clock.now += 60  # a minute later every bucket is full again: none is kept
    assert buckets.wait("e", 1) == 0 and list(buckets.buckets) == ["e"]
