"""Erasure on request (docs/privacy.md): the gateway does it, in both stores, after this turn."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import gateway_client


class EraseData(Action):
    def name(self) -> str:
        return "action_erase_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            await gateway_client.request_erasure(tracker.sender_id)
        except gateway_client.GatewayUnavailable:
            dispatcher.utter_message(response="utter_erase_failed")
            return []
        dispatcher.utter_message(response="utter_erased")
        return []
