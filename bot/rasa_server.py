"""`python -m bot.rasa_server run ...`: Rasa's own command line, with measured fixes
(docs/performance.md has the measurements; tests/engine/test_rasa_server.py checks that each one
answers what Rasa's own code answers).

1. Rasa 3.6 validates every action server response with `jsonschema.validate`, which checks the
   schema itself again on every call; under load that was 65 % of the Rasa server's CPU (py-spy,
   `make bench`). Here the same validation runs with a validator built once per schema, and
   each event is checked against the one alternative of the event schema that can match it.
   The responses are accepted and refused as before.
2. Bounded sessions. Everything Rasa does per message is linear in the events of the current
   session: the SQL tracker store loads them, the tracker replays them for every action
   (`DialogueStateTracker.copy`, `travel_back_in_time`, the form's temporary tracker) and the
   whole tracker goes to the action server on every custom action. At turn 200 of one
   conversation a reply took 30x longer than at turn 1 (py-spy: 80 % of the server's time in
   `replay_events`). Rasa only starts a new session after a time without messages; here a session
   also ends after MAX_SESSION_USER_MESSAGES messages, with Rasa's own `action_session_start`,
   which carries every slot over (domain.yml, session_config): language, profile, the highest
   distress level and its cues, an open crisis, the handoff. An active form stays active. A
   session is never cut while a crisis check-in is pending or after a misunderstanding (both
   count messages of the session; actions/profile_slots.py carries the distress state itself).
3. Each slot carried over once at a session start (`_carry_each_slot_once`): Rasa repeats them
   all, so sessions grew longer one after the other.
4. The action server unreachable: Rasa answered without our actions' slots, or nothing at all,
   and saved that turn; now the turn is not saved and the REST channel answers 503, so the
   gateway keeps the message and sends it again (`_fail_when_actions_are_unreachable`).
5. The tracker store keeps the trackers it saved (bot/tracker_cache.py), calls to the action
   server reuse their connections (`_reuse_action_server_connections`), the policies'
   dialogue states are computed once per event (bot/dialogue_states.py), and the model's graph
   runs without dask's scheduler (bot/graph_runner.py).
6. The tracker store's engine (`_tune_tracker_store_engine`): on PostgreSQL connections checked
   before use (a database restart used to cost a message its context); on SQLite connections
   kept and the database in WAL mode (a commit used to wait for the disk).
7. The loaded model left out of Python's full garbage collections (`_freeze_the_loaded_model`):
   each one stopped the server for up to ~0.9 s.
8. Smaller ones: event classes looked up once (`_cache_event_classes`), skops imported before
   TensorFlow (cold start).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import json
import os
import sys
from typing import Any

import jsonschema
import ujson

from bot import dialogue_states, graph_runner, tracker_cache

# Messages of one session before the next message starts a new one (slots carried over).
MAX_SESSION_USER_MESSAGES = int(os.environ.get("RELAIS_SESSION_MAX_MESSAGES", "20"))
# bot/intake/safety_state.CHECK_IN_AFTER: the check-in counts messages after a critical one.
CHECK_IN_AFTER = 3


def _cached_validate(instance: Any, schema: dict, cls: Any = None, *args: Any, **kwargs: Any):
    """`jsonschema.validate`, with validators built once per schema."""
    if cls is None and not args and not kwargs and _is_action_response_schema(schema):
        _validate_action_response(instance, schema)
    else:
        _raise_best_error(_validator(schema, cls, *args, **kwargs), instance)


def _validator(schema: dict, cls: Any = None, *args: Any, **kwargs: Any) -> Any:
    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = cls or jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _VALIDATORS[key] = cls(schema, *args, **kwargs)
    return validator


def _raise_best_error(validator: Any, instance: Any) -> None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


_VALIDATORS: dict[str, Any] = {}


def _is_action_response_schema(schema: Any) -> bool:
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    return isinstance(schema, dict) and schema.get("properties", {}).get("events") is EVENTS_SCHEMA


def _validate_action_response(instance: Any, schema: dict) -> None:
    """The same check as the action response schema, with each event checked against the one
    alternative of the event schema's `oneOf` that can match it. The 23 alternatives differ by
    the `const` of the event's name, so at most one can validate a given event, and checking that
    one alone is the `oneOf`; jsonschema tries all 23 for every event (11 % of the server's CPU
    under load). Anything unusual (no list of events, an unknown name) gets the full schema."""
    events = instance.get("events", []) if isinstance(instance, dict) else None
    if not isinstance(events, list):
        return _raise_best_error(_validator(schema), instance)
    others = {name: part for name, part in schema["properties"].items() if name != "events"}
    _raise_best_error(_validator({**schema, "properties": others}), instance)
    any_event, by_name = _event_validators()
    for event in events:
        name = event.get("event") if isinstance(event, dict) else None
        _raise_best_error(
            by_name.get(name, any_event) if isinstance(name, str) else any_event, event
        )


@functools.cache
def _event_validators() -> tuple[Any, dict[str, Any]]:
    """(validator of Rasa's whole event schema, validator per event name), built once."""
    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    base = {key: part for key, part in EVENT_SCHEMA.items() if key != "oneOf"}
    by_name = {
        alternative["properties"]["event"]["const"]: _validator({"allOf": [base, alternative]})
        for alternative in EVENT_SCHEMA["oneOf"]
    }
    return _validator(EVENT_SCHEMA), by_name


def _cache_event_classes() -> None:
    """Rasa finds an event's class by walking every subclass of Event, for every event it reads
    from the tracker store (7.5 % of the server's CPU under load). The classes do not change
    once imported: remember the answer, and ask Rasa again only for a name not seen yet."""
    from rasa.shared.core.events import Event

    resolve = Event.resolve_by_type
    known: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = known.get(type_name)
        if cls is None:
            cls = resolve(type_name, default)
            if cls is not None and cls is not default:
                known[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _tune_tracker_store_engine() -> None:
    """The tracker store's SQLAlchemy engine, per database.

    PostgreSQL: a server that restarted leaves Rasa's pool with dead connections, and Rasa's
    tracker store then answers one message without the conversation's history, unsaved ("Falling
    back to use the InMemoryTrackerStore"). Checking a connection before using it (a round trip
    per transaction) replaces them.

    SQLite: SQLAlchemy 1.4 opens a new connection for every transaction of a file database
    (NullPool), and Rasa leaves SQLite's default journal, whose commit writes, syncs and deletes
    a journal file: ~1.5 ms of disk waits per message, during which the server's event loop does
    nothing else. Here connections are kept (QueuePool) and the database is in WAL mode with
    synchronous=NORMAL, as the gateway's: a commit is an append, it survives the process being
    killed (not a power cut), and other processes (the other Rasa servers, the gateway's purge)
    read while one writes."""
    import rasa.core.tracker_store as tracker_store
    from sqlalchemy.engine.url import make_url
    from sqlalchemy.pool import QueuePool

    engine_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = engine_kwargs(url)
        url = make_url(url)
        if url.get_backend_name() != "sqlite":
            kwargs["pool_pre_ping"] = True
        elif url.database and url.database != ":memory:" and not url.query:  # a plain file
            kwargs["poolclass"] = QueuePool
            path = os.path.abspath(url.database)
            kwargs["creator"] = functools.partial(_sqlite_in_wal_mode, path)
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs


def _sqlite_in_wal_mode(path: str) -> Any:
    import sqlite3

    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _light_event_rows() -> None:
    """Rasa's SQL tracker store builds a full ORM object for every stored event of the session,
    on every message, only to read its `data` column (and to count them before saving). Rows of
    that one column serve both callers the same way (`row.data`, `count()`), without the ORM's
    bookkeeping (~10 % of the server's CPU under load)."""
    from rasa.core.tracker_store import SQLTrackerStore

    event_query = SQLTrackerStore._event_query

    def light_event_query(self, session, sender_id, fetch_events_from_all_sessions):
        query = event_query(self, session, sender_id, fetch_events_from_all_sessions)
        return query.with_entities(self.SQLEvent.data)

    SQLTrackerStore._event_query = light_event_query


def _carry_each_slot_once() -> None:
    """At a session start Rasa carries slots over by repeating every SlotSet event of the
    session that ends, the ones it carried over itself included: each session started with more
    events than the one before (39, 73, 107... slot events at 20-message sessions), and what the
    sessions were bounded for grew back. One SlotSet per slot, with its last value and metadata,
    sets exactly the same values."""
    from rasa.core.actions.action import ActionSessionStart

    every_slot_set = ActionSessionStart._slot_set_events_from_tracker

    def last_slot_sets(tracker) -> list[Any]:
        last = {event.key: event for event in every_slot_set(tracker)}
        return list(last.values())

    ActionSessionStart._slot_set_events_from_tracker = staticmethod(last_slot_sets)


# Idle connections to the action server are closed after this, before Sanic's own keep-alive
# timeout (5 s) closes them from the other end, which would fail the call that reuses one.
ACTION_KEEPALIVE_S = 2.0


class _Open:
    """`async with` on a client session that stays open afterwards."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _json(value: Any) -> str:
    """The JSON of a call to the action server (the whole session's tracker, ~40 kB) with ujson,
    a Rasa dependency, in 0.4 ms instead of json's 1.1 ms. ASCII like json's, so that a lone
    surrogate (which a JSON escape can carry) stays an escape instead of failing as UTF-8."""
    return ujson.dumps(value, escape_forward_slashes=False)


def _freeze_the_loaded_model() -> None:
    """Leave the loaded model out of Python's full garbage collections. The model is ~950 000
    objects that live as long as the server, and each full collection goes through all of them
    (0.9 s for one `gc.collect()` once loaded): a dozen stopped the server while it loaded, and
    under `make bench` a server still runs ~8 more (gc.callbacks). `gc.freeze` moves what is
    alive to a generation the collector skips: what was imported before the load, then the
    model, each after one collection drops the garbage. What the messages create is collected as
    before. (A model replaced while the server runs would stay frozen: the launcher never
    replaces one.)"""
    from rasa.core import run

    load = run.load_agent_on_start

    @functools.wraps(load)
    async def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        gc.collect()  # the imports' garbage is not kept
        gc.freeze()
        try:
            return await load(*args, **kwargs)
        finally:
            gc.collect()
            gc.freeze()

    run.load_agent_on_start = load_then_freeze


def _reuse_action_server_connections() -> None:
    """Rasa opens a new HTTP client session, so a new TCP connection, for every call to the
    action server (three or four per message), and closes it afterwards. One client session per
    endpoint and event loop keeps its connections open between calls, and encodes with `_json`."""
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    def session(self) -> _Open:
        loop = asyncio.get_running_loop()
        kept_loop, kept = self.__dict__.get("_relais_session", (None, None))
        if kept_loop is not loop or kept.closed:
            auth = aiohttp.BasicAuth(**self.basic_auth) if self.basic_auth else None
            kept = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_KEEPALIVE_S),
                json_serialize=_json,
            )
            self._relais_session = (loop, kept)
        return _Open(kept)

    EndpointConfig.session = session


class ActionServerUnreachable(Exception):
    """The action server could not be reached during this message: nothing of it is saved."""


# Per HTTP request: what went wrong while Rasa handled it (a set shared with any task the
# request starts, as contextvars copy the reference, not the set).
_TROUBLE: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "relais_trouble", default=None
)


def _fail_when_actions_are_unreachable() -> None:
    """Rasa carries on when the action server cannot be reached ("the action's events are
    lost"): it answers without the slots our actions set (language, profile, distress level) and
    saves that turn. Here such a message is not saved and Rasa's REST channel answers 503, so the
    gateway keeps the message, tells the person we are in trouble (with the crisis lines), and
    sends it again when the action server is back. An action that fails on the action server
    (HTTP 500) is a bug, not an outage: Rasa handles it as before."""
    import aiohttp
    import rasa.core.run
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.exceptions import RasaException
    from sanic import response

    run_remote = RemoteAction.run
    save = MessageProcessor.save_tracker
    configure_app = rasa.core.run.configure_app

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_remote(self, *args, **kwargs)
        except RasaException as error:
            trouble = _TROUBLE.get()
            if trouble is not None and isinstance(
                error.__context__, (aiohttp.ClientConnectionError, asyncio.TimeoutError)
            ):
                trouble.add("action server unreachable")
            raise

    async def save_tracker(self, tracker: Any) -> None:
        if _TROUBLE.get():
            raise ActionServerUnreachable(tracker.sender_id)
        await save(self, tracker)

    def configured_app(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)

        @app.middleware("request")
        async def watch(request: Any) -> None:
            _TROUBLE.set(set())

        @app.middleware("response")
        async def unavailable(request: Any, answer: Any) -> Any:
            if trouble := _TROUBLE.get():
                return response.json({"error": sorted(trouble)[0]}, status=503)
            return answer

        return app

    RemoteAction.run = run
    MessageProcessor.save_tracker = save_tracker
    rasa.core.run.configure_app = configured_app


def session_too_long(events: list[Any], limit: int = MAX_SESSION_USER_MESSAGES) -> bool:
    """Whether the current session (events after the last SessionStarted) should end now."""
    from rasa.shared.core.events import SessionStarted, UserUttered

    parses = []
    for event in reversed(events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            parses.append(event.parse_data or {})
    if len(parses) < limit:
        return False
    recent = parses[: CHECK_IN_AFTER + 1]  # newest first
    if any((p.get("distress") or {}).get("level") == "critical" for p in recent):
        return False  # the check-in a few messages after a crisis is still to come
    return (parses[0].get("intent") or {}).get("name") != "nlu_fallback"


def _bound_sessions() -> None:
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import ActiveLoop

    expired_by_time = MessageProcessor._has_session_expired
    update_session = MessageProcessor._update_tracker_session

    def has_session_expired(self, tracker) -> bool:
        return expired_by_time(self, tracker) or session_too_long(tracker.events)

    async def update_tracker_session(self, tracker, output_channel, metadata=None) -> None:
        cut = session_too_long(tracker.events) and not expired_by_time(self, tracker)
        loop = tracker.active_loop_name
        await update_session(self, tracker, output_channel, metadata)
        if cut and loop:  # the form goes on where it was (requested_slot is carried over)
            tracker.update(ActiveLoop(loop), self.domain)

    MessageProcessor._has_session_expired = has_session_expired
    MessageProcessor._update_tracker_session = update_tracker_session


def main() -> None:
    # Before Rasa: at import, skops (which loads the intent classifier) looks up the module of
    # every numpy and scipy ufunc by scanning sys.modules; after Rasa has imported TensorFlow
    # that scan took ~9 s of the cold start, before it ~1 s (docs/performance.md).
    import skops.io  # noqa: F401

    jsonschema.validate = _cached_validate
    _cache_event_classes()
    _tune_tracker_store_engine()
    _light_event_rows()
    tracker_cache.install()
    dialogue_states.install()
    graph_runner.install()
    _carry_each_slot_once()
    _reuse_action_server_connections()
    _fail_when_actions_are_unreachable()
    _bound_sessions()
    _freeze_the_loaded_model()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
