"""Telegram adapter against a local Bot API stub, driven by the real python-telegram-bot Bot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import (
    Forged,
    Inbound,
    Malformed,
    SendFailed,
    parse_button_ref,
    split_text,
)
from connectors.telegram import TelegramChannel

from .conftest import (
    BOT_USER,
    TELEGRAM_SECRET,
    channel_settings,
    fuzz,
    json_values,
    mostly,
    parses_or_refuses,
)

SIGNED = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
ANKE = {"id": 4242, "is_bot": False, "first_name": "Anke", "language_code": "nl"}
PRIVATE = {"id": 4242, "first_name": "Anke", "type": "private"}
BLANKS = str.maketrans("", "", " \n")  # what split_text may drop where it cuts


def message_update(update_id: int = 100000001, **content) -> dict:
    message = {"message_id": 11, "from": ANKE, "chat": PRIVATE, "date": 1700000000, **content}
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int = 100000002, data: str = "b17:2") -> dict:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {**ANKE, "language_code": "fr-BE"},
            "message": {
                "message_id": 12,
                "from": BOT_USER,
                "chat": PRIVATE,
                "date": 1700000001,
                "text": "Quelle est votre situation ?",
            },
            "chat_instance": "-8831734093498234",
            "data": data,
        },
    }


VOICE = {
    "file_id": "AwACAgQAAxk",
    "file_unique_id": "AgADr",
    "duration": 3,
    "mime_type": "audio/ogg",
}
STICKER = {
    "file_id": "CAACAgIAAxk",
    "file_unique_id": "AgADDw",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "😔",
}


@pytest.fixture
async def channel(settings, telegram_stub):
    channel = TelegramChannel(settings)
    yield channel
    await channel.close()


def parse(channel: TelegramChannel, update: dict, headers: dict | None = None) -> list[Inbound]:
    return channel.parse(json.dumps(update).encode(), SIGNED if headers is None else headers)


# --- inbound -------------------------------------------------------------------------------


def test_a_text_message_carries_the_chat_and_the_language_hint(channel):
    [inbound] = parse(channel, message_update(text="Mijn zaak gaat slecht, ik slaap niet meer"))
    assert inbound == Inbound(
        channel="telegram",
        user_id="4242",
        event_id="100000001",
        text="Mijn zaak gaat slecht, ik slaap niet meer",
        language_hint="nl",
    )
    assert inbound.conversation_id == "telegram:4242"


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("/start", "/greet"),
        ("/start campagne-1819", "/greet"),
        ("/start@RelaisBot", "/greet"),
        ("/fr", '/switch_language{"language_choice":"fr"}'),
        ("/nl", '/switch_language{"language_choice":"nl"}'),
        ("/oublier", "/oublier"),
        ("/vergeten", "/vergeten"),
    ],
)
def test_commands(channel, typed, text):
    command = {"type": "bot_command", "offset": 0, "length": len(typed.split()[0])}
    [inbound] = parse(channel, message_update(text=typed, entities=[command]))
    assert inbound.text == text


def test_a_tapped_button_gives_its_ref_and_the_query_to_answer(channel):
    [inbound] = parse(channel, callback_update(data="b17:2"))
    assert inbound.text == "b17:2"
    assert (inbound.user_id, inbound.event_id) == ("4242", "100000002")
    assert inbound.language_hint == "fr"
    assert inbound.metadata == {"callback_query_id": "4382bfdwdsb323b2d9"}


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ({"voice": VOICE}, "voice"),
        ({"sticker": STICKER}, "sticker"),
        (
            {"photo": [{"file_id": "AgAC", "file_unique_id": "AQAD", "width": 90, "height": 67}]},
            "photo",
        ),
        ({"location": {"latitude": 50.8466, "longitude": 4.3528}}, "location"),
        ({"contact": {"phone_number": "+32470000000", "first_name": "Jan"}}, "contact"),
    ],
)
def test_what_the_bot_cannot_read_is_named(channel, content, kind):
    [inbound] = parse(channel, message_update(**content))
    assert (inbound.text, inbound.unsupported, inbound.user_id) == (None, kind, "4242")


def test_edits_groups_and_membership_changes_are_not_conversation(channel):
    edited = {
        "update_id": 100000003,
        "edited_message": {
            "message_id": 11,
            "from": ANKE,
            "chat": PRIVATE,
            "date": 1700000000,
            "edit_date": 1700000060,
            "text": "Mijn zaak gaat heel slecht",
        },
    }
    group = message_update(chat={"id": -100123, "title": "Horeca BXL", "type": "supergroup"})
    group["message"]["text"] = "hallo"
    blocked = {
        "update_id": 100000004,
        "my_chat_member": {
            "chat": PRIVATE,
            "from": ANKE,
            "date": 1700000100,
            "old_chat_member": {"status": "member", "user": BOT_USER},
            "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0},
        },
    }
    assert [parse(channel, update) for update in (edited, group, blocked)] == [[], [], []]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}, {"X-Telegram-Bot-Api-Secret-Token": "é"}],
)
def test_a_request_without_the_secret_is_forged(channel, headers):
    with pytest.raises(Forged):
        parse(channel, message_update(text="hallo"), headers)


def test_the_secret_header_is_found_whatever_its_case(channel):
    headers = {"x-telegram-bot-api-secret-token": TELEGRAM_SECRET}
    assert len(parse(channel, message_update(text="hallo"), headers)) == 1


async def test_without_a_configured_secret_everything_is_forged(settings):
    channel = TelegramChannel(dataclasses.replace(settings, telegram_secret=""))
    with pytest.raises(Forged):
        channel.parse(json.dumps(message_update(text="hallo")).encode(), {})
    await channel.close()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"message": {}}', b'{"update_id": "1"}'])
def test_what_is_not_an_update_is_malformed(channel, body):
    with pytest.raises(Malformed):
        channel.parse(body, SIGNED)


# --- outbound ------------------------------------------------------------------------------


async def test_each_message_is_one_plain_text_send_with_one_button_per_row(channel, telegram_stub):
    messages = [
        {
            "id": 17,
            "text": "Voulez-vous parler à un conseiller ? <b>*urgent*</b>",
            "buttons": [
                {"title": "Oui", "payload": "/affirm"},
                {"title": "Non, pas maintenant", "payload": "/deny"},
            ],
        },
        {"id": 18, "text": "Vous pouvez aussi appeler le 1819."},
    ]
    await channel.send("4242", messages, "fr")
    assert telegram_stub.sent() == [
        {
            "chat_id": "4242",
            "text": "Voulez-vous parler à un conseiller ? <b>*urgent*</b>",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Oui", "callback_data": "b17:1"}],
                    [{"text": "Non, pas maintenant", "callback_data": "b17:2"}],
                ]
            },
        },
        {"chat_id": "4242", "text": "Vous pouvez aussi appeler le 1819."},
    ]


async def test_a_long_text_is_split_and_the_buttons_follow_its_last_piece(channel, telegram_stub):
    long_text = " ".join(f"mot{i}" for i in range(2000))  # about 15,000 characters
    await channel.send("4242", [{"id": 5, "text": long_text, "buttons": [{"title": "OK"}]}], "fr")
    sent = telegram_stub.sent()
    assert len(sent) == 4 and all(len(call["text"]) <= 4000 for call in sent)
    assert " ".join(call["text"] for call in sent) == long_text
    assert ["reply_markup" in call for call in sent] == [False, False, False, True]


@given(text=st.text(), limit=st.integers(2, 60))
def test_split_text_loses_nothing_but_the_spaces_it_cuts_at(text, limit):
    pieces = split_text(text, limit)
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert "".join(pieces).translate(BLANKS) == text.translate(BLANKS)


@given(text=st.text() | st.from_regex(r"b[0-9²٣]+:[0-9²]+", fullmatch=True))
def test_a_typed_text_is_a_button_ref_or_not_but_never_an_error(text):
    ref = parse_button_ref(text)
    assert ref is None or all(isinstance(n, int) and n >= 0 for n in ref)


async def test_a_tapped_button_is_answered_and_nothing_else_is(channel, telegram_stub):
    [tapped] = parse(channel, callback_update())
    [typed] = parse(channel, message_update(text="hallo"))
    await channel.acknowledge(tapped)
    await channel.acknowledge(typed)
    assert telegram_stub.sent("answerCallbackQuery") == [
        {"callback_query_id": "4382bfdwdsb323b2d9"}
    ]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own
async def test_flood_control_gives_the_delay_telegram_asked_for(channel, telegram_stub):
    telegram_stub.failures["sendMessage"] = (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    with pytest.raises(SendFailed) as failed:
        await channel.send("4242", [{"id": 1, "text": "Bonjour"}], "fr")
    assert (failed.value.retry_after, failed.value.permanent) == (3.0, False)


@pytest.mark.parametrize(
    ("status", "description", "permanent"),
    [
        (403, "Forbidden: bot was blocked by the user", True),
        (400, "Bad Request: chat not found", True),
        (500, "Internal Server Error", False),
        (502, "Bad Gateway", False),
    ],
)
async def test_refusals_say_whether_retrying_helps(
    channel, telegram_stub, status, description, permanent
):
    telegram_stub.failures["sendMessage"] = (
        status,
        {"ok": False, "error_code": status, "description": description},
    )
    with pytest.raises(SendFailed) as failed:
        await channel.send("4242", [{"id": 1, "text": "Bonjour"}], "fr")
    assert (failed.value.permanent, failed.value.retry_after) == (permanent, None)


async def test_an_unreachable_api_is_worth_retrying(settings, unreachable_url):
    channel = TelegramChannel(
        dataclasses.replace(settings, telegram_api_url=f"{unreachable_url}/bot")
    )
    with pytest.raises(SendFailed) as failed:
        await channel.send("4242", [{"id": 1, "text": "Bonjour"}], "fr")
    assert not failed.value.permanent
    await channel.close()


# --- long polling --------------------------------------------------------------------------


async def test_polling_removes_the_webhook_delivers_updates_and_stops_when_cancelled(
    channel, telegram_stub, caplog
):
    telegram_stub.updates = [
        message_update(100000010, text="Ik ben bang voor het faillissement"),
        message_update(100000011, voice=VOICE),
        callback_update(100000012),
    ]
    received: list[list[Inbound]] = []

    async def handle(inbounds: list[Inbound]) -> None:
        received.append(inbounds)
        if len(received) == 1:
            raise RuntimeError("Ik ben bang voor het faillissement")  # logged by id only

    poller = asyncio.create_task(channel.poll(handle))
    async with asyncio.timeout(10):
        while not any(
            name == "getUpdates" and params.get("offset") == "100000013"
            for name, params in telegram_stub.calls
        ):
            await asyncio.sleep(0.02)
    poller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poller

    assert [[i.text or i.unsupported for i in batch] for batch in received] == [
        ["Ik ben bang voor het faillissement"],
        ["voice"],
        ["b17:2"],
    ]
    assert [name for name, _ in telegram_stub.calls][:3] == ["getMe", "deleteWebhook", "getUpdates"]
    first_poll = telegram_stub.sent("getUpdates")[0]
    assert json.loads(first_poll["allowed_updates"]) == ["message", "callback_query"]
    assert "100000010 not handled" in caplog.text and "faillissement" not in caplog.text
    assert telegram_stub.updates == []  # all confirmed


# --- fuzzing -------------------------------------------------------------------------------

ids = mostly(st.integers(min_value=-(2**40), max_value=2**40))
users = st.fixed_dictionaries(
    {"id": ids, "is_bot": st.booleans(), "first_name": st.text()},
    optional={"language_code": mostly(st.sampled_from(["fr", "nl-BE", "en", ""]))},
)
chats = st.fixed_dictionaries(
    {"id": ids, "type": mostly(st.sampled_from(["private", "private", "group", "channel"]))}
)
messages = st.fixed_dictionaries(
    {"message_id": ids, "date": mostly(st.integers(0, 2**32)), "chat": chats},
    optional={
        "from": users,
        "text": mostly(st.text()),
        "voice": mostly(st.just(VOICE)),
        "sticker": mostly(st.just(STICKER)),
        "entities": json_values,
    },
)
updates = st.fixed_dictionaries(
    {"update_id": ids},
    optional={
        "message": mostly(messages),
        "edited_message": messages,
        "callback_query": st.fixed_dictionaries(
            {"id": mostly(st.text()), "from": users, "chat_instance": st.text()},
            optional={"message": mostly(messages), "data": mostly(st.text())},
        ),
    },
)


@pytest.fixture(scope="module")
def parser(telegram_server, graph_server):
    """One channel for all examples (hypothesis runs many inside one test)."""
    channel = TelegramChannel(channel_settings(telegram_server[1], graph_server[1]))
    yield channel
    asyncio.run(channel.close())


@fuzz
@given(body=st.binary(), secret=st.sampled_from([TELEGRAM_SECRET, "", "x"]) | st.text())
def test_any_bytes_are_parsed_or_refused(parser, body, secret):
    parses_or_refuses(parser, body, {"X-Telegram-Bot-Api-Secret-Token": secret})


@fuzz
@given(update=updates | json_values)
def test_any_update_shaped_json_is_parsed_or_refused(parser, update):
    parses_or_refuses(parser, json.dumps(update).encode(), SIGNED)


def test_nothing_about_the_person_is_logged_while_parsing(parser, caplog):
    caplog.set_level(logging.DEBUG)
    parse(parser, message_update(text="Ik ben bang voor het faillissement"))
    assert "faillissement" not in caplog.text and "4242" not in caplog.text
