"""What our Rasa components share: the graph-component plumbing, written once."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Annotated once when a server loads the model, so that what a component builds on first use
# (language models, compiled lexicons and catalogue names) is built before the server reports
# ready, not on the first messages of its first people: ~1.4 s on this machine.
WARM_UP_TEXTS = (
    "Bonjour, mon restaurant à Ixelles a des dettes à l'ONSS et je suis épuisé",
    "Goedendag, mijn kapsalon in Schaarbeek kan de huur niet meer betalen, ik ben uitgeput",
)


class MessageComponent(GraphComponent):
    """A component that only annotates messages: nothing to configure, training data untouched.

    Trainable subclasses get the model storage and their resource to persist what they learn,
    and read it back in `restore`.
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

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MessageComponent:
        """How a server's model builds the component (the training graph calls `create`): with
        what its training stored, warmed up."""
        component = cls.restore(model_storage, resource)
        component.warm_up()
        return component

    @classmethod
    def restore(cls, model_storage: ModelStorage, resource: Resource) -> MessageComponent:
        """The component with what its training stored: nothing, unless a subclass learns."""
        return cls(model_storage, resource)

    def warm_up(self) -> None:
        """Annotate the WARM_UP_TEXTS (and throw them away): see there."""
        self.process([Message(data={"text": text}) for text in WARM_UP_TEXTS])
