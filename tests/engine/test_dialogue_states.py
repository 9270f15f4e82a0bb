"""bot/dialogue_states.py: after every event of our stories (and of the turns Rasa makes of them
at run time: featurization marked after the first prediction, turns of rules hidden from the
memoization policy, fallbacks reverted, actions reverted, restarts, a form rejected), the states
are Rasa's own (`Domain.states_for_tracker_history`), for each way the policies ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    DefinePrevUserUtteredFeaturization,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

from bot import dialogue_states

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
# (omit_unset_slots, ignore_rule_only_turns, rule_only_data): the rule policy's and the
# memoization policy's questions, and rule-only data that removes a slot and a form.
OPTIONS = [
    (False, False, None),
    (False, True, {"rule_only_slots": ["crisis_open"], "rule_only_loops": []}),
    (True, True, {"rule_only_slots": [], "rule_only_loops": ["handoff_form"]}),
]


@pytest.fixture
def rasas():
    """Rasa's own computation, with ours installed for the test."""
    saved = DialogueStateTracker.past_states
    dialogue_states.install()
    yield lambda tracker, domain, *options: domain.states_for_tracker_history(tracker, *options)
    DialogueStateTracker.past_states = saved


def stories() -> list[tuple[str, list]]:
    reader = YAMLStoryReader(DOMAIN)
    paths = sorted((ROOT / "tests" / "stories").glob("*.yml"))
    paths += sorted((ROOT / "nlu_data" / "stories").glob("*.yml"))
    steps = [step for path in paths for step in reader.read_from_file(str(path))]
    return [(step.block_name, step.explicit_events(DOMAIN)) for step in steps]


def as_run(events: list) -> list:
    """The events as the server logs them: a user message's featurization is marked after the
    first prediction that follows it."""
    out = []
    for event in events:
        out.append(event)
        if isinstance(event, UserUttered):
            out.append(DefinePrevUserUtteredFeaturization(False))
    return out


def with_rule_turns(events: list) -> list:
    """As run, with every action but listening predicted by rules only (`hide_rule_turn`), the
    forms' runs included: the memoization policy's states skip those turns and carry the last
    other action instead, across the fold's pauses."""
    return [
        ActionExecuted(e.action_name, hide_rule_turn=True)
        if isinstance(e, ActionExecuted) and e.action_name != "action_listen"
        else e
        for e in as_run(events)
    ]


def play(events: list, rasas) -> tuple[int, int]:
    """Ask after every event, as the policies do, and compare; then change the states received
    as callers do (Rasa's featurizer drops the last user input's intent or text). Returns (calls,
    folds started)."""
    started = 0
    original_init = dialogue_states._Fold.__init__

    def counted(self, *args):
        nonlocal started
        started += 1
        original_init(self, *args)

    dialogue_states._Fold.__init__ = counted
    try:
        tracker = DialogueStateTracker("person", DOMAIN.slots)
        calls = 0
        for event in events:
            tracker.update(event)
            for options in OPTIONS:
                ours = tracker.past_states(DOMAIN, *options)
                assert ours == rasas(tracker, DOMAIN, *options), (event, options)
                calls += 1
                for state in ours:
                    state.get("user", {}).pop("intent", None)
                    state.get("slots", {}).clear()
    finally:
        dialogue_states._Fold.__init__ = original_init
    return calls, started


@pytest.mark.parametrize("logged", [list, as_run, with_rule_turns])
def test_the_states_of_our_stories_are_rasas(rasas, logged):
    calls = started = 0
    ours = stories()
    for _name, events in ours:
        done, new = play(logged(events), rasas)
        calls, started = calls + done, started + new
    assert calls > 4000
    # One fold per story and question, which never starts again: the forms' happy paths and
    # the featurization marks happen after its pause.
    assert started == len(ours) * len(OPTIONS)


def test_reverts_restarts_new_sessions_and_a_rejected_form(rasas):
    _name, events = next(s for s in stories() if "intake_form" in str(s[1]))
    listen = ActionExecuted("action_listen")
    odd = [
        listen,
        UserUttered("blabla", {"name": "nlu_fallback", "confidence": 0.2}),
        DefinePrevUserUtteredFeaturization(False),
        ActionExecuted("action_default_fallback"),
        UserUtteranceReverted(),
        ActionExecuted("utter_greet"),
        ActionReverted(),
        listen,
        UserUttered("bonjour", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("intake_form"),
        ActionExecutionRejected("intake_form"),
        ActionExecuted("utter_capabilities"),
        SlotSet("language", "nl"),
        Restarted(),
        listen,
        UserUttered("hallo", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("language", "nl"),
    ]
    middle = len(events) // 2
    play(as_run(events[:middle]) + odd + as_run(events[middle:]), rasas)


def test_a_user_message_featurized_again_is_seen(rasas):
    """Rasa marks a message's featurization when it first predicts after it; were an earlier
    message, one the fold consumed, marked again later, its states must not be reused."""
    said = UserUttered("bonjour", {"name": "greet", "confidence": 1.0})
    tracker = DialogueStateTracker("person", DOMAIN.slots)
    events = [ActionExecuted("action_listen"), said, ActionExecuted("utter_greet")]
    events += [ActionExecuted("action_listen"), UserUttered("merci", {"name": "thank"})]
    for event in events:
        tracker.update(event)
    assert tracker.past_states(DOMAIN) == rasas(tracker, DOMAIN)
    fold = tracker.__dict__[dialogue_states._FOLDS][(False, False, "None")]
    assert said in fold.consumed
    said.use_text_for_featurization = False  # was None: the state had the text and the intent
    assert tracker.past_states(DOMAIN) == rasas(tracker, DOMAIN)
    assert tracker.__dict__[dialogue_states._FOLDS][(False, False, "None")] is not fold
