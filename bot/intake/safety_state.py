"""How the conversation remembers distress: highest level, cues, an open crisis, the check-in.

Pure functions over slot values, used by actions/profile_slots.py after every user message.
"""

from __future__ import annotations

from typing import Any

LEVELS = ("none", "moderate", "high", "critical")
MAX_CUES = 20
CHECK_IN_AFTER = 3  # user messages after a critical one before the bot asks how the person is


def distress_updates(slots: dict[str, Any], distress: dict[str, Any]) -> dict[str, Any]:
    """New slot values after one message whose assessment is `distress` ({level, cues})."""
    level = distress.get("level") or "none"
    before = slots.get("distress_level") or "none"
    updates: dict[str, Any] = {"distress_level": max(before, level, key=LEVELS.index)}
    cues = list(slots.get("distress_cues") or [])
    cues += [c for c in distress.get("cues") or [] if c not in cues]
    updates["distress_cues"] = cues[-MAX_CUES:]
    if level == "critical":
        updates["crisis_open"], updates["turns_since_crisis"] = True, 0
    elif slots.get("crisis_open"):
        updates["turns_since_crisis"] = (slots.get("turns_since_crisis") or 0) + 1
    return updates


def response_before_answer(slots: dict[str, Any], distress: dict[str, Any]) -> str | None:
    """A response to send before the dialogue's own answer, if any.

    The check-in, once, a few messages after a critical one (a denial does not close the risk);
    an acknowledgement the first time a message shows moderate distress. High and critical
    messages have their own rules (they become the intents distress_high / distress_critical).
    """
    level = distress.get("level") or "none"
    if (
        slots.get("crisis_open")
        and level != "critical"
        and (slots.get("turns_since_crisis") or 0) + 1 == CHECK_IN_AFTER
    ):
        return "utter_crisis_checkin"
    if level == "moderate" and (slots.get("distress_level") or "none") == "none":
        return "utter_empathy_moderate"
    return None
