"""The speed fixes of bot/rasa_server.py answer exactly what Rasa's own code answers."""

import copy
import json

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from bot.rasa_server import _cache_event_classes, _cached_validate

RESPONSE_SCHEMA = RemoteAction.action_response_format_spec()
VALID = [
    {"events": [], "responses": []},
    {},
    {
        "events": [
            {"event": "slot", "name": "language", "value": "fr", "timestamp": None},
            {"event": "active_loop", "name": "intake_form"},
            {"event": "followup", "name": "action_listen"},
            {"event": "bot", "text": "Bonjour", "metadata": {}},
        ],
        "responses": [{"text": "Bonjour"}],
    },
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": "language"}]},  # no value
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "language", "value": "fr"}]},  # no event name
    {"events": [{"event": 3}]},
    {"events": ["slot"]},
    {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": "yesterday"}]},
    {"events": [], "responses": "Bonjour"},
    {"events": [], "responses": ["Bonjour"]},
    "not an object",
]


def _accepted_by_jsonschema(instance) -> bool:
    try:
        jsonschema.validate(instance, RESPONSE_SCHEMA)
    except jsonschema.ValidationError:
        return False
    return True


@pytest.mark.parametrize("response", VALID + INVALID)
def test_action_responses_are_judged_as_by_jsonschema(response):
    expected = _accepted_by_jsonschema(response)
    assert expected == (response in VALID)
    if expected:
        _cached_validate(copy.deepcopy(response), RemoteAction.action_response_format_spec())
    else:
        with pytest.raises(jsonschema.ValidationError):
            _cached_validate(copy.deepcopy(response), RemoteAction.action_response_format_spec())


def test_other_schemas_are_validated_with_a_cached_validator():
    schema = {"type": "object", "properties": {"events": {"type": "array"}}}
    _cached_validate({"events": []}, schema)
    _cached_validate({"events": []}, dict(schema))  # same schema, new object: cached validator
    with pytest.raises(jsonschema.ValidationError):
        _cached_validate({"events": "not a list"}, schema)


def test_event_classes_are_resolved_as_rasa_does():
    resolve = Event.resolve_by_type
    names = ["user", "action", "slot", "session_started", "active_loop", "bot"]
    expected = [resolve(name) for name in names]
    _cache_event_classes()
    try:
        assert [Event.resolve_by_type(name) for name in names] * 2 == expected * 2
        assert expected[:3] == [UserUttered, ActionExecuted, SlotSet]
        assert Event.resolve_by_type("topic") is None
        assert Event.resolve_by_type("unknown", default=SlotSet) is SlotSet
        with pytest.raises(ValueError):
            Event.resolve_by_type("unknown")
    finally:
        Event.resolve_by_type = staticmethod(resolve)


def test_the_tracker_store_reads_and_counts_the_same_events_with_light_rows(tmp_path):
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_server import _light_event_rows

    domain = Domain.from_yaml("slots:\n  language:\n    type: text\n    mappings: []\n")
    old = [ActionExecuted("action_listen", timestamp=0.5), UserUttered("avant", timestamp=1.0)]
    new = [
        SessionStarted(timestamp=2.0),
        ActionExecuted("action_listen", timestamp=3.0),
        UserUttered("bonjour", {"name": "greet"}, timestamp=4.0),
        SlotSet("language", "fr", timestamp=5.0),
    ]
    tracker = DialogueStateTracker.from_events("p", old + new, domain.slots)

    def read(db: str):
        store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / db))
        asyncio.run(store.save(tracker))
        retrieved = asyncio.run(store.retrieve("p"))
        with store.session_scope() as session:
            unsaved = list(store._additional_events(session, retrieved))
        return list(retrieved.events), unsaved

    event_query = SQLTrackerStore._event_query
    before = read("rasa.db")
    _light_event_rows()
    try:
        after = read("light.db")
    finally:
        SQLTrackerStore._event_query = event_query
    assert after == before
    assert after[0] == new  # the last session only
    assert after[1] == []  # every event of the session was counted as stored


def test_the_sqlite_tracker_store_keeps_its_connection_and_writes_ahead(tmp_path):
    import asyncio
    import sqlite3

    import rasa.core.tracker_store as tracker_store
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_server import _tune_tracker_store_engine

    domain = Domain.from_yaml("slots:\n  language:\n    type: text\n    mappings: []\n")
    events = [ActionExecuted("action_listen"), UserUttered("bonjour", {"name": "greet"})]
    engine_kwargs = tracker_store.create_engine_kwargs
    _tune_tracker_store_engine()
    try:
        store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    finally:
        tracker_store.create_engine_kwargs = engine_kwargs
    opened = []
    store.engine.pool._creator = _counting(store.engine.pool._creator, opened)
    for turn in range(3):
        tracker = DialogueStateTracker.from_events("p", events * (turn + 1), domain.slots)
        asyncio.run(store.save(tracker))
        assert list(asyncio.run(store.retrieve("p")).events) == list(tracker.events)
    assert opened == []  # the connection of the first transaction served them all
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    other = sqlite3.connect(tmp_path / "rasa.db")  # the mode is the file's, for every process
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()


