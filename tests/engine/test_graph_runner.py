"""bot/graph_runner.py runs Rasa's graphs as dask does: same calls, same outputs, same errors."""

import asyncio
import logging
from pathlib import Path

import pytest
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

from bot import graph_runner
from tests.engine.test_dialogue_states import as_run, stories

MODEL = Path(__file__).resolve().parents[2] / "models" / "relais.tar.gz"
DASK = DaskGraphRunner.run


class Node:
    """A graph node that records its calls and answers (name, output) as Rasa's do."""

    def __init__(self, name: str, calls: list, fail: type[Exception] | None = None) -> None:
        self.name, self.calls, self.fail = name, calls, fail

    def __call__(self, *received):
        self.calls.append((self.name, received))
        if self.fail:
            raise self.fail("broken")
        return self.name, f"{self.name}({', '.join(map(str, received))})"


def runner(needs: dict[str, dict[str, str]], calls: list, failing=()) -> DaskGraphRunner:
    graph = object.__new__(DaskGraphRunner)
    nodes = {
        name: SchemaNode(node_needs, Node, "", "", {}, is_target=name in TARGETS)
        for name, node_needs in needs.items()
    }
    graph._graph_schema = GraphSchema(nodes)
    graph._execution_context = None  # dask.py logs it
    graph._instantiated_nodes = {name: Node(name, calls, dict(failing).get(name)) for name in needs}
    return graph


def both(needs, runs, failing=()):
    """[(result or error, calls) of each run], with dask, then with ours: the runs one after
    the other on one runner, as a Rasa server does (ours keeps an order per targets and
    inputs)."""
    answers = []
    for run in (DASK, graph_runner.run):
        calls: list = []
        graph, results = runner(needs, calls, failing), []
        for inputs, targets in runs:
            calls.clear()
            try:
                result = run(graph, inputs, targets)
            except Exception as error:  # the same error either way is the point
                result = (type(error), str(error))
            results.append((result, sorted(calls)))
        answers.append(results)
    return answers


DIAMOND = {
    "tokens": {"message": "__message__"},
    "stems": {"message": "tokens"},  # feeds only words
    "words": {"message": "tokens", "stems": "stems"},
    "chars": {"message": "tokens"},
    "intent": {"words": "words", "chars": "chars"},
    "unused": {"message": "__message__"},
}
TARGETS = ("intent", "unused")
RUNS = [
    ({"__message__": "bonjour"}, ["intent"]),  # each node once, after its needs
    ({"__message__": "bonjour"}, ["intent", "words"]),
    ({"__message__": "bonjour"}, None),  # the schema's targets
    ({"__message__": "bonjour", "words": "given"}, ["intent"]),  # an input replaces a node
    ({}, ["intent"]),  # a need nothing provides comes as its name
    ({"__message__": "tokens"}, ["intent"]),  # a value naming a node: refused
]


def test_the_same_nodes_get_the_same_inputs_and_give_the_same_outputs():
    dask, ours = both(DIAMOND, RUNS + RUNS[::-1])  # each order computed, then used again
    assert ours == dask
    assert set(dask[2][0]) == set(TARGETS)
    assert ("stems", (("tokens", "tokens(('__message__', 'bonjour'))"),)) in dask[3][1]


@pytest.mark.parametrize("error", [RuntimeError, ValueError])
def test_a_failing_node_fails_the_run_alike(error):
    [dask], [ours] = both(DIAMOND, [({"__message__": "x"}, ["intent"])], {"chars": error})
    assert ours[0] == dask[0]
    assert ours[0][0] is (GraphRunError if error is RuntimeError else error)


@pytest.fixture(scope="module")
def agent():
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    return Agent.load(str(MODEL))


def test_our_model_parses_and_predicts_alike(agent):
    texts = [
        "Bonjour, mon café à Ixelles ne tourne plus",
        "Ik heb een winkel in Schaarbeek en 3 werknemers",
        "je n'en peux plus, je veux en finir",
        "oui",
        "/affirm",
        "",
    ]
    sessions = [(name, as_run(story)) for name, story in stories()[:25]]

    def answers():
        parsed = [asyncio.run(agent.parse_message(text)) for text in texts]
        trackers = [  # new ones: a prediction may mark the tracker's last message
            DialogueStateTracker.from_events(name, events[:i], agent.domain.slots)
            for name, events in sessions
            for i, event in enumerate(events)
            if isinstance(event, ActionExecuted)
        ]
        return parsed, [agent.processor._predict_next_with_tracker(t) for t in trackers]

    dask = answers()
    DaskGraphRunner.run = graph_runner.run
    try:
        ours = answers()
    finally:
        DaskGraphRunner.run = DASK
    assert len(dask[1]) > 100
    assert ours == dask
