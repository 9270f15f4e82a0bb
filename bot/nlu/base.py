"""What our Rasa components share: the graph-component plumbing, written once."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData


class MessageComponent(GraphComponent):
    """A component that only annotates messages: nothing to configure, training data untouched.

    Trainable subclasses get the model storage and their resource to persist what they learn.
    """

    def __init__(self, model_storage: ModelStorage | None = None, resource: Resource | None = None):
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageComponent:
        return cls(model_storage, resource)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
