"""Rasa component: puts the message's language in the parse result.

Adds `language: {code, confidence, reliable, requested, supported}`. A reliable English message
becomes the intent `other_language`, so the dialogue answers it in both our languages instead of
guessing; the typed commands /fr and /nl become `switch_language`. The conversation's sticky
`language` slot is decided in the actions from this result.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from bot.language import identify
from bot.nlu.base import MessageComponent
from bot.nlu.intent_override import override_intent

OTHER_LANGUAGE_INTENT = "other_language"
SWITCH_LANGUAGE_INTENT = "switch_language"
_COMMANDS = ("/fr", "/nl")  # typed commands (Telegram style), not Rasa intent payloads


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LanguageIdentifier(MessageComponent):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            guess = identify(text)
            message.set("language", guess.as_dict(), add_to_output=True)
            if text.strip().lower() in _COMMANDS:
                override_intent(message, SWITCH_LANGUAGE_INTENT)
            elif guess.code == "en" and guess.reliable and not guess.requested:
                override_intent(message, OTHER_LANGUAGE_INTENT)
        return messages
