"""The launcher's stack: the engine runs below the gateway's CPU priority, and no service outlives
the process that started it (`make run`, the bench)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import ROOT

pytestmark = pytest.mark.e2e


def nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_rasa_and_the_actions_yield_the_cpu_to_the_gateway(stack):
    gateway = nice(stack.processes["gateway"].pid)
    engine = {name: nice(p.pid) for name, p in stack.processes.items() if name != "gateway"}
    assert set(engine) >= {"rasa", "actions"}
    assert set(engine.values()) == {gateway + stack.settings.engine_nice}
    assert stack.settings.engine_nice > 0  # (RELAIS_ENGINE_NICE=0 would make this check empty)


LAUNCHER = """
import dataclasses, sys, time
from pathlib import Path
from bot.launch import Stack, free_port, stop_on_sigterm
from bot.settings import get_settings
settings = dataclasses.replace(get_settings(), action_port=free_port(), var_dir=Path(sys.argv[1]))
stack = Stack(settings, only=("actions",))
stop_on_sigterm()
try:
    stack.start()
    print(stack.processes["actions"].pid, flush=True)
    time.sleep(120)
finally:
    stack.stop()
"""


def test_a_terminated_launcher_stops_the_services_it_started(tmp_path):
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        service = int(launcher.stdout.readline())
        os.kill(service, 0)  # the action server runs
        launcher.terminate()
        assert launcher.wait(timeout=30) != 0
    finally:
        launcher.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(service, 0)
