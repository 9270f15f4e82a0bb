"""bot/tracker_cache.py: a kept tracker is used only while it is what the database holds."""

import asyncio
import json

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import tracker_cache

DOMAIN = Domain.from_yaml("slots:\n  language:\n    type: text\n    mappings: []\n")


@pytest.fixture
def patched():
    saved = {name: SQLTrackerStore.__dict__[name] for name in ("retrieve", "save")}
    tracker_cache.install(capacity=2)
    yield
    for name, method in saved.items():
        setattr(SQLTrackerStore, name, method)


def _store(path) -> SQLTrackerStore:
    return SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))


def _turn(text: str, at: float) -> list:
    return [
        UserUttered(text, {"name": "greet"}, timestamp=at),
        SlotSet("language", "fr", timestamp=at + 0.1),
        ActionExecuted("action_listen", timestamp=at + 0.2),
    ]


def _rows(store: SQLTrackerStore) -> list[tuple]:
    with store.session_scope() as session:
        table = store.SQLEvent.__table__
        columns = [c for c in table.c if c.name != "id"]
        return [tuple(row) for row in session.execute(table.select().with_only_columns(*columns))]


def _play(store: SQLTrackerStore) -> DialogueStateTracker:
    """Three messages of one conversation, each retrieved, extended and saved as Rasa does,
    then a new session."""
    run = asyncio.run
    tracker = DialogueStateTracker.from_events(
        "p", [ActionExecuted("action_listen", timestamp=0.5)], DOMAIN.slots
    )
    run(store.save(tracker))
    for n in range(3):
        tracker = run(store.retrieve("p"))
        for event in _turn(f"message {n}", 10.0 * (n + 1)):
            tracker.update(event)
        run(store.save(tracker))
    tracker = run(store.retrieve("p"))
    tracker.update(ActionExecuted("action_session_start", timestamp=100.0))
    tracker.update(SessionStarted(timestamp=100.1))
    tracker.update(SlotSet("language", "fr", timestamp=100.2))
    run(store.save(tracker))
    return run(store.retrieve("p"))


def test_the_same_rows_and_trackers_as_rasa(tmp_path, request):
    plain = _store(tmp_path / "plain.db")
    plain_tracker = _play(plain)
    request.getfixturevalue("patched")
    kept = _store(tmp_path / "kept.db")
    kept_tracker = _play(kept)
    assert _rows(kept) == _rows(plain)
    assert len(_rows(kept)) == 1 + 3 * 3 + 3
    assert list(kept_tracker.events) == list(plain_tracker.events)
    assert isinstance(kept_tracker.events[0], SessionStarted)  # the new session only


def test_a_saved_tracker_is_used_again_while_the_database_holds_it(tmp_path, patched):
    store = _store(tmp_path / "kept.db")
    tracker = DialogueStateTracker.from_events("p", _turn("bonjour", 1.0), DOMAIN.slots)
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve("p")) is tracker
    tracker.update(UserUttered("pas sauvé", timestamp=2.0))  # failed halfway: never saved
    again = asyncio.run(store.retrieve("p"))
    assert again is not tracker and [e.as_dict() for e in again.events] == [
        e.as_dict() for e in _turn("bonjour", 1.0)
    ]


def test_another_server_or_an_erasure_makes_it_read_the_database_again(tmp_path, patched):
    path = tmp_path / "shared.db"
    here, there = _store(path), _store(path)
    tracker = DialogueStateTracker.from_events("p", _turn("bonjour", 1.0), DOMAIN.slots)
    asyncio.run(here.save(tracker))
    elsewhere = asyncio.run(there.retrieve("p"))
    elsewhere.update(UserUttered("ailleurs", timestamp=2.0))
    asyncio.run(there.save(elsewhere))

    fresh = asyncio.run(here.retrieve("p"))
    assert fresh is not tracker and fresh.latest_message.text == "ailleurs"
    fresh.update(UserUttered("ici", timestamp=3.0))
    asyncio.run(here.save(fresh))
    texts = [json.loads(row[-1]).get("text") for row in _rows(here) if row[0] == "p"]
    assert texts == ["bonjour", None, None, "ailleurs", "ici"]  # stored once each, in order

    with here.session_scope() as session:  # what the gateway's erasure does
        session.query(here.SQLEvent).filter_by(sender_id="p").delete()
        session.commit()
    assert asyncio.run(here.retrieve("p")) is None


def test_only_the_conversations_used_last_are_kept(tmp_path, patched):
    store = _store(tmp_path / "kept.db")
    trackers = {}
    for sender in ("a", "b", "c"):
        trackers[sender] = DialogueStateTracker.from_events(sender, _turn("x", 1.0), DOMAIN.slots)
        asyncio.run(store.save(trackers[sender]))
    assert list(store._relais_kept) == ["b", "c"]  # capacity 2
    assert asyncio.run(store.retrieve("a")) is not trackers["a"]
    assert asyncio.run(store.retrieve("c")) is trackers["c"]
