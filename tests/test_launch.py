"""The launcher (`make run`, the bench): no service outlives the process that started it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
