"""The evaluation scores of FORMAT.md, on a hand-computed example."""

from bot.scoring import Prediction, score

CASES = [
    {"id": "a", "language": "fr", "distress": "critical", "needs": ["finance"], "sector": "horeca"},
    {"id": "b", "language": "nl", "distress": "high", "needs": ["rent", "finance"], "sector": None},
    {"id": "c", "language": "fr", "distress": "none", "needs": [], "sector": "retail"},
    {"id": "d", "language": "nl", "distress": "none", "needs": ["digital"], "sector": "retail"},
]
PREDICTIONS = [
    Prediction("fr", "critical", ["finance"], "horeca"),
    Prediction("fr", "moderate", ["rent"], None),
    Prediction("fr", "high", [], "retail"),
    Prediction("nl", "none", ["digital", "coaching"], "services"),
]


def test_scores():
    result = score(CASES, PREDICTIONS)
    assert result["cases"] == 4
    assert result["language_accuracy"] == 0.75
    distress = result["distress"]
    assert distress["confusion"]["high"]["moderate"] == 1
    assert distress["escalation_recall"] == 0.5  # a caught, b missed
    assert distress["false_alarm_rate"] == 0.5  # c raised to high
    assert distress["per_level"]["critical"] == {"precision": 1.0, "recall": 1.0, "support": 1}
    # needs: tp = finance(a) + rent(b) + digital(d) = 3; predicted 4; actual 4 -> 6/8
    assert result["needs"]["micro_f1"] == 0.75
    assert result["needs"]["per_need"]["coaching"] == {
        "precision": 0.0,
        "recall": None,
        "support": 0,
    }
    assert result["sector_accuracy"] == round(2 / 3, 4)
    fields = {(e["id"], e["field"]) for e in result["errors"]}
    assert (
        ("b", "language") in fields and ("d", "sector") in fields and ("a", "needs") not in fields
    )
