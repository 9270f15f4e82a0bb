"""Recommendations and questions about the catalogue: thin wrappers around bot/catalog."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.catalog import catalog
from bot.catalog.matcher import Profile, recommend
from bot.catalog.present import details, recommendation_messages
from bot.catalog.wording import text


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "fr"


def profile_of(tracker: Tracker) -> Profile:
    employees = tracker.get_slot("employees")
    return Profile(
        needs=tuple(n for n in tracker.get_slot("needs") or () if n != "other"),
        sector=tracker.get_slot("sector"),
        workers=int(employees) if employees is not None else None,
        commune=tracker.get_slot("commune"),
        region=tracker.get_slot("region"),
        situations=tuple(tracker.get_slot("circumstances") or ()),
        distress=tracker.get_slot("distress_level") or "none",
    )


def _send(dispatcher: CollectingDispatcher, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        dispatcher.utter_message(text=message["text"], buttons=message.get("buttons", []))


def present_recommendations(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The next (at most 3) measures not shown yet; remembers what was shown."""
    shown = list(tracker.get_slot("recommended") or [])
    language, profile = language_of(tracker), profile_of(tracker)
    result = recommend(profile, language, exclude=frozenset(shown))
    outside = profile.place_region not in (None, "brussels")
    if result.recommended or not outside:  # outside Brussels the region's own desks answer
        _send(dispatcher, recommendation_messages(result, language, first_page=not shown))
    return [SlotSet("recommended", shown + [m.measure.id for m in result.recommended])]


def named_item(tracker: Tracker) -> str | None:
    """The catalogue entry this message is about: named in it, else the one shown last."""
    entities = (tracker.latest_message or {}).get("entities") or []
    named = [e["value"] for e in entities if e.get("entity") == "catalog_item"]
    known = catalog().measures.keys() | catalog().partners.keys()
    named = [n for n in named if n in known]
    if named:
        return named[-1]
    shown = tracker.get_slot("recommended") or []
    return shown[-1] if len(shown) == 1 else None


class MoreOptions(Action):
    def name(self) -> str:
        return "action_more_options"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return present_recommendations(dispatcher, tracker)


class DescribeItem(Action):
    """ "C'est quoi le prêt proxi ?", or the "more details" button of a recommendation."""

    def name(self) -> str:
        return "action_describe_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        item, language = named_item(tracker), language_of(tracker)
        message = details(item, language) if item else {"text": text("card.which", language)}
        _send(dispatcher, [message])
        return []
