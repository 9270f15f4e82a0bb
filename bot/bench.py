"""`make bench`: speed and memory figures of the whole stack on this machine, never a test.

Starts the three services on free loopback ports with the embedded defaults (SQLite, in-memory
locks), except two things a benchmark needs: the per-IP and per-sender rate limits are lifted
(every synthetic person comes from 127.0.0.1, and the long conversation sends 200 messages in a
few minutes), and the Telegram channel is on, with a secret and a loopback stub of Telegram's
API, so that webhook acknowledgements can be timed while Rasa is saturated.

What it plays: scripted 10-turn French and Dutch conversations (intake with recommendations, and
a distress case), each with its own person, CONCURRENCY at a time, through the gateway and
directly against Rasa's REST channel (the baseline), CAPACITY_ROUNDS rounds each in the order
full, direct, direct, full, full, direct...; then paced through the gateway (with
Telegram-shaped webhook deliveries posted alongside in a last phase); then one long
conversation of 200 turns through the gateway.
`SOAK=1` adds a soak of SOAK_MESSAGES messages through the gateway and the resident memory growth
of each process. Prints the figures and writes var/bench.json (flat keys, units in the names).
Whatever happens, it exits 0: a measurement, not a test (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import json
import operator
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bot.gateway.inbound import engine_metadata
from bot.gateway.rasa_client import RasaClient
from bot.launch import ENGINE_BIN, Stack, free_port, stop_on_sigterm
from bot.settings import ROOT, get_settings

CONCURRENCY = 20
CONVERSATIONS = 60  # 600 messages per phase or round
CAPACITY_ROUNDS = 4  # of the closed loop, through the gateway and directly
# Messages a second offered by CONCURRENCY people in the paced phases: the target's load, and
# half of it, to see the latency of a stack that is not saturated.
PACED_RATES = (30, 15)
LONG_TURNS = 200
WINDOW = 20  # turns 1-20 versus 181-200 of the long conversation
WEBHOOKS_PER_S = 2
SOAK_MESSAGES = 20_000
TELEGRAM_SECRET = "bench-secret"  # the benchmark's own settings (a throwaway stack)
SCRIPTS = {
    ("fr", "intake"): [
        "Bonjour", "Mon resto à Ixelles perd de l'argent, je ne paie plus la TVA", "trois",
        "c'est urgent", "merci", "autres options", "c'est quoi le prêt proxi ?",
        "c'est quoi ce que vous faites ?", "ok", "au revoir",
    ],
    ("fr", "distress"): [
        "Bonjour", "Ma boutique à Molenbeek a des dettes à l'ONSS", "je suis épuisé",
        "je n'en peux plus, je ne dors plus", "seul", "cette semaine", "merci",
        "je veux parler à quelqu'un", "non", "au revoir",
    ],
    ("nl", "intake"): [
        "Goedendag", "Mijn kapsalon in Schaarbeek heeft schulden bij de RSZ", "ik werk alleen",
        "deze week", "bedankt", "andere opties", "wat doet het COM?", "ben jij een robot?",
        "ok", "tot ziens",
    ],
    ("nl", "distress"): [
        "Hallo", "Mijn bakkerij in Anderlecht kan de huur niet meer betalen", "ik ben uitgeput",
        "ik zie het niet meer zitten", "twee", "dringend", "bedankt", "ik wil met iemand praten",
        "nee", "tot ziens",
    ],
}  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def _script(index: int) -> list[str]:
    return list(SCRIPTS.values())[index % len(SCRIPTS)]


def _uuid_person(index: int) -> str:
    return uuid.uuid4().hex


def _spread_over(rasa: RasaClient, servers: list[str], conversation_id: Callable[[str], str]):
    """Person ids whose conversations go to the Rasa servers in turn, as many people would
    spread, and each script to every server alike: conversation i plays script i mod 4 on server
    (i mod 4 + i div 4) mod n. Drawn at random, 20 conversations are split 13 to 7 or worse one
    time in four; the busier server then limits the phase on its own, and the full and direct
    phases, split differently, were not compared on equal terms. In turn (i mod n), two servers
    got one the intakes and the other the distress cases, which cost more."""

    def person(index: int) -> str:
        server = servers[(index % len(SCRIPTS) + index // len(SCRIPTS)) % len(servers)]
        while True:
            user = uuid.uuid4().hex
            if rasa.servers_for(conversation_id(user))[0] == server:
                return user

    return person


@dataclasses.dataclass
class Played:
    """What a phase measured: reply latencies (ms), errors, seconds, CPU seconds per process."""

    latencies: list[float]
    errors: int
    elapsed_s: float
    cpu_s: dict[str, float] = dataclasses.field(default_factory=dict)

    def __add__(self, other: Played) -> Played:
        """Two rounds of one phase as one."""
        return Played(
            self.latencies + other.latencies,
            self.errors + other.errors,
            self.elapsed_s + other.elapsed_s,
            {name: spent + other.cpu_s.get(name, 0.0) for name, spent in self.cpu_s.items()},
        )

    @property
    def msgs_per_s(self) -> float:
        return len(self.latencies) / self.elapsed_s

    def figures(self, prefix: str = "") -> dict[str, float]:
        """The phase's figures, with the CPU milliseconds each process spent per message: on a
        machine shared with other work they move much less than messages per second do."""
        messages = len(self.latencies)
        figures = {
            "msgs_per_s": round(self.msgs_per_s, 1),
            "p50_ms": _percentile(self.latencies, 0.50),
            "p95_ms": _percentile(self.latencies, 0.95),
            "p99_ms": _percentile(self.latencies, 0.99),
            "errors": self.errors,
            "messages": messages,
        }
        for name, spent in self.cpu_s.items():
            figures[f"{name}_cpu_ms_per_msg"] = round(1000 * spent / messages, 1)
        return {f"{prefix}{key}": value for key, value in figures.items()}


async def _play(
    send,
    conversations: int,
    rate: float | None = None,
    person=_uuid_person,
    stack: Stack | None = None,
) -> Played:
    """Run `conversations` scripted conversations (distinct people), CONCURRENCY at a time;
    `person(index)` gives the id of conversation `index`'s person. With a `stack`, the CPU
    each of its processes spent is measured too.

    Without a rate each person sends again as soon as answered (a closed loop: capacity). With
    one, each sends their next message CONCURRENCY / rate seconds after the previous one (or as
    soon as it was answered, if later): `rate` messages a second are offered in all, the load of
    people who read and type. The first CONCURRENCY people start one after the other over one
    interval; each later one takes the place of a person who has finished, one interval after
    that person's last message. The phase lasts until the last answer (not the pause after it)."""
    interval = CONCURRENCY / rate if rate else 0.0
    latencies: list[float] = []
    errors = 0
    last_answer = 0.0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def conversation(index: int) -> None:
        nonlocal errors, last_answer
        user = person(index)
        async with gate:
            if index < CONCURRENCY:
                await asyncio.sleep(interval * index / CONCURRENCY)
            for text in _script(index):
                start = time.perf_counter()
                ok = await send(user, text)
                last_answer = time.perf_counter()
                took = last_answer - start
                latencies.append(took * 1000)
                errors += not ok
                await asyncio.sleep(max(0.0, interval - took))

    pids = {name: process.pid for name, process in stack.processes.items()} if stack else {}
    cpu_before = {name: _cpu_s(pid) for name, pid in pids.items()}
    began = time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(conversations)))
    elapsed = (last_answer or time.perf_counter()) - began  # no message sent: the time spent
    cpu = {name: _cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
    return Played(latencies, errors, elapsed, cpu)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process has exited: it holds no memory
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _telegram_stub() -> str:
    """A loopback stand-in for api.telegram.org: every call succeeds. Returns its base URL."""
    port = free_port()
    body = b'{"ok": true, "result": {"message_id": 1, "date": 0, "chat": {"id": 1}}}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    return f"http://127.0.0.1:{port}/bot"


async def _post(
    client: aiohttp.ClientSession, url: str, body: dict, headers: dict | None = None
) -> tuple[int, object]:
    """(status, JSON answer or None) of a POST; status 0 when it failed. aiohttp: the load
    generator shares the two cores with the stack, and costs a third of httpx's CPU per call."""
    try:
        async with client.post(url, json=body, headers=headers) as response:
            answer = await response.json(content_type=None) if response.status == 200 else None
            return response.status, answer
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return 0, None


async def _webhooks(client: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> list[float]:
    """Telegram-shaped updates at WEBHOOKS_PER_S, each from a new chat; acknowledgement times."""
    acks: list[float] = []
    pending: set[asyncio.Task] = set()
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    counter = itertools.count(1)

    async def post(n: int) -> None:
        update = {
            "update_id": n,
            "message": {
                "message_id": n,
                "date": int(time.time()),
                "chat": {"id": 9_000_000 + n, "type": "private"},
                "from": {"id": 9_000_000 + n, "is_bot": False, "first_name": "B"},
                "text": "Bonjour, mon commerce à Forest a des dettes",
            },
        }
        start = time.perf_counter()
        status, _ = await _post(client, url, update, headers)
        acks.append((time.perf_counter() - start) * 1000 if status == 200 else float("inf"))

    while not stop.is_set():
        task = asyncio.create_task(post(next(counter)))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(1 / WEBHOOKS_PER_S)
    await asyncio.gather(*pending)
    return acks


async def _measure(stack: Stack, soak: bool) -> dict[str, float]:
    s = stack.settings
    gateway = f"http://{s.host}:{s.gateway_port}"
    figures: dict[str, float] = {}
    connections = aiohttp.TCPConnector(limit=CONCURRENCY * 4)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connections, timeout=timeout) as client:

        async def via_gateway(user: str, text: str) -> bool:
            body = {"sender_id": user, "text": text}
            status, answer = await _post(client, f"{gateway}/api/chat", body)
            return status == 200 and isinstance(answer, dict) and bool(answer.get("messages"))

        rasa = RasaClient(s.rasa_base_urls, 60)  # the gateway's choice of server, directly
        servers = list(s.rasa_base_urls)
        # Direct, the conversations have the gateway's ids (web:<person>) and get the metadata it
        # sends, so that the engine does the same work on both paths: the bot reports the profile
        # of channel conversations only (actions/profile_slots.py), and the actions read the
        # metadata. With `bench:` ids the direct path skipped work no real conversation skips.
        web_person = _spread_over(rasa, servers, lambda user: f"web:{user}")
        metadata = engine_metadata("web", None)  # the bench's people choose no language

        async def direct(user: str, text: str) -> bool:
            body = {"sender": f"web:{user}", "message": text, "metadata": metadata}
            url = rasa.servers_for(f"web:{user}")[0]
            status, answer = await _post(client, f"{url}/webhooks/rest/webhook", body)
            return status == 200 and bool(answer)

        await _play(via_gateway, 4)  # warm-up
        await _play(direct, 4)

        figures["rasa_servers"] = len(s.rasa_base_urls)
        # Capacity through the gateway and directly, CAPACITY_ROUNDS rounds each, in the order
        # full, direct, direct, full, full, direct...: a round's CPU per message moves by up to a
        # fifth with the machine, and its drift weighs on both paths alike.
        rounds: dict[Callable, list[Played]] = {via_gateway: [], direct: []}
        order = itertools.cycle((via_gateway, direct, direct, via_gateway))
        for send in itertools.islice(order, 2 * CAPACITY_ROUNDS):
            rounds[send].append(await _play(send, CONVERSATIONS, person=web_person, stack=stack))
        full, baseline = (functools.reduce(operator.add, rounds[p]) for p in (via_gateway, direct))
        figures |= full.figures("full_") | baseline.figures("direct_")
        figures["gateway_to_direct_throughput_ratio"] = round(
            full.msgs_per_s / baseline.msgs_per_s, 3
        )
        per_round = [f.msgs_per_s / d.msgs_per_s for f, d in zip(*rounds.values(), strict=True)]
        figures["gateway_to_direct_ratio_round_min"] = round(min(per_round), 3)
        figures["gateway_to_direct_ratio_round_max"] = round(max(per_round), 3)
        for rate in PACED_RATES:
            paced = await _play(via_gateway, CONVERSATIONS, rate, web_person, stack)
            figures |= {f"paced_{rate}_offered_msgs_per_s": rate} | paced.figures(f"paced_{rate}_")
        for name, process in stack.processes.items():
            figures[f"{name}_rss_mb"] = _rss_mb(process.pid)
        await rasa.close()

        # Webhooks while Rasa is saturated by the chat: only the acknowledgement is timed (the
        # answers go through the inbound queue and the outbox to the Telegram stub).
        stop = asyncio.Event()
        hooks = asyncio.create_task(_webhooks(client, f"{gateway}/webhooks/telegram", stop))
        await _play(via_gateway, CONVERSATIONS // 2, person=web_person)
        stop.set()
        acks = await hooks
        figures["webhook_acks"] = len(acks)
        figures["webhook_ack_errors"] = sum(a == float("inf") for a in acks)
        figures["webhook_ack_p50_ms_under_load"] = _percentile(acks, 0.50)
        figures["webhook_ack_p99_ms_under_load"] = _percentile(acks, 0.99)
        await asyncio.sleep(10)  # let the webhook conversations' answers drain

        user, turns = uuid.uuid4().hex, []
        script = SCRIPTS[("fr", "intake")]
        for turn in range(LONG_TURNS):
            start = time.perf_counter()
            await via_gateway(user, script[turn % len(script)])
            turns.append((time.perf_counter() - start) * 1000)
        figures["turn1_p95_ms"] = _percentile(turns[:WINDOW], 0.95)  # turns 1-20
        figures["turn200_p95_ms"] = _percentile(turns[-WINDOW:], 0.95)  # turns 181-200
        figures["turn1_median_ms"] = round(statistics.median(turns[:WINDOW]), 1)
        figures["turn200_median_ms"] = round(statistics.median(turns[-WINDOW:]), 1)
        figures["long_conversation_ratio"] = round(
            figures["turn200_p95_ms"] / figures["turn1_p95_ms"], 2
        )

        if soak:
            before = {n: _rss_mb(p.pid) for n, p in stack.processes.items()}
            conversations = SOAK_MESSAGES // 10
            played = await _play(via_gateway, conversations, person=web_person)
            figures |= played.figures("soak_")
            for name, process in stack.processes.items():
                after = _rss_mb(process.pid)
                figures[f"soak_{name}_rss_mb"] = after
                figures[f"soak_{name}_rss_growth_pct"] = round(
                    100 * (after - before[name]) / before[name], 1
                )
    return figures


def _detector_figures() -> dict[str, float]:
    command = [str(ENGINE_BIN / "python"), "-m", "bot.safety.timing", "tests/data/dev_set.yml"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def _run(figures: dict[str, float], soak: bool) -> None:
    train_log = ROOT / "var" / "train_seconds"
    if train_log.exists():
        figures["training_s"] = float(train_log.read_text())
    figures |= _detector_figures()
    os.environ |= {
        "RELAIS_RATE_IP_PER_MINUTE": "1000000",
        "RELAIS_RATE_SENDER_PER_MINUTE": "1000000",
        "RELAIS_TELEGRAM_TOKEN": "bench-token",
        "RELAIS_TELEGRAM_SECRET": TELEGRAM_SECRET,
        "RELAIS_TELEGRAM_API_URL": _telegram_stub(),
    }
    settings = dataclasses.replace(
        get_settings(),
        gateway_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        var_dir=Path(tempfile.mkdtemp(prefix="relais-bench-")),
    )
    stack = Stack(settings)
    stop_on_sigterm()
    try:
        figures["cold_start_s"] = round(stack.start(), 1)
        figures |= asyncio.run(_measure(stack, soak))
    finally:
        stack.stop()


def main() -> int:
    soak = os.environ.get("SOAK", "") not in ("", "0")
    figures: dict[str, float] = {}
    try:
        _run(figures, soak)
    except Exception:  # a measurement, never a failure: report what was measured
        traceback.print_exc()
        figures["bench_incomplete"] = 1
    width = max(map(len, figures), default=10)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
