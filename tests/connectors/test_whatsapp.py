"""WhatsApp adapter: signed Cloud API webhooks in, Graph API calls to a local stub out."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import Forged, Inbound, Malformed, SendFailed
from connectors.whatsapp import WhatsAppChannel, WindowClosed

from .conftest import (
    PHONE_NUMBER_ID,
    WHATSAPP_APP_SECRET,
    WHATSAPP_TOKEN,
    WHATSAPP_VERIFY_TOKEN,
    channel_settings,
    fuzz,
    json_values,
    mostly,
    parses_or_refuses,
)

SOPHIE = "32470123456"
WORRIED = "Ça ne va pas 😔 — j'ai peur de la faillite"


def sign(body: bytes, secret: str = WHATSAPP_APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def webhook(*messages: dict, statuses: tuple = (), phone_number_id: str = PHONE_NUMBER_ID) -> dict:
    """The Cloud API's webhook shape, as Meta posts it."""
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "3225551234", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Sophie"}, "wa_id": SOPHIE}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    change = {"value": value, "field": "messages"}
    return {"object": "whatsapp_business_account", "entry": [{"id": "2211", "changes": [change]}]}


def incoming(kind: str, wamid: str = "wamid.HBgLMzI0NzAxMjM0NTYVAgASGBQzQUY", **content) -> dict:
    return {"from": SOPHIE, "id": wamid, "timestamp": "1717000000", "type": kind, **content}


@pytest.fixture
async def channel(settings, graph_stub):
    channel = WhatsAppChannel(settings)
    yield channel
    await channel.close()


def parse(channel: WhatsAppChannel, payload: dict) -> list[Inbound]:
    body = json.dumps(payload).encode()
    return channel.parse(body, sign(body))


# --- inbound -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda p: json.dumps(p, ensure_ascii=False, indent=1).encode(),  # raw UTF-8, other spacing
        lambda p: json.dumps(p, separators=(",", ":")).encode(),  # \u escapes, compact
    ],
)
def test_the_signature_is_checked_on_the_exact_bytes(channel, encode):
    body = encode(webhook(incoming("text", text={"body": WORRIED})))
    [inbound] = channel.parse(body, sign(body))
    assert inbound == Inbound(
        channel="whatsapp",
        user_id=SOPHIE,
        event_id="wamid.HBgLMzI0NzAxMjM0NTYVAgASGBQzQUY",
        text=WORRIED,
        metadata={"timestamp": 1717000000},
    )
    reserialised = json.dumps(json.loads(body)).encode()
    assert reserialised != body
    with pytest.raises(Forged):
        channel.parse(body, sign(reserialised))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=00"},
        {"X-Hub-Signature-256": "é"},
        sign(b"{}"),
        sign(b"x", secret="another app"),
    ],
)
def test_an_unsigned_or_wrongly_signed_delivery_is_forged(channel, headers):
    with pytest.raises(Forged):
        channel.parse(json.dumps(webhook(incoming("text", text={"body": "x"}))).encode(), headers)


async def test_without_an_app_secret_everything_is_forged(settings):
    channel = WhatsAppChannel(dataclasses.replace(settings, whatsapp_app_secret=""))
    body = b"{}"
    with pytest.raises(Forged):
        channel.parse(body, sign(body, secret=""))
    await channel.close()


def test_the_signature_header_is_found_whatever_its_case(channel):
    body = json.dumps(webhook(incoming("text", text={"body": "hallo"}))).encode()
    headers = {"x-hub-signature-256": sign(body)["X-Hub-Signature-256"]}
    assert [i.text for i in channel.parse(body, headers)] == ["hallo"]


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"entry": {}}', b'{"entry": [{"changes": [{}]}]}']
)
def test_a_signed_body_that_is_not_a_webhook_is_malformed(channel, body):
    with pytest.raises(Malformed):
        channel.parse(body, sign(body))


def test_statuses_are_not_messages_but_a_failure_is_reported(channel, caplog):
    statuses = (
        {"id": "wamid.A", "status": "delivered", "timestamp": "1717000100", "recipient_id": SOPHIE},
        {
            "id": "wamid.B",
            "status": "failed",
            "timestamp": "1717000200",
            "recipient_id": SOPHIE,
            "errors": [{"code": 131047, "title": "Re-engagement message"}],
        },
    )
    (failure,) = parse(channel, webhook(statuses=statuses))
    assert failure.text is None and failure.unsupported is None
    assert failure.metadata == {"delivery_failed": [131047]}
    assert (failure.user_id, failure.event_id) == (SOPHIE, "wamid.B:failed")
    assert "wamid.B" in caplog.text and "131047" in caplog.text and SOPHIE not in caplog.text


