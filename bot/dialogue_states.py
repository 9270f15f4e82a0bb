"""The dialogue states of a session, computed once per event instead of again for every policy
and every prediction.

Before each prediction the rule policy (once or twice) and the memoization policy ask for the
states of the whole session, and Rasa computes them by replaying every event of the session into
a new tracker (`Domain.states_for_tracker_history`): ~13 % of a Rasa server's CPU under load
(docs/performance.md). That computation is a fold over the session's applied events. Here the
fold is kept on the tracker (which bot/tracker_cache.py keeps between messages), paused at a
point the next events cannot change, and the next call goes on from there:

- only while the applied events still begin with the events it consumed, the same objects, and
  its user messages are featurized as they were (Rasa marks that after a message's first
  prediction); otherwise (an event reverted, a restart, a new session) it starts again from the
  first event, as Rasa does;
- it pauses before the latest user message, which Rasa marks after its first prediction, and
  just after the last run of the active form, because each happy-path run of a form drops the
  turns since its previous run from the applied events. The events after the pause are folded
  on a copy, at every call.

Callers get copies of the states (they change the last one), shared where Rasa's are shared.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

# The fold's own state, per (omit_unset_slots, ignore_rule_only_turns, rule_only_data).
_FOLDS = "_relais_state_folds"
# The tracker's applied events, with the events they were computed from.
_APPLIED = "_relais_applied_events"


class _Fold:
    """Rasa's `states_for_tracker_history` loop, paused after `consumed` applied events."""

    def __init__(self, tracker: Any, domain: Any, omit: bool, ignore: bool, rule_only: Any):
        self.domain, self.omit, self.ignore, self.rule_only = domain, omit, ignore, rule_only
        self.prior = tracker.init_copy()  # the tracker after the consumed events
        self.consumed: list[Any] = []
        self.users: list[tuple[Any, Any]] = []  # consumed user messages, their featurization
        self.states: list[dict[str, Any]] = []
        self.last_ml: Any = None  # Rasa's last_ml_action_sub_state
        self.hidden = False  # Rasa's turn_was_hidden

    def resumes(self, applied: list[Any], domain: Any) -> bool:
        """Whether the applied events go on from what this fold consumed, unchanged."""
        n = len(self.consumed)
        return (
            domain is self.domain
            and len(applied) >= n
            and all(a is b for a, b in zip(applied[:n], self.consumed, strict=True))
            and all(u.use_text_for_featurization == seen for u, seen in self.users)
        )

    def feed(self, events: list[Any], tracker: Any, states: list, keep: bool) -> tuple:
        """Fold `events` into `tracker` (self.prior when `keep`), appending to `states`."""
        from rasa.shared.core.events import ActionExecuted, UserUttered

        last_ml, hidden = self.last_ml, self.hidden
        for event in events:
            if isinstance(event, ActionExecuted):
                last_ml, hidden = self._emit(tracker, event.hide_rule_turn, states, last_ml, hidden)
            tracker.update(event)
            if keep:
                self.consumed.append(event)
                if isinstance(event, UserUttered):
                    self.users.append((event, event.use_text_for_featurization))
        if keep:
            self.last_ml, self.hidden = last_ml, hidden
        return last_ml, hidden

    def _emit(self, tr: Any, hide_rule_turn: bool, states: list, last_ml: Any, hidden: bool):
        """One pass of Rasa's loop body, for the tracker before an action (or at the end)."""
        from rasa.shared.core.constants import PREVIOUS_ACTION

        domain = self.domain
        if self.ignore:
            if not hidden:
                last_ml = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
                hidden = hide_rule_turn
            if hidden:
                return last_ml, hidden
        state = domain.get_active_state(tr, omit_unset_slots=self.omit)
        if self.ignore:
            domain._remove_rule_only_features(state, self.rule_only)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if last_ml:
                state[PREVIOUS_ACTION] = last_ml
        states.append(domain._clean_state(state))
        return last_ml, hidden

    def states_for(self, applied: list[Any]) -> list[dict[str, Any]]:
        """All states: the fold goes on to the pause, then finishes on copies."""
        pause = max(_pause(applied), len(self.consumed))  # consumed: still unchanged
        self.feed(applied[len(self.consumed) : pause], self.prior, self.states, keep=True)
        tracker, states = _twin(self.prior), list(self.states)
        last_ml, hidden = self.feed(applied[pause:], tracker, states, keep=False)
        self._emit(tracker, False, states, last_ml, hidden)
        return _copied(states)


def _pause(applied: list[Any]) -> int:
    """How far the fold may consume: before the latest user message, and no further than just
    after the last run of the active form."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered

    backwards = range(len(applied) - 1, -1, -1)
    user = next((i for i in backwards if isinstance(applied[i], UserUttered)), len(applied))
    form = next((applied[i].name for i in backwards if isinstance(applied[i], ActiveLoop)), None)
    runs = (
        i
        for i in backwards
        if form and isinstance(applied[i], ActionExecuted) and applied[i].action_name == form
    )
    last_run = next(runs, None)
    return user if last_run is None else min(user, last_run + 1)


def _twin(tracker: Any) -> Any:
    """A copy that the next events can change without changing `tracker`: what `update` changes
    in place is copied (events, slots, the active loop), the rest is replaced, never changed."""
    twin = copy.copy(tracker)
    twin.events = deque(tracker.events, tracker.events.maxlen)
    twin.slots = {name: _shallow(slot) for name, slot in tracker.slots.items()}
    twin.active_loop = copy.copy(tracker.active_loop)
    return twin


def _shallow(slot: Any) -> Any:
    """copy.copy of a slot (a plain object), at a quarter of copy.copy's cost."""
    clone = object.__new__(type(slot))
    clone.__dict__.update(slot.__dict__)
    return clone


def _applied(tracker: Any) -> list[Any]:
    """The tracker's applied events, computed again only when an event was added: the rule and
    the memoization policies ask for them before the same prediction."""
    events = tracker.events
    last = events[-1] if events else None
    kept = tracker.__dict__.get(_APPLIED)
    if kept is None or kept[0] is not events or kept[1] != len(events) or kept[2] is not last:
        kept = tracker.__dict__[_APPLIED] = (events, len(events), last, tracker.applied_events())
    return kept[3]


def _copied(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the states and of their sub-states, shared where the originals are."""
    copies: dict[int, dict[str, Any]] = {}

    def sub(state: dict[str, Any]) -> dict[str, Any]:
        if id(state) not in copies:
            copies[id(state)] = dict(state)
        return copies[id(state)]

    return [{kind: sub(value) for kind, value in state.items()} for state in states]


def install() -> None:
    """Replace DialogueStateTracker.past_states (what the policies' featurizers call)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    rasas = DialogueStateTracker.past_states

    def past_states(
        self: Any,
        domain: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Any = None,
    ) -> list[dict[str, Any]]:
        if type(self) is not DialogueStateTracker:  # training's trackers cache their own
            return rasas(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        key = (omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
        folds = self.__dict__.setdefault(_FOLDS, {})
        applied = _applied(self)
        fold = folds.get(key)
        if fold is None or not fold.resumes(applied, domain):
            only = copy.deepcopy(rule_only_data)
            fold = folds[key] = _Fold(self, domain, omit_unset_slots, ignore_rule_only_turns, only)
        return fold.states_for(applied)

    DialogueStateTracker.past_states = past_states
