"""The person's rights in the chat (docs/privacy.md): erasure, done by the gateway in both stores
after this turn, and a copy of what is stored, which the gateway assembles from both stores."""

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


class DataCopy(Action):
    def name(self) -> str:
        return "action_data_copy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = tracker.get_slot("language") or "fr"
        try:
            copy = await gateway_client.request_data_copy(tracker.sender_id, language)
        except gateway_client.GatewayUnavailable:
            dispatcher.utter_message(response="utter_data_copy_failed")
            return []
        dispatcher.utter_message(response="utter_data_copy", copy=copy["text"], url=copy["url"])
        return []
