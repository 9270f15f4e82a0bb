"""action_validate_slot_mappings: runs after every user message, in every state, forms included.

It keeps the conversation's language, the intake profile, the distress state and the
misunderstanding counter up to date from the parse result (our NLU components) and the channel's
metadata. Rasa sends what it utters before the dialogue's answer: the moderate-distress
acknowledgement and the check-in after a crisis live here, so no state can skip them. What the
coordinators' report counts goes to the gateway with every turn's answers, as one custom message
(bot/gateway/profile.py): every turn, not only when it changes, because a turn Rasa saved but
whose answers the gateway did not store (a timeout, a lost lease) is sent again, and would then
find nothing changed.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.intake_form import ANSWER_INTENTS, INTAKE_SLOTS
from bot.intake import PROFILE_MESSAGE
from bot.intake.extract import place_by_id
from bot.intake.profile import entity_values, merge_needs, next_language
from bot.intake.safety_state import distress_slots, response_before_answer
from bot.settings import ROOT

SITUATION_MAX_CHARS = 1000
# What the coordinators' report counts (categories only), sent to the gateway with every turn.
# slot -> field of the profile (bot/gateway/profile.py)
REPORTED = {
    "sector": "sector",
    "employees": "workers",
    "commune": "commune",
    "region": "region",
    "needs": "needs",
    "distress_level": "distress_level",
    "urgency": "urgency",
}
CARRIED = ("distress_level", "distress_cues")
CHANNEL_SENDER = re.compile(r"^(web|telegram|whatsapp):[\w-]{1,100}$")


def _reported(name: str, value: Any) -> Any:
    if name == "employees":
        return None if value is None else int(value)
    if name == "needs":
        return [n for n in value or [] if n != "other"]
    return value


def carried_distress(tracker: Tracker) -> dict[str, Any] | None:
    """The distress state a new session started with (slots carried over), as one parse.

    A session ends after a day without messages or after bot/rasa_server.MAX_SESSION_USER_MESSAGES
    messages; Rasa then sends only the new session's events, so the highest level and the cues of
    the earlier sessions come from the slots that action_session_start carried over.
    """
    events = tracker.events
    starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
    if not starts:
        return None
    carried: dict[str, Any] = {}
    for event in events[starts[-1] :]:
        if event.get("event") == "user":
            break
        if event.get("event") == "slot" and event.get("name") in CARRIED:
            carried[event["name"]] = event.get("value")
    level = carried.get("distress_level") or "none"
    if level == "none":
        return None
    return {"distress": {"level": level, "cues": carried.get("distress_cues") or []}}


def user_parses(tracker: Tracker) -> list[dict[str, Any]]:
    """The NLU results of this session's user messages, oldest first, the current one last."""
    return [e.get("parse_data") or {} for e in tracker.events if e.get("event") == "user"]


def profile_updates(tracker: Tracker) -> dict[str, Any]:
    """Slot values that the latest user message changes."""
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    entities = message.get("entities") or []
    guess = dict(message.get("language") or {})
    if chosen := entity_values(entities, "language_choice"):
        guess["requested"] = chosen[-1]
    hint = (message.get("metadata") or {}).get("language_hint")
    language, source = next_language(
        tracker.get_slot("language"), tracker.get_slot("language_source"), guess, hint
    )
    updates: dict[str, Any] = {"language": language, "language_source": source}

    for name in ("sector", "employees", "urgency"):
        if values := entity_values(entities, name):
            updates[name] = values[-1]
    if communes := entity_values(entities, "commune"):
        place = place_by_id(communes[-1])
        if place:
            updates["commune"], updates["region"] = place.id, place.region
    if needs := entity_values(entities, "need"):
        updates["needs"] = merge_needs(tracker.get_slot("needs"), needs)
    if stated := entity_values(entities, "circumstance"):
        known = tracker.get_slot("circumstances") or []
        updates["circumstances"] = known + [c for c in stated if c not in known]
    text = message.get("text") or ""
    if intent == "inform" and not tracker.get_slot("situation") and not text.startswith("/"):
        updates["situation"] = text[:SITUATION_MAX_CHARS]
    carried = carried_distress(tracker)
    updates.update(distress_slots(([carried] if carried else []) + user_parses(tracker)))
    if (tracker.active_loop or {}).get("name") == "intake_form" and intent not in ANSWER_INTENTS:
        # Not an answer (a distress message, a request for a person, a question): Rasa lets the
        # rules answer only when the message filled none of the form's slots, so none is set.
        for slot in (*INTAKE_SLOTS, "region"):
            updates.pop(slot, None)
    return updates


@cache
def domain_responses() -> dict[str, list[dict[str, Any]]]:
    """The domain's responses, read once (Rasa sends the domain only to actions that ask)."""
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def variation_text(response: str, language: str) -> str:
    """The text of `response` in `language`.

    Rasa renders an action's responses with the slots as they were before the action, so on the
    very first message (when this action sets the language) a response by name would find no
    variation; this action therefore picks the variation itself.
    """
    for variation in domain_responses()[response]:
        if {"type": "slot", "name": "language", "value": language} in variation["condition"]:
            return variation["text"]
    raise KeyError(f"{response} has no {language} variation")


class ValidateSlotMappings(Action):
    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        current = tracker.current_slot_values()
        updates = profile_updates(tracker)
        response = response_before_answer(user_parses(tracker))
        if response == "utter_empathy_moderate" and carried_distress(tracker):
            response = None  # distress was acknowledged in an earlier session
        if response:
            dispatcher.utter_message(text=variation_text(response, updates["language"]))
        changed = {name: value for name, value in updates.items() if current.get(name) != value}
        if CHANNEL_SENDER.match(tracker.sender_id):
            profile = {**current, **changed}
            reported = {REPORTED[name]: _reported(name, profile.get(name)) for name in REPORTED}
            dispatcher.utter_message(
                json_message={PROFILE_MESSAGE: {"language": profile.get("language")} | reported}
            )
        return [SlotSet(name, value) for name, value in changed.items()]
