"""Handing a conversation to a partner: explain what is shared, ask consent, send the summary.

The flow: action_prepare_handoff decides why and to whom (bot/catalog/routing.yml), the
handoff_form asks consent (and, when nobody can answer soon, whether to call back, on which
number and when), action_handoff_submit posts the summary to the gateway and tells the person
their reference and what happens next. Without consent the person gets the partner's own
contact details; a critical situation gets the crisis lines whatever the answer.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import gateway_client
from actions.catalog import language_of, named_item, profile_of
from actions.intake_form import answer
from actions.profile_slots import user_parses
from bot.catalog import catalog
from bot.catalog.present import contact
from bot.catalog.routing import priority, route
from bot.catalog.wording import text
from bot.intake.safety_state import trailing_fallbacks
from bot.summary import build_summary

TRANSCRIPT_MAX_LINES = 200
PHONE = re.compile(r"(?:\+|00)?\d[\d ./-]{7,18}\d")
SLOTS = {
    "morning": ("matin", "ochtend", "voormiddag"),
    "afternoon": ("apres-midi", "après-midi", "namiddag", "middag"),
}
RESET = (
    "handoff_consent",
    "handoff_availability",
    "callback_wanted",
    "callback_phone",
    "callback_slot",
)


def _reason(tracker: Tracker) -> str:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "request_contact":
        return "contact"
    if tracker.get_slot("crisis_open") or tracker.get_slot("distress_level") in (
        "high",
        "critical",
    ):
        return "distress"
    if trailing_fallbacks(user_parses(tracker)[:-1]) >= 2:
        return "fallback"
    return "asked"


def in_crisis(tracker: Tracker) -> bool:
    return bool(tracker.get_slot("crisis_open")) or tracker.get_slot("distress_level") in (
        "high",
        "critical",
    )


class PrepareHandoff(Action):
    """Why and to whom; a fresh consent question every time."""

    def name(self) -> str:
        return "action_prepare_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = _reason(tracker)
        item = named_item(tracker) if reason == "contact" else None
        return [
            *(SlotSet(slot, None) for slot in RESET),
            SlotSet("handoff_reason", reason),
            SlotSet("contact_item", item),
            SlotSet("handoff_partner", route(profile_of(tracker), item)),
        ]


class AskHandoffConsent(Action):
    """What will be shared, with whom, and the question."""

    def name(self) -> str:
        return "action_ask_handoff_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        partner = catalog().partners[tracker.get_slot("handoff_partner")]
        dispatcher.utter_message(
            response="utter_ask_handoff_consent", partner=partner.name[language_of(tracker)]
        )
        return []


class ValidateHandoffForm(FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_form"

    async def required_slots(self, domain_slots, dispatcher, tracker: Tracker, domain) -> list[str]:
        """Consent; then, when nobody can answer soon, the callback questions."""
        slots = ["handoff_consent"]
        if (
            tracker.get_slot("handoff_consent")
            and tracker.get_slot("handoff_availability") == "later"
        ):
            slots.append("callback_wanted")
            if tracker.get_slot("callback_wanted"):
                slots += ["callback_phone", "callback_slot"]
        return slots

    async def extract_handoff_consent(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        intent, _ = answer(tracker, "handoff_consent")
        return (
            {"handoff_consent": {"affirm": True, "deny": False}[intent]}
            if intent in ("affirm", "deny")
            else {}
        )

    async def validate_handoff_consent(
        self, value, dispatcher, tracker: Tracker, domain
    ) -> dict[str, Any]:
        """With consent, ask the gateway whether someone can answer now (down: assume later)."""
        if not value:
            return {"handoff_consent": value}
        try:
            status = (await gateway_client.availability(tracker.get_slot("handoff_partner")))[
                "status"
            ]
        except gateway_client.GatewayUnavailable:
            status = "later"
        return {"handoff_consent": True, "handoff_availability": status}

    async def extract_callback_wanted(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        intent, _ = answer(tracker, "callback_wanted")
        return {"callback_wanted": intent == "affirm"} if intent in ("affirm", "deny") else {}

    async def extract_callback_phone(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        _, said = answer(tracker, "callback_phone")
        if not said:
            return {}
        found = PHONE.search(said)
        if not found:
            dispatcher.utter_message(response="utter_phone_invalid")
            return {}
        return {"callback_phone": re.sub(r"[ ./-]", " ", found.group()).strip()}

    async def extract_callback_slot(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        intent, said = answer(tracker, "callback_slot")
        if not said:
            return {}
        entities = tracker.latest_message.get("entities") or []
        if chosen := [e["value"] for e in entities if e.get("entity") == "callback_slot"]:
            return {"callback_slot": chosen[-1]}
        for slot, words in SLOTS.items():
            if any(w in said.lower() for w in words):
                return {"callback_slot": slot}
        return {"callback_slot": "any" if intent in ("affirm", "deny") else said.strip()[:64]}


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    """The person's and the bot's words, oldest first (button payloads are not words)."""
    lines = []
    for event in tracker.events:
        said = event.get("text") or ""
        if event.get("event") not in ("user", "bot") or not said or said.startswith("/"):
            continue
        author = "person" if event["event"] == "user" else "bot"
        at = (
            datetime.fromtimestamp(event["timestamp"]).isoformat(timespec="seconds")
            if event.get("timestamp")
            else None
        )
        lines.append({"author": author, "text": said[:5000], "at": at})
    return lines[-TRANSCRIPT_MAX_LINES:]


def describe_when(iso: str | None, language: str) -> str:
    if not iso:
        return text("when.asap", language)
    moment = datetime.fromisoformat(iso)
    day = text(
        f"days.{('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')[moment.weekday()]}", language
    )
    return text("when.at", language, day=day, date=f"{moment:%d/%m}", time=f"{moment:%H:%M}")


class HandoffSubmit(Action):
    def name(self) -> str:
        return "action_handoff_submit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language, partner = language_of(tracker), tracker.get_slot("handoff_partner")
        if not tracker.get_slot("handoff_consent"):
            dispatcher.utter_message(response="utter_handoff_declined")
            self._direct_contact(dispatcher, tracker, partner, language)
            return []
        sequence = int(tracker.get_slot("handoff_count") or 0) + 1
        slots = tracker.current_slot_values()
        channel = tracker.sender_id.split(":", 1)[0] if ":" in tracker.sender_id else "web"
        body = {
            "conversation_id": tracker.sender_id
            if ":" in tracker.sender_id
            else f"web:{tracker.sender_id}",
            "sequence": sequence,
            "partner": partner,
            "reason": tracker.get_slot("handoff_reason") or "asked",
            "priority": priority(slots.get("distress_level") or "none", slots.get("urgency")),
            "language": language,
            "consent": True,
            "summary": build_summary(
                slots,
                channel=channel,
                partner=partner,
                reason=tracker.get_slot("handoff_reason") or "asked",
                consent=True,
                contact_item=tracker.get_slot("contact_item"),
                phone=tracker.get_slot("callback_phone"),
                slot=tracker.get_slot("callback_slot"),
            ),
            "transcript": transcript(tracker),
        }
        if tracker.get_slot("callback_phone"):
            body["callback"] = {
                "phone": tracker.get_slot("callback_phone"),
                "slot": tracker.get_slot("callback_slot") or "any",
            }
        try:
            answer = await gateway_client.post_handoff(body)
        except gateway_client.GatewayUnavailable:
            dispatcher.utter_message(response="utter_handoff_failed")
            self._direct_contact(dispatcher, tracker, partner, language)
            return []
        name = catalog().partners[partner].name[language]
        dispatcher.utter_message(
            response="utter_handoff_reference", reference=answer["reference"], partner=name
        )
        upcoming = answer["next"]
        if upcoming["status"] == "now":
            dispatcher.utter_message(response="utter_handoff_now", partner=name)
        else:
            dispatcher.utter_message(
                response="utter_handoff_later",
                when=describe_when(upcoming.get("answer_from"), language),
            )
            if tracker.get_slot("callback_phone"):
                dispatcher.utter_message(
                    response="utter_callback_confirmed", phone=tracker.get_slot("callback_phone")
                )
            if in_crisis(tracker):  # never just "wait": the 24/7 lines while nobody is there
                dispatcher.utter_message(response="utter_crisis_lines")
        return [
            SlotSet("handoff_count", sequence),
            SlotSet("handoff_reference", answer["reference"]),
        ]

    @staticmethod
    def _direct_contact(
        dispatcher: CollectingDispatcher, tracker: Tracker, partner: str, language: str
    ) -> None:
        message = contact(tracker.get_slot("contact_item") or partner, language)
        dispatcher.utter_message(text=message["text"])
        if in_crisis(tracker):
            dispatcher.utter_message(response="utter_crisis_lines")
