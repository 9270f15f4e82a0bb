"""Misunderstandings: ask to rephrase once; the second time in a row, offer a person and 1819."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.profile_slots import user_parses
from bot.intake.safety_state import trailing_fallbacks

OFFER_HUMAN_AFTER = 2


class HandleFallback(Action):
    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        misunderstood = trailing_fallbacks(user_parses(tracker))
        if misunderstood and misunderstood % OFFER_HUMAN_AFTER == 0:
            dispatcher.utter_message(response="utter_fallback_offer_human")
        else:
            dispatcher.utter_message(response="utter_please_rephrase")
        return []