@pytest.mark.parametrize(
    ("message", "unsupported"),
    [
        (incoming("image", image={"mime_type": "image/jpeg", "sha256": "x", "id": "1"}), "image"),
        (incoming("audio", audio={"mime_type": "audio/ogg", "id": "2", "voice": True}), "voice"),
        (incoming("audio", audio={"mime_type": "audio/mpeg", "id": "3", "voice": False}), "audio"),
        (incoming("sticker", sticker={"mime_type": "image/webp", "id": "4"}), "sticker"),
        (incoming("location", location={"latitude": 50.85, "longitude": 4.35}), "location"),
        (incoming("contacts", contacts=[{"name": {"formatted_name": "Jan"}}]), "contacts"),
        (incoming("reaction", reaction={"message_id": "wamid.X", "emoji": "👍"}), "reaction"),
        (incoming("unsupported", errors=[{"code": 131051}]), "unsupported"),
    ],
)
def test_what_the_bot_cannot_read_is_named(channel, message, unsupported):
    [inbound] = parse(channel, webhook(message))
    assert (inbound.text, inbound.unsupported, inbound.user_id) == (None, unsupported, SOPHIE)


@pytest.mark.parametrize("reply", ["button_reply", "list_reply"])
def test_a_chosen_button_or_row_gives_its_ref(channel, reply):
    chosen = {"type": reply, reply: {"id": "b17:2", "title": "Non, pas maintenant"}}
    [inbound] = parse(channel, webhook(incoming("interactive", interactive=chosen)))
    assert inbound.text == "b17:2"


def test_a_template_quick_reply_is_what_it_says(channel):
    pressed = {"payload": "Voir la réponse", "text": "Voir la réponse"}
    [inbound] = parse(channel, webhook(incoming("button", button=pressed)))
    assert inbound.text == "Voir la réponse"


def test_several_messages_keep_their_order_and_system_notices_are_dropped(channel):
    payload = webhook(
        incoming("text", "wamid.1", text={"body": "Bonjour"}),
        incoming("system", "wamid.2", system={"body": "number changed", "type": "user_changed"}),
        incoming("text", "wamid.3", text={"body": "Horeca, 3 personnes"}),
    )
    assert [(i.event_id, i.text) for i in parse(channel, payload)] == [
        ("wamid.1", "Bonjour"),
        ("wamid.3", "Horeca, 3 personnes"),
    ]


def test_another_number_of_the_account_is_not_ours(channel):
    payload = webhook(incoming("text", text={"body": "hallo"}), phone_number_id="999")
    assert parse(channel, payload) == []


def test_the_subscription_handshake(channel):
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": WHATSAPP_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    assert channel.verify_subscription(params) == "1158201444"
    for wrong in ({"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.mode": None}):
        with pytest.raises(Forged):
            channel.verify_subscription({**params, **wrong})
    with pytest.raises(Forged):
        channel.verify_subscription({"hub.challenge": "1"})


# --- outbound ------------------------------------------------------------------------------


async def test_text_is_posted_with_the_bearer_token(channel, graph_stub):
    await channel.send(SOPHIE, [{"id": 1, "text": WORRIED}], "fr")
    [request] = graph_stub.requests
    assert request["phone_number_id"] == PHONE_NUMBER_ID
    assert request["authorization"] == f"Bearer {WHATSAPP_TOKEN}"
    assert request["content_type"] == "application/json"
    assert request["json"] == {
        "messaging_product": "whatsapp",
        "to": SOPHIE,
        "type": "text",
        "text": {"body": WORRIED},
    }


async def test_up_to_three_buttons_are_reply_buttons_with_short_titles(channel, graph_stub):
    buttons = ["Oui", "Non", "Parler à quelqu'un maintenant"]
    message = {"id": 17, "text": "Voulez-vous parler à un conseiller ?"}
    message["buttons"] = [{"title": t, "payload": f"/p{i}"} for i, t in enumerate(buttons)]
    await channel.send(SOPHIE, [message], "fr")
    assert graph_stub.bodies == [
        {
            "messaging_product": "whatsapp",
            "to": SOPHIE,
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Voulez-vous parler à un conseiller ?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "b17:1", "title": "Oui"}},
                        {"type": "reply", "reply": {"id": "b17:2", "title": "Non"}},
                        {"type": "reply", "reply": {"id": "b17:3", "title": "Parler à quelqu'un…"}},
                    ]
                },
            },
        }
    ]


