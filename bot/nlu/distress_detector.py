"""Rasa component: the distress check on every user message.

Adds `distress: {level, score, cues}` to the parse result (bot/safety). A high or critical level
becomes the intent `distress_high` / `distress_critical`, so the dialogue's rules interrupt
whatever was going on, inside forms too; the classifier's own intent stays in the ranking.
The small classifier of bot/safety/classifier.py is trained with the model and stored in it.
"""

from __future__ import annotations

from typing import Any

import joblib
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intake.extract import helping_someone_else
from bot.nlu.base import MessageComponent
from bot.nlu.intent_override import override_intent
from bot.safety import classifier
from bot.safety.detector import DistressDetector as Detector

_FILE = "distress_classifier.joblib"
ESCALATION_INTENTS = {"high": "distress_high", "critical": "distress_critical"}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class DistressDetector(MessageComponent):
    def __init__(
        self,
        model_storage: ModelStorage | None = None,
        resource: Resource | None = None,
        model: Any = None,  # the trained classifier; without it, the rules alone
    ) -> None:
        super().__init__(model_storage, resource)
        self._detector = Detector(model)

    @classmethod
    def restore(cls, model_storage: ModelStorage, resource: Resource) -> DistressDetector:
        with model_storage.read_from(resource) as directory:
            return cls(model_storage, resource, joblib.load(directory / _FILE))

    def warm_up(self) -> None:
        """The detector's own: spaCy's pipelines and every path of its rules."""
        self._detector.warm_up()

    def train(self, training_data: TrainingData) -> Resource:
        model = classifier.train(classifier.load_examples())
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(model, directory / _FILE)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            if text.startswith("/"):  # button payloads are not the person's words
                continue
            language = (message.get("language") or {}).get("supported")
            assessment = self._detector.assess(text, language)
            message.set("distress", assessment.as_dict(), add_to_output=True)
            if intent := ESCALATION_INTENTS.get(assessment.level):
                override_intent(message, intent)
                _add_helping_someone_else(message, text)
        return messages


def _add_helping_someone_else(message: Message, text: str) -> None:
    """The psychological need of "my partner wrote goodbye, what do I do?", which the profile
    extractor (before this check) finds only when its own words describe their state; in text
    order among the entities."""
    entities = message.get("entities") or []
    if any(e["entity"] == "need" and e["value"] == "psychological" for e in entities):
        return
    if found := helping_someone_else(text):
        entity = {**found.as_entity(), "extractor": "DistressDetector", "confidence_entity": 1.0}
        ordered = sorted([*entities, entity], key=lambda e: e.get("start", 0))
        message.set("entities", ordered, add_to_output=True)
