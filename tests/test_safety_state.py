"""Distress state derived from the conversation's messages (bot/intake/safety_state.py)."""

from bot.intake.safety_state import distress_slots, response_before_answer, trailing_fallbacks


def parse(level="none", cues=(), intent="inform"):
    return {"intent": {"name": intent}, "distress": {"level": level, "cues": list(cues)}}


def test_highest_level_and_cues_are_kept():
    slots = distress_slots(
        [parse("moderate", ["stress"]), parse("critical", ["en finir"]), parse()]
    )
    assert slots == {
        "distress_level": "critical",
        "distress_cues": ["stress", "en finir"],
        "crisis_open": True,
    }


def test_check_in_comes_once_three_messages_after_the_crisis():
    messages = [parse("critical"), parse(intent="deny")]
    said = []
    for _ in range(5):
        messages.append(parse())
        said.append(response_before_answer(messages))
    assert said == [None, "utter_crisis_checkin", None, None, None]


def test_a_new_critical_message_restarts_the_check_in_clock():
    messages = [parse("critical"), parse(), parse("critical"), parse(), parse()]
    assert response_before_answer(messages) is None
    assert response_before_answer([*messages, parse()]) == "utter_crisis_checkin"


def test_moderate_is_acknowledged_the_first_time_only():
    assert response_before_answer([parse(), parse("moderate")]) == "utter_empathy_moderate"
    assert response_before_answer([parse("moderate"), parse("moderate")]) is None


def test_trailing_fallbacks():
    fallback = parse(intent="nlu_fallback")
    assert trailing_fallbacks([fallback, parse(), fallback, fallback]) == 2
    assert trailing_fallbacks([fallback, parse()]) == 0