async def test_four_to_ten_buttons_are_a_list_with_the_rest_of_long_titles_below(
    channel, graph_stub
):
    titles = [
        "Trésorerie",
        "Dettes fiscales et sociales envers l'administration",
        "Loyer",
        "Personnel",
        "Santé",
        "Faillite",
        "Autre",
    ]
    message = {"id": 30, "text": "Qu'est-ce qui vous pèse le plus ?"}
    message["buttons"] = [{"title": t, "payload": "/difficulty"} for t in titles]
    await channel.send(SOPHIE, [message], "nl")
    [body] = graph_stub.bodies
    assert body["type"] == "interactive"
    assert body["interactive"]["type"] == "list"
    assert body["interactive"]["body"] == {"text": "Qu'est-ce qui vous pèse le plus ?"}
    action = body["interactive"]["action"]
    assert action["button"] == "Kiezen"
    [section] = action["sections"]
    assert section["rows"][:3] == [
        {"id": "b30:1", "title": "Trésorerie"},
        {
            "id": "b30:2",
            "title": "Dettes fiscales et",
            "description": "sociales envers l'administration",
        },
        {"id": "b30:3", "title": "Loyer"},
    ]
    assert [row["id"] for row in section["rows"]] == [f"b30:{i}" for i in range(1, 8)]


async def test_a_row_description_too_is_shortened(channel, graph_stub):
    long_title = "Aide " + "très " * 30 + "longue"
    message = {"id": 4, "text": "Choix", "buttons": [{"title": long_title}] + [{"title": "x"}] * 3}
    await channel.send(SOPHIE, [message], "fr")
    row = graph_stub.bodies[0]["interactive"]["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) <= 24 and len(row["description"]) <= 72
    assert row["description"].endswith("…")


async def test_more_than_ten_buttons_become_a_numbered_text(channel, graph_stub):
    message = {"id": 40, "text": "Dans quelle commune ?"}
    message["buttons"] = [{"title": f"Commune {i}", "payload": "/commune"} for i in range(1, 13)]
    await channel.send(SOPHIE, [message], "fr")
    numbered = [f"{i}. Commune {i}" for i in range(1, 13)]
    assert graph_stub.bodies == [
        {
            "messaging_product": "whatsapp",
            "to": SOPHIE,
            "type": "text",
            "text": {
                "body": "\n".join(
                    ["Dans quelle commune ?", "", *numbered, "Répondez par le numéro."]
                )
            },
        }
    ]


async def test_buttons_whose_short_titles_collide_become_a_list(channel, graph_stub):
    titles = ["Parler à un conseiller francophone", "Parler à un conseiller néerlandophone"]
    message = {"id": 8, "text": "Avec qui ?", "buttons": [{"title": t} for t in titles]}
    await channel.send(SOPHIE, [message], "fr")
    assert graph_stub.bodies[0]["interactive"]["type"] == "list"


async def test_text_too_long_for_buttons_is_numbered_and_long_text_is_split(channel, graph_stub):
    long_text = "Voici ce que nous avons compris. " * 200  # about 6,600 characters
    message = {"id": 9, "text": long_text, "buttons": [{"title": "Oui"}, {"title": "Non"}]}
    await channel.send(SOPHIE, [message], "fr")
    bodies = [body["text"]["body"] for body in graph_stub.bodies]
    assert len(bodies) == 2 and all(len(b) <= 4096 for b in bodies)
    assert bodies[-1].endswith("1. Oui\n2. Non\nRépondez par le numéro.")


async def test_a_rate_limit_gives_the_delay_from_retry_after(channel, graph_stub):
    graph_stub.fail(429, 130429, "(#130429) Rate limit hit", **{"Retry-After": "7"})
    with pytest.raises(SendFailed) as failed:
        await channel.send(SOPHIE, [{"id": 1, "text": "Bonjour"}], "fr")
    assert (failed.value.retry_after, failed.value.permanent) == (7.0, False)


async def test_outside_the_24_hour_window_is_permanent(channel, graph_stub):
    graph_stub.fail(400, 131047, "(#131047) Re-engagement message")
    with pytest.raises(WindowClosed) as failed:
        await channel.send(SOPHIE, [{"id": 1, "text": "Bonjour"}], "fr")
    assert isinstance(failed.value, SendFailed) and failed.value.permanent
    assert "24-hour" in str(failed.value)


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 131009, True),  # parameter value is not valid
        (400, 131026, True),  # message undeliverable
        (400, 130429, False),  # throughput reached, reported as 400
        (401, 190, False),  # expired token: ours to fix, the message is fine
        (500, 1, False),
        (503, 131016, False),
    ],
)
async def test_graph_errors_say_whether_retrying_helps(
    channel, graph_stub, status, code, permanent
):
    graph_stub.fail(status, code, f"(#{code}) error")
    with pytest.raises(SendFailed) as failed:
        await channel.send(SOPHIE, [{"id": 1, "text": "Bonjour"}], "fr")
    assert failed.value.permanent is permanent
    assert SOPHIE not in str(failed.value)


