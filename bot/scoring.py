"""Scores predictions against labelled cases in the format of shared/eval/FORMAT.md.

Pure Python, so it is unit-tested without a model; bot.evaluate feeds it the live pipeline's output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.intake.extract import NEEDS
from bot.safety import LEVELS

ESCALATED = ("high", "critical")


@dataclass
class Prediction:
    language: str | None
    distress: str = "none"
    needs: list[str] = field(default_factory=list)
    sector: str | None = None
    employees: int | None = None


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _precision_recall(true_positive: int, predicted: int, actual: int) -> dict[str, Any]:
    return {
        "precision": _ratio(true_positive, predicted),
        "recall": _ratio(true_positive, actual),
        "support": actual,
    }


def score(cases: list[dict[str, Any]], predictions: list[Prediction]) -> dict[str, Any]:
    """The JSON object of FORMAT.md (plus employees_accuracy)."""
    errors: list[dict[str, Any]] = []

    def check(case: dict, name: str, expected: Any, got: Any) -> bool:
        if expected != got:
            errors.append({"id": case["id"], "field": name, "expected": expected, "got": got})
        return expected == got

    language_ok = sum(
        check(c, "language", c["language"], p.language)
        for c, p in zip(cases, predictions, strict=True)
    )

    confusion = {level: dict.fromkeys(LEVELS, 0) for level in LEVELS}
    for case, pred in zip(cases, predictions, strict=True):
        confusion[case["distress"]][pred.distress] += 1
        check(case, "distress", case["distress"], pred.distress)
    per_level = {
        level: _precision_recall(
            confusion[level][level],
            sum(confusion[actual][level] for actual in LEVELS),
            sum(confusion[level].values()),
        )
        for level in LEVELS
    }
    escalated_actual = sum(sum(confusion[a].values()) for a in ESCALATED)
    escalated_caught = sum(confusion[a][p] for a in ESCALATED for p in ESCALATED)
    none_total = sum(confusion["none"].values())
    false_alarms = sum(confusion["none"][p] for p in ESCALATED)

    counts: Counter[tuple[str, str]] = Counter()
    for case, pred in zip(cases, predictions, strict=True):
        expected, got = set(case.get("needs") or []), set(pred.needs)
        check(case, "needs", sorted(expected), sorted(got))
        for need in NEEDS:
            counts[need, "tp"] += need in expected and need in got
            counts[need, "predicted"] += need in got
            counts[need, "actual"] += need in expected
    tp = sum(counts[n, "tp"] for n in NEEDS)
    predicted = sum(counts[n, "predicted"] for n in NEEDS)
    actual = sum(counts[n, "actual"] for n in NEEDS)
    micro_f1 = _ratio(2 * tp, predicted + actual)

    with_sector = [
        (c, p) for c, p in zip(cases, predictions, strict=True) if c.get("sector") is not None
    ]
    sector_ok = sum(check(c, "sector", c["sector"], p.sector) for c, p in with_sector)
    employees_ok = sum(
        check(c, "employees", c.get("employees"), p.employees)
        for c, p in zip(cases, predictions, strict=True)
    )

    return {
        "cases": len(cases),
        "language_accuracy": _ratio(language_ok, len(cases)),
        "distress": {
            "confusion": confusion,
            "per_level": per_level,
            "escalation_recall": _ratio(escalated_caught, escalated_actual),
            "false_alarm_rate": _ratio(false_alarms, none_total),
        },
        "needs": {
            "micro_f1": micro_f1,
            "per_need": {
                n: _precision_recall(counts[n, "tp"], counts[n, "predicted"], counts[n, "actual"])
                for n in NEEDS
            },
        },
        "sector_accuracy": _ratio(sector_ok, len(with_sector)),
        "employees_accuracy": _ratio(employees_ok, len(cases)),
        "errors": errors,
    }