def test_what_the_model_load_leaves_alive_is_left_out_of_full_collections(monkeypatch):
    import asyncio
    import gc

    from rasa.core import run

    from bot.rasa_server import _freeze_the_loaded_model

    frozen_while_loading = []

    async def load_agent_on_start(*args, **kwargs):
        frozen_while_loading.append(gc.get_freeze_count())
        return [[] for _ in range(1000)]  # a model: objects the collector tracks

    monkeypatch.setattr(run, "load_agent_on_start", load_agent_on_start)
    _freeze_the_loaded_model()
    gc.unfreeze()
    try:
        model = asyncio.run(run.load_agent_on_start("model", None, None, None, None))
        assert len(model) == 1000
        assert frozen_while_loading[0] > 0, "what was imported is frozen before the load"
        assert gc.get_freeze_count() > frozen_while_loading[0] + 900, "and the model after it"
    finally:
        gc.unfreeze()  # the rest of the tests' objects stay collectable


def _counting(creator, opened: list):
    def counted(*args):
        opened.append(1)
        return creator(*args)

    return counted


def test_a_new_session_carries_each_slot_once_with_the_same_values():
    from rasa.core.actions.action import ActionSessionStart
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_server import _carry_each_slot_once

    domain = Domain.from_yaml(
        "slots:\n"
        "  language: {type: text, mappings: []}\n"
        "  distress_level: {type: text, mappings: []}\n"
    )
    events = [
        SlotSet("language", "fr"),
        SlotSet("distress_level", "moderate"),
        SlotSet("language", "nl"),
        SlotSet("distress_level", "critical", metadata={"why": "crisis"}),
        SlotSet("language", "fr"),
    ]
    tracker = DialogueStateTracker.from_events("p", events, domain.slots)
    every = ActionSessionStart._slot_set_events_from_tracker
    before = every(tracker)
    _carry_each_slot_once()
    try:
        after = ActionSessionStart._slot_set_events_from_tracker(tracker)
    finally:
        ActionSessionStart._slot_set_events_from_tracker = staticmethod(every)

    def values(carried):
        return DialogueStateTracker.from_events("q", carried, domain.slots).current_slot_values()

    assert len(before) == 5 and len(after) == 2
    assert values(after) == values(before)
    assert {k: values(after)[k] for k in ("language", "distress_level")} == {
        "language": "fr",
        "distress_level": "critical",
    }
    assert {e.key: e.metadata for e in after}["distress_level"] == {"why": "crisis"}


def test_calls_to_the_action_server_reuse_one_connection():
    import asyncio

    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_server import _reuse_action_server_connections

    connections, bodies = [], []
    body = b'{"events": []}'
    sent = {"text": "Ça va / ik ben één", "confidence": 0.9860287652813735, "at": 1795732039.3}

    async def serve(reader, writer):
        connections.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                bodies.append(await reader.readexactly(length))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except asyncio.IncompleteReadError:  # the client closed the connection
            writer.close()

    async def three_calls() -> list:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        endpoint = EndpointConfig(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        answers = [await endpoint.request(json={"n": n, **sent}) for n in range(3)]
        server.close()
        return answers

    session = EndpointConfig.session
    assert asyncio.run(three_calls()) == [{"events": []}] * 3
    assert len(connections) == 3  # Rasa: one connection per call
    connections.clear()
    _reuse_action_server_connections()
    try:
        assert asyncio.run(three_calls()) == [{"events": []}] * 3
    finally:
        EndpointConfig.session = session
    assert len(connections) == 1
    assert [json.loads(b) for b in bodies] == [{"n": n, **sent} for n in range(3)] * 2


def test_action_server_json_reads_back_the_same_and_stays_ascii():
    from bot.rasa_server import _json

    value = {"events": [{"text": "l'été / de zomer", "score": 0.1, "ids": [1, 2**70]}], "x": None}
    assert json.loads(_json(value)) == value
    broken = {"text": "a\ud800b"}  # a lone surrogate (a JSON escape can carry one): not UTF-8
    assert _json(broken) == '{"text":"a\\ud800b"}' and _json(broken).encode("utf-8")
