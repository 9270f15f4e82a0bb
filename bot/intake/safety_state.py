"""What the conversation remembers about distress, derived from the parsed user messages.

Derived, not counted: Rasa runs the slot-mapping action twice for one message when a form
starts, so state recomputed from the messages themselves is the only state that cannot drift.
`parses` are the NLU results of the user messages, oldest first, the current one last.
"""

from __future__ import annotations

from typing import Any

from bot.safety import LEVELS

MAX_CUES = 20
CHECK_IN_AFTER = 3  # user messages after a critical one before the bot asks how the person is


def _level(parse: dict[str, Any]) -> str:
    return (parse.get("distress") or {}).get("level") or "none"


def distress_slots(parses: list[dict[str, Any]]) -> dict[str, Any]:
    """Highest level reached, its cues, and whether a crisis is open (a denial never closes it)."""
    levels = [_level(p) for p in parses]
    cues: list[str] = []
    for parse in parses:
        cues += [c for c in (parse.get("distress") or {}).get("cues") or [] if c not in cues]
    highest = max(levels, key=LEVELS.index, default="none")
    return {
        "distress_level": highest,
        "distress_cues": cues[-MAX_CUES:],
        "crisis_open": "critical" in levels,
    }


def response_before_answer(parses: list[dict[str, Any]]) -> str | None:
    """A response to send before the dialogue's own answer to the current message, if any.

    The check-in, once, a few messages after the last critical one; an acknowledgement the first
    time a message shows moderate distress. High and critical messages have their own rules.
    """
    levels = [_level(p) for p in parses]
    if not levels:
        return None
    current, earlier = levels[-1], levels[:-1]
    if "critical" in earlier and current != "critical":
        since = len(levels) - 1 - max(i for i, level in enumerate(levels) if level == "critical")
        if since == CHECK_IN_AFTER:
            return "utter_crisis_checkin"
    if current == "moderate" and all(level == "none" for level in earlier):
        return "utter_empathy_moderate"
    return None


def trailing_fallbacks(parses: list[dict[str, Any]]) -> int:
    """Misunderstood messages in a row, up to and including the current one."""
    count = 0
    for parse in reversed(parses):
        if (parse.get("intent") or {}).get("name") != "nlu_fallback":
            break
        count += 1
    return count
