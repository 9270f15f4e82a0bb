"""The intake form: understands short answers to the question just asked, and ends the intake."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.catalog import language_of, present_recommendations
from bot.intake.extract import find_commune, find_employees, find_needs, find_sector, find_urgency
from bot.intake.profile import recap_labels

Answer = dict[str, Any]
# Intents a short answer can carry ("trois" is often not understood at all: nlu_fallback).
# Anything else (a question, a request for a person, a language switch) is not an answer: the
# form rejects it and the interruption rules answer it, even if it contains "een" or a number.
ANSWER_INTENTS = ("inform", "nlu_fallback", "affirm", "deny")
INTAKE_SLOTS = ("situation", "sector", "employees", "commune", "needs", "urgency")


def answer(tracker: Tracker, slot: str) -> tuple[str | None, str]:
    """(intent, text) of the latest message when it answers `slot`'s question, else (None, "").

    A question, a language switch or a distress message is not an answer: the rules take it.
    """
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    if tracker.get_slot("requested_slot") != slot or intent not in ANSWER_INTENTS:
        return None, ""
    return intent, message.get("text") or ""


def _answer_to(tracker: Tracker, slot: str) -> str | None:
    """The typed answer to `slot`'s question (button payloads are handled upstream)."""
    _, text = answer(tracker, slot)
    return text if text.strip() and not text.startswith("/") else None


class ValidateIntakeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_intake_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """No more questions for a firm outside Brussels: action_intake_done redirects it."""
        if tracker.get_slot("region") not in (None, "brussels"):
            return []
        return domain_slots

    async def extract_situation(self, dispatcher, tracker: Tracker, domain) -> Answer:
        text = _answer_to(tracker, "situation")
        return {"situation": text[:1000]} if text else {}

    async def extract_sector(self, dispatcher, tracker: Tracker, domain) -> Answer:
        text = _answer_to(tracker, "sector")
        sector = find_sector(text) if text else None
        return {"sector": sector} if sector else {}

    async def extract_employees(self, dispatcher, tracker: Tracker, domain) -> Answer:
        text = _answer_to(tracker, "employees")
        employees = find_employees(text, answer=True) if text else None
        return {"employees": employees} if employees is not None else {}

    async def extract_commune(self, dispatcher, tracker: Tracker, domain) -> Answer:
        text = _answer_to(tracker, "commune")
        if not text:
            return {}
        place = find_commune(text, answer=True)
        if place is None:
            dispatcher.utter_message(response="utter_not_a_commune")
            return {}
        return {"commune": place.id, "region": place.region}

    async def extract_needs(self, dispatcher, tracker: Tracker, domain) -> Answer:
        """Free words that match no need are kept as "other" so the form never traps anyone."""
        text = _answer_to(tracker, "needs")
        if not text:
            return {}
        return {"needs": find_needs(text) or ["other"]}

    async def extract_urgency(self, dispatcher, tracker: Tracker, domain) -> Answer:
        """ "Is it urgent?" can be answered with a plain yes (today) or no (it can wait)."""
        text = _answer_to(tracker, "urgency")
        if not text:
            return {}
        intent = tracker.latest_message["intent"]["name"]
        urgency = find_urgency(text) or {"affirm": "high", "deny": "low"}.get(intent)
        return {"urgency": urgency} if urgency else {}


class IntakeDone(Action):
    """Recap in the person's words and the measures that fit; outside Brussels, where to go."""

    def name(self) -> str:
        return "action_intake_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        region = tracker.get_slot("region")
        if region and region != "brussels":
            dispatcher.utter_message(response=f"utter_outside_brussels_{region}")
        else:
            labels = recap_labels(tracker.current_slot_values(), language_of(tracker))
            dispatcher.utter_message(response="utter_intake_recap", **labels)
        return present_recommendations(dispatcher, tracker)
