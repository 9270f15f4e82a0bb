"""Rasa component: a message made only of words never seen in training is not understood.

A linear classifier spreads its confidence over the intents even for "xqzt wvkp", and short
intents (affirm, greet) tend to win. When none of the message's words occurs in the training
examples and no entity was found, the intent becomes nlu_fallback, so the bot says it did not
understand instead of pretending. Numbers and emoji-only messages are left to the classifier.
"""

from __future__ import annotations

import json

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.base import MessageComponent
from bot.nlu.intent_override import override_intent
from bot.text import words

_FILE = "vocabulary.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class UnknownWordsFallback(MessageComponent):
    def __init__(
        self, model_storage: ModelStorage, resource: Resource, vocabulary: set[str] | None = None
    ) -> None:
        super().__init__(model_storage, resource)
        self._vocabulary = vocabulary or set()

    @classmethod
    def restore(cls, model_storage: ModelStorage, resource: Resource) -> UnknownWordsFallback:
        with model_storage.read_from(resource) as directory:
            vocabulary = set(json.loads((directory / _FILE).read_text(encoding="utf-8")))
        return cls(model_storage, resource, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        self._vocabulary = {
            word for example in training_data.intent_examples for word in words(example.get("text"))
        }
        with self._model_storage.write_to(self._resource) as directory:
            (directory / _FILE).write_text(json.dumps(sorted(self._vocabulary)), encoding="utf-8")
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            tokens = [w for w in words(text) if not w.isdigit()]
            if text.startswith("/") or not tokens or message.get("entities"):
                continue
            if not any(token in self._vocabulary for token in tokens):
                override_intent(message, "nlu_fallback")
        return messages
