"""Rasa's SQL tracker store keeps the trackers it has just saved, so that the next message of a
conversation is not read back from the database and replayed.

Under load, reading the session's events back on every message, and counting them again before
saving the new ones, was ~16 % of a Rasa server's CPU (py-spy, docs/performance.md). Here a
tracker is kept after it is saved, with the id of the conversation's last stored event, and is
used again only while that id is still the conversation's last in the database (one indexed
query): another Rasa server answering the conversation, an erasure or the retention purge change
it, and the tracker is then read from the database as Rasa does. Nor is a kept tracker used when
it has events that were not saved (a message that failed halfway), and none is kept when its
save started a new session (Rasa reads only that new session back). Bounded: the CAPACITY
conversations used last, per Rasa server.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

CAPACITY = 256


@dataclass
class _Kept:
    tracker: Any
    length: int  # len(tracker.events) when saved: more means unsaved events
    last_id: int  # the conversation's last stored event then


@functools.cache
def _last_id_query(event_table: Any) -> Any:
    import sqlalchemy as sa

    return sa.select(sa.func.max(event_table.c.id)).where(
        event_table.c.sender_id == sa.bindparam("sender_id")
    )


def _last_id(store: Any, connection: Any, sender_id: str) -> int | None:
    query = _last_id_query(store.SQLEvent.__table__)
    return connection.execute(query, {"sender_id": sender_id}).scalar()


def _kept(store: Any) -> OrderedDict[str, _Kept]:
    """The store's kept trackers, least recently used first."""
    if "_relais_kept" not in store.__dict__:
        store._relais_kept = OrderedDict()
    return store._relais_kept


def _row(sender_id: str, event: Any) -> dict[str, Any]:
    """The row Rasa's SQLTrackerStore.save stores for an event."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def install(capacity: int = CAPACITY) -> None:
    """Patch Rasa's SQLTrackerStore (the only tracker store we configure)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import SessionStarted

    retrieve = SQLTrackerStore.retrieve
    count_unsaved = SQLTrackerStore._additional_events

    async def retrieve_kept(self, sender_id: str) -> Any:
        kept = _kept(self).pop(sender_id, None)
        if kept is not None and len(kept.tracker.events) == kept.length:
            with self.engine.connect() as connection:
                if _last_id(self, connection, sender_id) == kept.last_id:
                    _kept(self)[sender_id] = kept
                    return kept.tracker
        return await retrieve(self, sender_id)

    def unsaved(self, session: Any, tracker: Any) -> list[Any]:
        """The events to store: those after the kept length, when this very tracker was kept
        and nothing was stored since; otherwise counted in the database as Rasa does."""
        kept = _kept(self).get(tracker.sender_id)
        if (
            kept is not None
            and kept.tracker is tracker
            and _last_id(self, session.connection(), tracker.sender_id) == kept.last_id
        ):
            return list(itertools.islice(tracker.events, kept.length, None))
        return list(count_unsaved(self, session, tracker))

    async def save_and_keep(self, tracker: Any) -> None:
        """Rasa's save (the same rows), which also reads the conversation's last event id in the
        same transaction and keeps the tracker."""
        await self.stream_events(tracker)
        kept = _kept(self)
        with self.session_scope() as session:
            new_events = unsaved(self, session, tracker)
            if new_events:  # one INSERT for all, without the ORM's bookkeeping
                table = self.SQLEvent.__table__
                session.execute(table.insert(), [_row(tracker.sender_id, e) for e in new_events])
            last_id = _last_id(self, session.connection(), tracker.sender_id)
            session.commit()
        kept.pop(tracker.sender_id, None)
        if last_id is None or any(isinstance(e, SessionStarted) for e in new_events):
            return  # a new session began: Rasa reads back only that session
        kept[tracker.sender_id] = _Kept(tracker, len(tracker.events), last_id)
        while len(kept) > capacity:
            kept.popitem(last=False)

    SQLTrackerStore.retrieve = retrieve_kept
    SQLTrackerStore.save = save_and_keep
