"""How the conversation's language and profile evolve (bot/intake/profile.py)."""

import pytest

from bot.intake.profile import merge_needs, next_language, recap_labels

RELIABLE_FR = {"code": "fr", "reliable": True, "supported": "fr"}
RELIABLE_NL = {"code": "nl", "reliable": True, "supported": "nl"}
AMBIGUOUS = {"code": None, "reliable": False, "supported": None}


@pytest.mark.parametrize(
    ("current", "source", "guess", "hint", "expected"),
    [
        (None, None, RELIABLE_NL, None, ("nl", "detected")),
        (None, None, AMBIGUOUS, "nl", ("nl", "hint")),
        (None, None, AMBIGUOUS, None, ("fr", "guess")),
        ("nl", "hint", RELIABLE_FR, "nl", ("fr", "detected")),  # what they write beats the page
        ("fr", "detected", RELIABLE_NL, None, ("fr", "detected")),  # sticky once detected
        ("fr", "detected", AMBIGUOUS, "nl", ("fr", "detected")),
        ("fr", "detected", {**AMBIGUOUS, "requested": "nl"}, None, ("nl", "requested")),
        ("nl", "requested", RELIABLE_FR, None, ("nl", "requested")),
        ("fr", "guess", {"code": "en", "reliable": True, "supported": "nl"}, None, ("fr", "guess")),
    ],
)
def test_next_language(current, source, guess, hint, expected):
    assert next_language(current, source, guess, hint) == expected


def test_merge_needs_keeps_order_and_drops_other_for_real_needs():
    assert merge_needs(None, ["rent"]) == ["rent"]
    assert merge_needs(["finance"], ["rent", "finance"]) == ["finance", "rent"]
    assert merge_needs(["other"], ["digital"]) == ["digital"]
    assert merge_needs(["other"], []) == ["other"]


def test_recap_in_both_languages():
    slots = {
        "sector": "retail",
        "employees": 0.0,
        "commune": "saint-gilles",
        "needs": ["rent", "finance"],
        "urgency": "low",
    }
    assert recap_labels(slots, "fr") == {
        "sector_label": "commerce",
        "employees_label": "vous travaillez seul·e",
        "commune_label": "Saint-Gilles",
        "needs_label": "loyer du commerce, argent, dettes, factures",
        "urgency_label": "ça peut attendre",
    }
    assert recap_labels(slots, "nl")["commune_label"] == "Sint-Gillis"
    assert recap_labels({}, "nl")["sector_label"] == "niet gezegd"
