"""Every path answering a critical message starts with the crisis lines, in the right language."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LINES = {"fr": ["0800 32 123", "107", "112"], "nl": ["1813", "106", "112"]}


def _domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def _rules() -> list[dict]:
    return [
        rule
        for path in (ROOT / "nlu_data" / "rules").glob("*.yml")
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    ]


def _text(response: str, language: str) -> str:
    for variation in _domain()["responses"][response]:
        if any(c.get("value") == language for c in variation.get("condition", [])):
            return variation["text"]
    raise AssertionError(f"{response} has no {language} variation")


def test_crisis_lines_in_each_language():
    for language, numbers in LINES.items():
        text = _text("utter_crisis_lines", language)
        assert all(number in text for number in numbers), (language, text)
    assert "1813" not in _text("utter_crisis_lines", "fr")  # Dutch-speaking line, Dutch text
    assert "113" not in _text(
        "utter_crisis_lines", "nl"
    )  # a Netherlands number, never for Brussels


def test_every_rule_for_a_critical_message_answers_with_the_crisis_lines_first():
    critical_rules = [r for r in _rules() if {"intent": "distress_critical"} in r["steps"]]
    assert len(critical_rules) >= 2  # inside and outside the intake form
    for rule in critical_rules:
        steps = rule["steps"]
        after = steps[steps.index({"intent": "distress_critical"}) + 1]
        assert after == {"action": "utter_crisis_lines"}, rule["rule"]


def test_open_crisis_paths_keep_the_lines_visible():
    for rule in _rules():
        conditions = rule.get("condition") or []
        if {"slot_was_set": [{"crisis_open": True}]} not in conditions:
            continue
        actions = [s["action"] for s in rule["steps"] if "action" in s]
        shown = " ".join(_text(a, "fr") for a in actions if a.startswith("utter_"))
        assert "0800 32 123" in shown, rule["rule"]


def test_high_distress_and_check_in_always_point_to_a_24_7_line():
    assert "107" in _text("utter_distress_high", "fr") and "106" in _text(
        "utter_distress_high", "nl"
    )
    assert "0800 32 123" in _text("utter_crisis_checkin", "fr")
    assert "1813" in _text("utter_crisis_checkin", "nl")
