"""The launcher's stack: the engine runs below the gateway's CPU priority."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_rasa_and_the_actions_yield_the_cpu_to_the_gateway(stack):
    gateway = nice(stack.processes["gateway"].pid)
    engine = {name: nice(p.pid) for name, p in stack.processes.items() if name != "gateway"}
    assert set(engine) >= {"rasa", "actions"}
    assert set(engine.values()) == {gateway + stack.settings.engine_nice}
    assert stack.settings.engine_nice > 0  # (RELAIS_ENGINE_NICE=0 would make this check empty)
