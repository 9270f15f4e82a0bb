"""`make bench`: speed and memory figures of the whole stack on this machine, never a test.

Starts the three services with the embedded defaults on free loopback ports, plays scripted
10-turn French and Dutch conversations (intake, a distress case) with distinct users through the
gateway, then the same directly against Rasa's REST channel as the baseline, and one long
conversation (turn 1 versus turn 200). Prints the figures and writes var/bench.json (flat keys,
units in the names). The distress detector's own latency comes from the engine environment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bot.launch import ENGINE_BIN, Stack, free_port
from bot.settings import ROOT, get_settings

CONCURRENCY = 20
CONVERSATIONS = 40
SCRIPTS = {
    "fr": ["Bonjour", "Mon resto à Ixelles perd de l'argent, je ne paie plus la TVA", "trois",
           "c'est urgent", "merci", "c'est quoi ce que vous faites ?", "je suis épuisé",
           "je veux parler à quelqu'un", "ok", "au revoir"],
    "nl": ["Goedendag", "Mijn kapsalon in Schaarbeek heeft schulden bij de RSZ", "ik werk alleen",
           "deze week", "bedankt", "ben jij een robot?", "ik zie het niet meer zitten",
           "verder", "Nederlands", "tot ziens"],
}  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


async def _play(send, conversations: int) -> dict[str, float]:
    """Run `conversations` scripted conversations, CONCURRENCY at a time."""
    latencies: list[float] = []
    errors = 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def conversation(index: int) -> None:
        nonlocal errors
        user = uuid.uuid4().hex
        async with gate:
            for text in SCRIPTS["fr" if index % 2 == 0 else "nl"]:
                start = time.perf_counter()
                ok = await send(user, text)
                latencies.append((time.perf_counter() - start) * 1000)
                errors += not ok

    began = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    elapsed = time.perf_counter() - began
    return {
        "msgs_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": _percentile(latencies, 0.50),
        "p95_ms": _percentile(latencies, 0.95),
        "p99_ms": _percentile(latencies, 0.99),
        "errors": errors,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def _measure(stack: Stack) -> dict[str, float]:
    s = stack.settings
    gateway = f"http://{s.host}:{s.gateway_port}"
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def via_gateway(user: str, text: str) -> bool:
            body = {"sender_id": user, "text": text}
            return (await client.post(f"{gateway}/api/chat", json=body)).status_code == 200

        async def direct(user: str, text: str) -> bool:
            body = {"sender": f"bench:{user}", "message": text}
            url = f"{s.rasa_base_url}/webhooks/rest/webhook"
            return (await client.post(url, json=body)).status_code == 200

        await _play(via_gateway, 4)  # warm-up
        full = await _play(via_gateway, CONVERSATIONS)
        baseline = await _play(direct, CONVERSATIONS)

        user, turns = uuid.uuid4().hex, []
        for turn in range(200):
            start = time.perf_counter()
            await via_gateway(user, SCRIPTS["fr"][turn % 10])
            turns.append((time.perf_counter() - start) * 1000)

    figures = {f"full_{k}": v for k, v in full.items()}
    figures |= {f"direct_{k}": v for k, v in baseline.items()}
    figures["gateway_to_direct_throughput_ratio"] = round(
        full["msgs_per_s"] / baseline["msgs_per_s"], 3
    )
    figures["long_conversation_turns_1_10_median_ms"] = round(statistics.median(turns[:10]), 1)
    figures["long_conversation_turns_191_200_median_ms"] = round(statistics.median(turns[-10:]), 1)
    for name, process in stack.processes.items():
        figures[f"{name}_rss_mb"] = _rss_mb(process.pid)
    return figures


def _detector_figures() -> dict[str, float]:
    command = [str(ENGINE_BIN / "python"), "-m", "bot.safety.timing", "tests/data/dev_set.yml"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> int:
    figures: dict[str, float] = {}
    train_log = ROOT / "var" / "train_seconds"
    if train_log.exists():
        figures["training_s"] = float(train_log.read_text())
    figures |= _detector_figures()
    settings = dataclasses.replace(
        get_settings(),
        gateway_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        var_dir=Path(tempfile.mkdtemp(prefix="relais-bench-")),
    )
    stack = Stack(settings)
    try:
        figures["cold_start_s"] = round(stack.start(), 1)
        figures |= asyncio.run(_measure(stack))
    finally:
        stack.stop()
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
