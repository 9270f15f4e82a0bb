"""A corpus of forged, malformed and replayed webhook deliveries against the gateway with both
channels on: every forged or malformed one is refused and leaves nothing behind; a replayed
delivery is accepted once and answered once; the channels' own servers are never throttled."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.gateway.security import install_security
from bot.gateway.store.models import Conversation, InboundEvent, Message
from tests.connectors.conftest import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WHATSAPP_APP_SECRET,
    WHATSAPP_TOKEN,
    WHATSAPP_VERIFY_TOKEN,
)
from tests.connectors.test_telegram import message_update
from tests.connectors.test_whatsapp import incoming, webhook
from tests.security.conftest import limits

JSON = "application/json"
TELEGRAM_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MIB = 1024 * 1024
ANSWER = "Bonjour ! Que se passe-t-il ?"  # what the Rasa stub answers to everything
# What a JSON parser may choke on: recursion, a number past Python's 4300-digit limit.
BOMBS = {
    "nested arrays": b"[" * 400_000 + b"]" * 400_000,
    "nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "a 5000-digit number": b'{"update_id": ' + b"9" * 5000 + b"}",
}


@dataclass(frozen=True)
class Attempt:
    """One request of the corpus and the refusal it must get."""

    name: str
    path: str
    body: bytes
    headers: dict[str, str]
    expected: int
    method: str = "POST"


def digest(body: bytes, key: str = WHATSAPP_APP_SECRET, algorithm=hashlib.sha256) -> str:
    return hmac.new(key.encode(), body, algorithm).hexdigest()


def signed(body: bytes, signature: str | None = None) -> dict[str, str]:
    """WhatsApp headers: the right signature of the body unless another is given."""
    return {"Content-Type": JSON, SIGNATURE_HEADER: signature or f"sha256={digest(body)}"}


def with_secret(secret: str = TELEGRAM_SECRET) -> dict[str, str]:
    return {"Content-Type": JSON, TELEGRAM_HEADER: secret}


def telegram_body(update_id: int = 555_000_001, text: str = "Mon resto coule") -> bytes:
    return json.dumps(message_update(update_id, text=text), ensure_ascii=False).encode()


def whatsapp_body(text: str = "Ça ne va pas, j'ai peur", wamid: str = "wamid.FORGED1") -> bytes:
    payload = webhook(incoming("text", wamid=wamid, text={"body": text}))
    return json.dumps(payload, ensure_ascii=False, indent=1).encode()


def forged_telegram() -> Iterator[Attempt]:
    body = telegram_body()
    headers = {
        "no secret": {"Content-Type": JSON},
        "empty secret": with_secret(""),
        "guessed secret": with_secret("relais-webhook-secret"),
        "secret in capitals": with_secret(TELEGRAM_SECRET.upper()),
        "secret minus its last character": with_secret(TELEGRAM_SECRET[:-1]),
        "secret plus one character": with_secret(TELEGRAM_SECRET + "x"),
        "the bot token as secret": with_secret(TELEGRAM_TOKEN),
        "the WhatsApp app secret as secret": with_secret(WHATSAPP_APP_SECRET),
        "secret under another header name": {"Content-Type": JSON, "X-Telegram-Secret": "x"},
        "secret as a bearer token": {"Content-Type": JSON, "Authorization": TELEGRAM_SECRET},
        "a WhatsApp signature instead": signed(body),
    }
    for name, given in headers.items():
        yield Attempt(f"telegram: {name}", "/webhooks/telegram", body, given, 403)
    in_body = json.dumps({**message_update(555_000_001), "secret_token": TELEGRAM_SECRET})
    yield Attempt(
        "telegram: secret in the body",
        "/webhooks/telegram",
        in_body.encode(),
        {"Content-Type": JSON},
        403,
    )
    yield Attempt(
        "telegram: secret in the query string",
        f"/webhooks/telegram?secret_token={TELEGRAM_SECRET}",
        body,
        {"Content-Type": JSON},
        403,
    )


def forged_whatsapp() -> Iterator[Attempt]:
    body = whatsapp_body()
    compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    escaped = json.dumps(json.loads(body)).encode()  # the same JSON, non-ASCII as \u escapes
    tampered = body.replace(b"j'ai peur", b"tout va bien")
    other = whatsapp_body("un autre message", wamid="wamid.OTHER")
    signatures = {
        "no signature": ({"Content-Type": JSON}, body),
        "empty signature": (signed(body, " "), body),
        "prefix alone": (signed(body, "sha256="), body),
        "signed with a guessed secret": (signed(body, f"sha256={digest(body, 'guess')}"), body),
        "signed with the verify token": (
            signed(body, f"sha256={digest(body, WHATSAPP_VERIFY_TOKEN)}"),
            body,
        ),
        "signed with the access token": (
            signed(body, f"sha256={digest(body, WHATSAPP_TOKEN)}"),
            body,
        ),
        "legacy SHA-1 header only": (
            {
                "Content-Type": JSON,
                "X-Hub-Signature": f"sha1={digest(body, algorithm=hashlib.sha1)}",
            },
            body,
        ),
        "SHA-1 under the SHA-256 header": (
            signed(body, f"sha256={digest(body, algorithm=hashlib.sha1)}"),
            body,
        ),
        "digest in capitals": (signed(body, f"sha256={digest(body).upper()}"), body),
        "digest without its prefix": (signed(body, digest(body)), body),
        "digest under another prefix": (signed(body, f"sha1={digest(body)}"), body),
        "signature of the compact JSON, pretty JSON sent": (signed(compact), body),
        "signature of the pretty JSON, compact JSON sent": (signed(body), compact),
        "signature of the UTF-8 JSON, \\u-escaped JSON sent": (signed(body), escaped),
        "a trailing newline added after signing": (signed(body), body + b"\n"),
        "truncated after signing": (signed(body), body[: len(body) // 2]),
        "text changed after signing": (signed(body), tampered),
        "another delivery's signature": (signed(other), body),
        "gzip of the body, signature of the plain body": (
            {**signed(body), "Content-Encoding": "gzip"},
            gzip.compress(body),
        ),
    }
    for name, (headers, sent) in signatures.items():
        yield Attempt(f"whatsapp: {name}", "/webhooks/whatsapp", sent, headers, 403)
    handshakes = {
        "wrong verify token": "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        "no verify token": "hub.mode=subscribe&hub.challenge=1",
        "verify token in capitals": (
            f"hub.mode=subscribe&hub.verify_token={WHATSAPP_VERIFY_TOKEN.upper()}&hub.challenge=1"
        ),
        "another mode": (
            f"hub.mode=unsubscribe&hub.verify_token={WHATSAPP_VERIFY_TOKEN}&hub.challenge=1"
        ),
        "no parameters": "",
    }
    for name, query in handshakes.items():
        yield Attempt(
            f"whatsapp handshake: {name}", f"/webhooks/whatsapp?{query}", b"", {}, 403, "GET"
        )


def malformed_bodies(valid: bytes, wrong_shapes: dict[str, object]) -> dict[str, bytes]:
    """Bodies a parser must refuse, for a channel whose valid body is given."""
    bodies = {
        "empty body": b"",
        "not JSON": b"{not json",
        "truncated JSON": valid[: len(valid) // 2],
        "non-UTF-8 bytes": valid.replace(b"resto", b"\xff\xfe\xfd").replace(b"peur", b"\xc3("),
        "Latin-1 text": valid.decode()
        .replace("resto", "résto")
        .replace("peur", "péur")
        .encode("latin-1"),
        "UTF-8 with a NUL byte before the JSON": b"\x00" + valid,
        **BOMBS,
    }
    return bodies | {name: json.dumps(value).encode() for name, value in wrong_shapes.items()}


def malformed_telegram() -> Iterator[Attempt]:
    shapes = {
        "a JSON array": [],
        "a JSON string": "update",
        "JSON null": None,
        "no update_id": {"message": message_update()["message"]},
        "update_id as a string": {**message_update(), "update_id": "555"},
        "update_id as a boolean": {**message_update(), "update_id": True},
        "update_id as a float": {**message_update(), "update_id": 5.5},
        "message as a string": {"update_id": 556, "message": "Bonjour"},
        "chat as a number": {"update_id": 557, "message": {"chat": 5, "text": "Bonjour"}},
    }
    for name, body in malformed_bodies(telegram_body(), shapes).items():
        yield Attempt(f"telegram: {name}", "/webhooks/telegram", body, with_secret(), 400)


def malformed_whatsapp() -> Iterator[Attempt]:
    message = incoming("text", text={"body": "Bonjour"})
    shapes = {
        "a JSON array": [],
        "no entry": {"object": "whatsapp_business_account"},
        "entry as a string": {"entry": "x"},
        "changes as a string": {"entry": [{"changes": "x"}]},
        "value as a list": {"entry": [{"changes": [{"field": "messages", "value": []}]}]},
        "message without id": webhook({k: v for k, v in message.items() if k != "id"}),
        "sender as a number": webhook({**message, "from": 32470123456}),
        "timestamp in Arabic digits": webhook({**message, "timestamp": "١٧١٧٠٠٠٠٠٠"}),
        "text body as a number": webhook({**message, "text": {"body": 42}}),
        "status without recipient": webhook(statuses=({"id": "wamid.X", "status": "failed"},)),
    }
    for name, body in malformed_bodies(whatsapp_body(), shapes).items():
        yield Attempt(f"whatsapp: {name}", "/webhooks/whatsapp", body, signed(body), 400)


def refused_before_authentication() -> Iterator[Attempt]:
    """Wrong content types, huge bodies and wrong methods, with valid credentials."""
    channels = {
        "telegram": (telegram_body(), with_secret),
        "whatsapp": (whatsapp_body(), lambda: signed(whatsapp_body())),
    }
    for channel, (body, credentials) in channels.items():
        path = f"/webhooks/{channel}"
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/xml"):
            headers = {**credentials(), "Content-Type": content_type}
            yield Attempt(f"{channel}: sent as {content_type}", path, body, headers, 415)
        no_type = {k: v for k, v in credentials().items() if k != "Content-Type"}
        yield Attempt(f"{channel}: no content type", path, body, no_type, 415)
        huge = body + b" " * MIB
        huge_headers = signed(huge) if channel == "whatsapp" else credentials()
        yield Attempt(f"{channel}: a body over 1 MiB", path, huge, huge_headers, 413)
        for method in ("PUT", "DELETE"):
            yield Attempt(f"{channel}: {method}", path, body, credentials(), 405, method)


def corpus() -> list[Attempt]:
    return [
        *forged_telegram(),
        *forged_whatsapp(),
        *malformed_telegram(),
        *malformed_whatsapp(),
        *refused_before_authentication(),
    ]


def stored(client) -> dict[str, int]:
    with client.app.state.sessions() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (InboundEvent, Conversation, Message)
        }


def test_every_forged_or_malformed_delivery_is_refused_and_leaves_nothing(
    channels, rasa, telegram_stub, graph_stub
):
    attempts = corpus()
    answers = {
        attempt.name: channels.request(
            attempt.method, attempt.path, content=attempt.body, headers=attempt.headers
        ).status_code
        for attempt in attempts
    }
    assert len(answers) == len(attempts) >= 80  # names are unique
    assert answers == {attempt.name: attempt.expected for attempt in attempts}
    time.sleep(0.3)  # would anything be answered in the background?
    assert stored(channels) == {"InboundEvent": 0, "Conversation": 0, "Message": 0}
    assert rasa.received == [] and telegram_stub.sent() == [] and graph_stub.requests == []


def test_a_replayed_delivery_is_accepted_once_and_answered_once(
    channels, rasa, telegram_stub, graph_stub
):
    update = telegram_body()
    telegram_again = json.dumps(json.loads(update), indent=2, sort_keys=True).encode()
    whatsapp = whatsapp_body()
    # Meta's retry may come in another envelope: the message id is what identifies it.
    message = json.loads(whatsapp)["entry"][0]["changes"][0]["value"]["messages"][0]
    whatsapp_again = json.dumps(webhook(message)).encode()
    deliveries = [
        ("/webhooks/telegram", update, with_secret()),
        ("/webhooks/telegram", update, with_secret()),
        ("/webhooks/telegram", telegram_again, with_secret()),
        ("/webhooks/whatsapp", whatsapp, signed(whatsapp)),
        ("/webhooks/whatsapp", whatsapp, signed(whatsapp)),
        ("/webhooks/whatsapp", whatsapp_again, signed(whatsapp_again)),
    ]
    news = [
        channels.post(path, content=body, headers=headers).json()["new"]
        for path, body, headers in deliveries
    ]
    assert news == [1, 0, 0, 1, 0, 0]
    deadline = time.monotonic() + 10
    while answered(telegram_stub, graph_stub) != (1, 1):
        assert time.monotonic() < deadline, "the two answers did not leave"
        time.sleep(0.05)
    time.sleep(0.5)  # would a second answer follow?
    assert answered(telegram_stub, graph_stub) == (1, 1) and len(rasa.received) == 2
    assert stored(channels)["InboundEvent"] == 2


def answered(telegram_stub, graph_stub) -> tuple[int, int]:
    """How many times the bot's answer (the Rasa stub's) went out on Telegram and WhatsApp."""
    on_telegram = [call["text"] for call in telegram_stub.sent()].count(ANSWER)
    on_whatsapp = [
        body.get("interactive", {}).get("body", {}).get("text") for body in graph_stub.bodies
    ].count(ANSWER)
    return on_telegram, on_whatsapp


def test_the_channels_servers_are_never_throttled_but_a_forger_is(channels, gateway_settings):
    install_security(channels.app, gateway_settings, limits(ip_per_minute=10))
    for update_id in range(1, 31):  # every person's messages come from Telegram's addresses
        body = telegram_body(update_id, f"message {update_id}")
        assert channels.post("/webhooks/telegram", content=body, headers=with_secret()).json()[
            "new"
        ]
    forged = with_secret("guess")
    answers = [
        channels.post("/webhooks/telegram", content=telegram_body(99), headers=forged)
        for _ in range(11)
    ]
    assert [a.status_code for a in answers] == [403] * 10 + [429]


def test_a_signed_delivery_with_half_an_emoji_keeps_the_rest_of_the_message(channels):
    """A lone UTF-16 surrogate cannot be stored or sent: it becomes U+FFFD, the rest is kept
    for the bot, and a whole emoji sent as a surrogate pair arrives whole."""
    body = json.dumps(message_update(558, text="a\ud800b \ud83d\ude00")).encode()
    answer = channels.post("/webhooks/telegram", content=body, headers=with_secret())
    assert answer.status_code == 200
    with channels.app.state.sessions() as session:
        said = session.scalars(select(Message.text).where(Message.author == "person")).all()
    assert said == ["a\ufffdb \U0001f600"]


def test_a_web_chat_message_with_half_an_emoji_keeps_the_rest_of_the_message(channels, rasa):
    body = b'{"sender_id": "abcdefgh12", "text": "bonjour \\ud83d"}'
    answer = channels.post("/api/chat", content=body, headers={"Content-Type": JSON})
    assert answer.status_code == 200
    assert rasa.received[-1]["message"] == "bonjour \ufffd"


@pytest.mark.parametrize("text", [5, None, ["a"], {"a": 1}])
def test_a_web_chat_message_that_is_not_text_gets_a_clear_422(channels, rasa, text):
    answer = channels.post("/api/chat", json={"sender_id": "abcdefgh12", "text": text})
    assert answer.status_code == 422 and answer.json()["error"] == "error_bad_request"
    assert rasa.received == []