async def test_an_unreachable_graph_api_is_worth_retrying(settings, unreachable_url):
    channel = WhatsAppChannel(dataclasses.replace(settings, whatsapp_api_url=unreachable_url))
    with pytest.raises(SendFailed) as failed:
        await channel.send(SOPHIE, [{"id": 1, "text": "Bonjour"}], "fr")
    assert not failed.value.permanent
    await channel.close()


async def test_the_template_is_sent_in_the_persons_language(channel, graph_stub):
    await channel.send_template(SOPHIE, "nl")
    assert graph_stub.bodies == [
        {
            "messaging_product": "whatsapp",
            "to": SOPHIE,
            "type": "template",
            "template": {"name": "relais_reponse_conseiller", "language": {"code": "nl"}},
        }
    ]


async def test_without_a_template_nothing_is_sent_and_the_failure_is_permanent(
    settings, graph_stub
):
    channel = WhatsAppChannel(dataclasses.replace(settings, whatsapp_template=""))
    with pytest.raises(SendFailed) as failed:
        await channel.send_template(SOPHIE, "fr")
    assert failed.value.permanent and graph_stub.requests == []
    await channel.close()


# --- fuzzing -------------------------------------------------------------------------------

replies = st.sampled_from(["button_reply", "list_reply", "nfm_reply"]).flatmap(
    lambda reply: st.fixed_dictionaries(
        {"type": st.just(reply), reply: mostly(st.fixed_dictionaries({"id": st.text()}))}
    )
)
contents = {  # each message type with content of its own shape, mostly
    "text": st.fixed_dictionaries({"body": mostly(st.text())}),
    "interactive": replies,
    "button": st.fixed_dictionaries({"text": mostly(st.text())}),
    "audio": st.fixed_dictionaries({"voice": mostly(st.booleans())}),
    "image": json_values,
    "system": json_values,
    "reaction": json_values,
}
messages = st.sampled_from(sorted(contents)).flatmap(
    lambda kind: st.fixed_dictionaries(
        {
            "from": mostly(st.text()),
            "id": mostly(st.text()),
            "timestamp": mostly(st.integers(0, 2**40).map(str)),
            "type": mostly(st.just(kind)),
            kind: mostly(contents[kind]),
        }
    )
)
statuses = st.fixed_dictionaries(
    {"id": mostly(st.text()), "status": mostly(st.sampled_from(["sent", "failed"]))},
    optional={"errors": mostly(st.lists(st.fixed_dictionaries({"code": json_values})))},
)
values = st.fixed_dictionaries(
    {"metadata": mostly(st.just({"phone_number_id": PHONE_NUMBER_ID}))},
    optional={"messages": mostly(st.lists(messages, max_size=3)), "statuses": st.lists(statuses)},
)
payloads = st.fixed_dictionaries(
    {
        "entry": mostly(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "changes": mostly(
                            st.lists(
                                st.fixed_dictionaries(
                                    {"value": mostly(values), "field": mostly(st.just("messages"))}
                                ),
                                max_size=2,
                            )
                        )
                    }
                ),
                max_size=2,
            )
        )
    }
)


@pytest.fixture(scope="module")
def parser(telegram_server, graph_server):
    """One channel for all examples (hypothesis runs many inside one test)."""
    channel = WhatsAppChannel(channel_settings(telegram_server[1], graph_server[1]))
    yield channel
    asyncio.run(channel.close())


@fuzz
@given(body=st.binary(), signed=st.booleans())
def test_any_bytes_are_parsed_or_refused(parser, body, signed):
    parses_or_refuses(parser, body, sign(body) if signed else {"X-Hub-Signature-256": "sha256="})


@fuzz
@given(payload=payloads | json_values)
def test_any_webhook_shaped_json_is_parsed_or_refused(parser, payload):
    body = json.dumps(payload).encode()
    parses_or_refuses(parser, body, sign(body))


def test_nothing_about_the_person_is_logged_while_parsing(parser, caplog):
    caplog.set_level(logging.DEBUG)
    parse(parser, webhook(incoming("text", text={"body": WORRIED})))
    assert "faillite" not in caplog.text and SOPHIE not in caplog.text
