"""Rasa runs its model's graph (the NLU pipeline for every message, the policies before every
action, three or four times per message) with dask's synchronous scheduler. Dask orders the
graph and runs a task queue on every run: ~6 % of a Rasa server's CPU under load (py-spy,
docs/performance.md), for graphs of a dozen nodes that never change.

Here each run calls the same nodes with the same inputs as dask does: the nodes the targets
need (Rasa's minimal graph), each after the nodes it needs, with their (name, output) pairs; an
input replaces the node of the same name, and a need that nothing provides is passed as its
name (the node then refuses to run, as with dask). The order is computed once per targets and
inputs.
"""

from __future__ import annotations

from typing import Any


def _order(
    runner: Any, targets: tuple[str, ...], given: frozenset[str]
) -> tuple[dict[str, tuple], dict[str, None]]:
    """({node: the names it needs}, each node after the ones it needs; dask's graph before the
    inputs are added to it, for its check of their values), computed once."""
    orders = runner.__dict__.setdefault("_relais_orders", {})
    known = orders.get((targets, given))
    if known is None:
        schema = runner._graph_schema
        nodes = schema.nodes
        graph = dict.fromkeys(schema.minimal_graph_schema(list(targets)).nodes)
        order = {}

        def visit(name: str) -> None:
            if name in order or name in given or name not in nodes:
                return
            needs = tuple(nodes[name].needs.values())
            for need in needs:
                visit(need)
            order[name] = needs

        for name in graph:  # dask runs every node of it, those an input replaces feed too
            visit(name)
        known = orders[(targets, given)] = (order, graph)
    return known


def run(
    self: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    """`DaskGraphRunner.run` without dask: {target: its output}."""
    from rasa.engine.exceptions import GraphRunError

    inputs = inputs or {}
    targets = tuple(targets or self._graph_schema.target_names)
    order, graph = _order(self, targets, frozenset(inputs))
    if any(isinstance(value, str) for value in inputs.values()):  # dask reads one as a node's name
        self._add_inputs_to_graph(inputs, dict(graph))  # refuses it as Rasa does
    done: dict[str, Any] = {name: (name, value) for name, value in inputs.items()}
    try:
        for name, needs in order.items():
            done[name] = self._instantiated_nodes[name](*(done.get(n, n) for n in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(done[target] for target in targets)


def install() -> None:
    from rasa.engine.runner.dask import DaskGraphRunner

    DaskGraphRunner.run = run
