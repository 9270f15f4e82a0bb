"""The intake profile: how slot values change with each message, and how they read aloud.

Pure functions over plain values so both the actions and the tests use them without Rasa.
"""

from __future__ import annotations

from typing import Any

from bot.intake.extract import place_by_id
from bot.intake.lexicon import load
from bot.language import SUPPORTED

DEFAULT_LANGUAGE = "fr"
_WEAK_SOURCES = (None, "guess", "hint")


def next_language(
    current: str | None, source: str | None, guess: dict, hint: str | None
) -> tuple[str, str]:
    """(language, source) after one message.

    An explicit request always wins. Otherwise the language is sticky once detected: a hint (page
    or app language) or a guess only holds until the first reliable detection. Short ambiguous
    messages ("ok", "merci") are never reliable, so they never flip it.
    """
    if guess.get("requested") in SUPPORTED:
        return guess["requested"], "requested"
    if source in _WEAK_SOURCES and guess.get("reliable") and guess.get("code") in SUPPORTED:
        return guess["code"], "detected"
    if source in (None, "guess") and hint in SUPPORTED:
        return hint, "hint"
    if current in SUPPORTED:
        return current, source or "guess"
    return guess.get("supported") or DEFAULT_LANGUAGE, "guess"


def merge_needs(current: list[str] | None, new: list[str]) -> list[str]:
    """Needs accumulate over the conversation; "other" gives way to any real need."""
    merged = [n for n in (current or []) if n != "other" or not new]
    merged += [n for n in new if n not in merged]
    return merged


def entity_values(entities: list[dict[str, Any]], name: str) -> list[Any]:
    return [e["value"] for e in entities if e.get("entity") == name and e.get("value") is not None]


def label(section: str, value: str, language: str) -> str:
    return load("labels")[section][value][language]


def recap_labels(slots: dict[str, Any], language: str) -> dict[str, str]:
    """The words of utter_intake_recap: each profile value in the person's language."""
    unknown = load("labels")["unknown"][language]
    employees = slots.get("employees")
    if employees is None:
        employees_label = unknown
    else:
        n = int(employees)
        key = "zero" if n == 0 else "one" if n == 1 else "many"
        employees_label = load("labels")["employees"][key][language].format(n=n)
    place = place_by_id(slots["commune"]) if slots.get("commune") else None
    needs = slots.get("needs") or []
    sector, urgency = slots.get("sector"), slots.get("urgency")
    return {
        "sector_label": label("sectors", sector, language) if sector else unknown,
        "employees_label": employees_label,
        "commune_label": place.name(language) if place else (slots.get("commune") or unknown),
        "needs_label": ", ".join(label("needs", n, language) for n in needs) or unknown,
        "urgency_label": label("urgency", urgency, language) if urgency else unknown,
    }
