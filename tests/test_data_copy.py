"""A person's copy of their data: gathered from both stores, shown in words in their language,
and downloadable as JSON through a link that only works for them, and only for an hour."""

from __future__ import annotations

import dataclasses
import json

from fastapi.testclient import TestClient

from bot.gateway.app import create_app
from bot.gateway.data_copy import LINK_LIFETIME_S, collect, conversation_of, link_token, readable
from bot.gateway.privacy import erase_conversation
from bot.settings import get_settings
from tests.stores import EVENTS, seed

SECRET = "a-secret-for-the-data-copy-tests"
TOKEN_HEADERS = {"Authorization": f"Bearer {SECRET}"}


def add_slot(tracker, conversation_id: str, name: str, value) -> None:
    data = json.dumps({"event": "slot", "name": name, "value": value})
    with tracker.begin() as connection:
        connection.execute(
            EVENTS.insert().values(
                sender_id=conversation_id, type_name="slot", timestamp=1.0, data=data
            )
        )


def test_the_copy_holds_both_stores(stores):
    sessions, tracker = stores
    seed(sessions, tracker, "web:person-one", days_ago=1)
    seed(sessions, tracker, "web:someone-else", days_ago=1)
    add_slot(tracker, "web:person-one", "business_sector", "culture")
    add_slot(tracker, "web:person-one", "business_sector", "horeca")  # the latest value counts
    add_slot(tracker, "web:person-one", "requested_slot", "needs")  # Rasa's own bookkeeping
    copy = collect(sessions, tracker, "web:person-one")
    assert copy["profile"]["sector"] == "horeca"
    assert copy["profile"]["distress_level"] == "high"
    assert [m["text"] for m in copy["messages"]] == [
        "Je n'en peux plus, 0470 12 34 56",
        "Je vous entends.",
    ]
    assert copy["handoffs"][0]["partner"] == "ced"
    assert copy["handoffs"][0]["callback_phone"] == "0470 12 34 56"
    assert copy["engine_slots"] == {"business_sector": "horeca"}
    assert "someone-else" not in json.dumps(copy)
    assert collect(sessions, tracker, "web:nobody") is None


def test_the_copy_in_words_in_both_languages(stores):
    sessions, tracker = stores
    seed(sessions, tracker, "web:person-one", days_ago=1)
    copy = collect(sessions, tracker, "web:person-one")
    french, dutch = readable(copy, "fr", 90), readable(copy, "nl", 90)
    assert "2 messages" in french and "2 berichten" in dutch
    assert "Horeca" in french or "horeca" in french.lower()
    assert "0470 12 34 56" in french and "0470 12 34 56" in dutch
    assert "détresse importante" in french and "ernstige nood" in dutch
    assert "/oublier" in french and "/vergeten" in dutch


def test_the_link_names_one_conversation_and_expires():
    token = link_token(SECRET, "telegram:42", now=1000.0)
    assert conversation_of(SECRET, token, now=1000.0 + LINK_LIFETIME_S - 1) == "telegram:42"
    assert conversation_of(SECRET, token, now=1000.0 + LINK_LIFETIME_S + 1) is None
    assert conversation_of("another-secret", token, now=1000.0) is None
    signature = token.partition(".")[2]
    forged = link_token("guessed", "telegram:43", now=1000.0).partition(".")[0]
    assert conversation_of(SECRET, f"{forged}.{signature}", now=1000.0) is None
    assert conversation_of(SECRET, "", now=1000.0) is None
    assert conversation_of("", token, now=1000.0) is None


def test_the_api_gives_the_copy_and_the_link_downloads_it_until_erasure(stores, tmp_path):
    sessions, tracker = stores
    settings = dataclasses.replace(
        get_settings(),
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        tracker_db=str(tmp_path / "tracker.db"),
        api_token=SECRET,
    )
    seed(sessions, tracker, "web:person-one", days_ago=1)
    with TestClient(create_app(settings)) as client:
        body = {"conversation_id": "web:person-one", "language": "nl"}
        assert client.post("/api/data-copies", json=body).status_code == 401
        answer = client.post("/api/data-copies", json=body, headers=TOKEN_HEADERS)
        assert answer.status_code == 200
        assert "Dit bewaart Relais over u" in answer.json()["text"]
        path = answer.json()["url"].removeprefix(settings.public_url)
        download = client.get(path)
        assert download.status_code == 200
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.json()["messages"][0]["text"] == "Je n'en peux plus, 0470 12 34 56"
        assert client.get(path + "x").status_code == 404  # altered
        nobody = {"conversation_id": "web:nobody", "language": "fr"}
        assert (
            client.post("/api/data-copies", json=nobody, headers=TOKEN_HEADERS).status_code == 404
        )
        erase_conversation(sessions, tracker, "web:person-one")
        left = client.get(path).json()
        assert left["messages"] == [] and left["handoffs"][0]["callback_phone"] is None
        assert left["engine_slots"] == {} and left["profile"]["distress_level"] is None
