"""The triage profile the bot found (what the coordinators' report counts), as categories.

It comes with the bot's answers: on every turn of a channel's conversation, the action server
adds one custom message to the answers (actions/profile_slots.py). The Rasa client takes it out,
and the queue stores it on the conversation in the transaction that stores the answers
(bot/gateway/inbound.py). One HTTP call from the action server to the gateway fewer per message
(docs/performance.md), and the profile is never ahead of or behind the answers it came with.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import JSON, Row, bindparam, func, update
from sqlalchemy.orm import Session

from bot.gateway.store.models import Conversation
from bot.intake import PROFILE_MESSAGE
from bot.safety import LEVELS

logger = logging.getLogger("relais.profile")


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["fr", "nl"] | None = None
    sector: Annotated[str | None, Field(max_length=32)] = None
    workers: Annotated[int | None, Field(ge=0, le=100_000)] = None
    commune: Annotated[str | None, Field(max_length=64)] = None
    region: Literal["brussels", "wallonia", "flanders"] | None = None
    needs: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=12)] = []
    distress_level: Literal["none", "moderate", "high", "critical"] | None = None
    urgency: Literal["high", "medium", "low"] | None = None


_KEPT_UNLESS_GIVEN = ("sector", "workers", "commune", "region", "urgency", "distress_level")
# The columns `store` compares with: read with the lease renewal that precedes it.
STORED = tuple(getattr(Conversation, name) for name in ("language", "needs", *_KEPT_UNLESS_GIVEN))
# A value that is not given (NULL) keeps the stored one; a known language stays.
_STORE = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation"))
    .values(
        language=func.coalesce(Conversation.language, bindparam("language")),
        needs=func.coalesce(bindparam("needs", type_=JSON(none_as_null=True)), Conversation.needs),
        **{
            name: func.coalesce(bindparam(name), getattr(Conversation, name))
            for name in _KEPT_UNLESS_GIVEN
        },
    )
)


def from_custom(custom: Any) -> Profile | None:
    """The profile in a custom message of Rasa's answers; None if it is not one.

    An invalid profile is logged (its field names only) and dropped: it never costs the person
    their answers."""
    if not isinstance(custom, dict) or PROFILE_MESSAGE not in custom:
        return None
    try:
        return Profile.model_validate(custom[PROFILE_MESSAGE])
    except ValidationError as error:
        fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
        logger.warning("invalid profile from the engine dropped: %s", fields)
        return None


def store(session: Session, conversation_id: str, profile: Profile, stored: Row[Any]) -> None:
    """Keep the conversation's profile current. `stored` is the profile stored so far: a row
    with the STORED columns, read in this transaction. Its distress level only ever goes up,
    and when the profile changes nothing, as on most turns, nothing is written."""
    raised = profile.distress_level and LEVELS.index(profile.distress_level) > LEVELS.index(
        stored.distress_level or "none"
    )
    values = profile.model_dump(include={"language", *_KEPT_UNLESS_GIVEN})
    values |= {
        "needs": profile.needs or None,
        "distress_level": profile.distress_level if raised else None,
    }
    given = {name: value for name, value in values.items() if value is not None}
    if stored.language is not None:  # a known language stays
        given.pop("language", None)
    if all(getattr(stored, name) == value for name, value in given.items()):
        return
    session.connection().execute(_STORE, values | {"conversation": conversation_id})
