"""Bounded sessions (bot/rasa_server.py): when a session ends, and what it carries over."""

from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa_sdk import Tracker

from actions.profile_slots import carried_distress, profile_updates
from bot.rasa_server import session_too_long


def said(level="none", intent="inform"):
    return UserUttered(
        "x", {"name": intent}, parse_data={"intent": {"name": intent}, "distress": {"level": level}}
    )


def test_a_session_ends_after_its_limit_of_messages_only():
    events = [SessionStarted(), ActionExecuted("action_listen")]
    events += [said() for _ in range(3)]
    assert not session_too_long(events, limit=4)
    assert session_too_long([*events, said()], limit=4)
    # only the current session counts
    assert not session_too_long([*events, said(), SessionStarted(), said()], limit=4)


def test_a_session_is_not_cut_before_the_crisis_check_in_or_after_a_misunderstanding():
    events = [SessionStarted(), *(said() for _ in range(10))]
    assert not session_too_long([*events, said("critical"), said(), said()], limit=4)
    assert session_too_long([*events, said("critical"), *(said() for _ in range(4))], limit=4)
    assert not session_too_long([*events, said(intent="nlu_fallback")], limit=4)


def new_session(level, cues, current_level="none"):
    message = {"text": "ok", "intent": {"name": "affirm"}, "entities": [], "language": {},
               "distress": {"level": current_level, "cues": []}}  # fmt: skip
    events = [
        {"event": "user", "parse_data": {"distress": {"level": "moderate", "cues": ["old"]}}},
        {"event": "session_started"},
        {"event": "slot", "name": "distress_level", "value": level},
        {"event": "slot", "name": "distress_cues", "value": cues},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "parse_data": message},
    ]
    slots = {"distress_level": level, "distress_cues": cues, "language": "fr"}
    return Tracker("web:t", slots, message, events, False, None, None, "action_listen")


def test_the_distress_state_survives_a_new_session():
    updates = profile_updates(new_session("high", ["épuisé"]))
    assert updates["distress_level"] == "high"
    assert updates["distress_cues"] == ["épuisé", "old"]
    assert carried_distress(new_session("none", [])) is None
    assert profile_updates(new_session("critical", ["cue"]))["crisis_open"] is True
