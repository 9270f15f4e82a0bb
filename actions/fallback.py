"""Misunderstandings: ask to rephrase once; the second time in a row, offer a person and 1819."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

OFFER_HUMAN_AFTER = 2


class HandleFallback(Action):
    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if (tracker.get_slot("fallback_count") or 0) >= OFFER_HUMAN_AFTER:
            dispatcher.utter_message(response="utter_fallback_offer_human")
            return [SlotSet("fallback_count", 0)]
        dispatcher.utter_message(response="utter_please_rephrase")
        return []
