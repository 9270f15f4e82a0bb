"""Setting the intent from a rule component, keeping the classifier's ranking for inspection."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message


def override_intent(message: Message, name: str) -> None:
    """Make `name` the message's intent with full confidence, on top of the ranking."""
    intent = {"name": name, "confidence": 1.0}
    ranking = [r for r in message.get("intent_ranking") or [] if r.get("name") != name]
    message.set("intent", intent, add_to_output=True)
    message.set("intent_ranking", [intent, *ranking], add_to_output=True)
