"""Rasa component: entities for what the person says about their business.

sector, employees, commune, need (one per need), urgency, circumstance, from bot/intake's reviewed
lexicons, and catalog_item: a partner or measure of the catalogue the message names.
Rules rather than a trained extractor: the values are closed lists, and a wrong guess costs more
than a question (the intake form asks for whatever stays unknown).
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from bot.catalog.names import find_named
from bot.intake.extract import Found, profile_entities
from bot.nlu.base import MessageComponent


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class ProfileExtractor(MessageComponent):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            if text.startswith("/"):  # button payloads carry their own entities
                continue
            named = [Found("catalog_item", n.id, n.start, n.end) for n in find_named(text)]
            found = [
                {**f.as_entity(), "extractor": "ProfileExtractor", "confidence_entity": 1.0}
                for f in sorted([*profile_entities(text), *named], key=lambda f: f.start)
            ]
            message.set("entities", [*message.get("entities", []), *found], add_to_output=True)
        return messages
