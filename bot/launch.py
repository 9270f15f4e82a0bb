"""Start the three services (action server, Rasa server, gateway), wait until they answer.

`python -m bot.launch` is what `make run` calls; the end-to-end tests use `Stack` directly with
free ports and a temporary var/ folder. Ctrl-C (or SIGTERM) stops all three.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from bot.settings import ROOT, Settings, get_settings

ENGINE_BIN = ROOT / ".venv" / "engine" / "bin"
APP_BIN = ROOT / ".venv" / "app" / "bin"
MODEL = "relais.tar.gz"


def _rasa_name(index: int) -> str:
    return "rasa" if index == 0 else f"rasa{index + 1}"


def free_port() -> int:
    """A TCP port nothing listens on now, on loopback (tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_environment(settings: Settings) -> dict[str, str]:
    """What endpoints.yml and the action server read: one place derives it from settings."""
    return {
        "RELAIS_ACTION_ENDPOINT": settings.action_url,
        "RELAIS_TRACKER_DIALECT": settings.tracker_dialect,
        "RELAIS_TRACKER_HOST": settings.tracker_host,
        "RELAIS_TRACKER_DB": settings.tracker_db_path,
        "RELAIS_TRACKER_USER": settings.tracker_user,
        "RELAIS_TRACKER_PASSWORD": settings.tracker_password,
        **lock_store_environment(settings),
        "SANIC_HOST": settings.engine_host,  # the action server's bind address
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def lock_store_environment(settings: Settings) -> dict[str, str]:
    """Rasa's lock store: Redis when a host is set, else in memory (every variable is set
    either way: Rasa refuses an endpoints file that names an unset one)."""
    host, _, port = settings.lock_store_host.partition(":")
    return {
        "RELAIS_LOCK_STORE": "redis" if host else "in_memory",
        "RELAIS_LOCK_STORE_URL": host,
        "RELAIS_LOCK_STORE_PORT": port or "6379",
        "RELAIS_LOCK_STORE_DB": str(settings.lock_store_db),
        "RELAIS_LOCK_STORE_PASSWORD": settings.lock_store_password,
        "TICKET_LOCK_LIFETIME": str(settings.lock_lifetime_s),
    }


@dataclass
class Stack:
    settings: Settings
    only: tuple[str, ...] = ("actions", "rasa", "gateway")
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def commands(self) -> dict[str, tuple[list[str], str]]:
        """name -> (command, health URL), for the services this stack runs ("rasa" stands for
        every Rasa server: rasa, rasa2, ...)."""
        return {
            name: spec
            for name, spec in self._all_commands().items()
            if name.rstrip("0123456789") in self.only
        }

    def _all_commands(self) -> dict[str, tuple[list[str], str]]:
        s = self.settings
        model = s.models_dir / MODEL
        return {
            "actions": (
                [
                    str(ENGINE_BIN / "python"),
                    "-m",
                    "bot.action_server",
                    "--actions",
                    "actions",
                    "--port",
                    str(s.action_port),
                ],
                f"http://{s.engine_host}:{s.action_port}/health",
            ),
            **{
                _rasa_name(i): (
                    [
                        str(ENGINE_BIN / "python"),
                        "-m",
                        "bot.rasa_server",  # Rasa's command line with measured fixes, see there
                        "run",
                        "--model",
                        str(model),
                        "--endpoints",
                        "endpoints.yml",
                        "--credentials",
                        "credentials.yml",
                        "--interface",
                        s.engine_host,
                        "--port",
                        str(port),
                    ],
                    f"http://{s.engine_host}:{port}/",
                )
                for i, port in enumerate(s.rasa_ports)
            },
            "gateway": (
                [
                    str(APP_BIN / "python"),
                    "-m",
                    "uvicorn",
                    "bot.gateway.app:create_app",
                    "--factory",
                    "--host",
                    s.host,
                    "--port",
                    str(s.gateway_port),
                    "--no-access-log",
                ],
                f"http://{s.host}:{s.gateway_port}/healthz",
            ),
        }

    def start(self, timeout_s: float = 180, names: tuple[str, ...] | None = None) -> float:
        """Start every service, or those `names` (one that was stopped, in tests), and return
        the seconds until they all answered."""
        if not self.settings.api_token:  # actions and gateway share it; fresh for each run
            self.settings = dataclasses.replace(self.settings, api_token=secrets.token_urlsafe(32))
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        logs = self.settings.var_dir / "logs"
        logs.mkdir(exist_ok=True)
        env = {**os.environ, **engine_environment(self.settings), **_settings_env(self.settings)}
        began = time.monotonic()
        commands = {n: spec for n, spec in self.commands().items() if names is None or n in names}
        for name, (command, _) in commands.items():
            if name != "gateway" and self.settings.engine_nice:
                command = ["nice", "-n", str(self.settings.engine_nice), *command]
            with open(logs / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for name, (_, url) in commands.items():
            self._wait(name, url, began + timeout_s)
        return time.monotonic() - began

    def _wait(self, name: str, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.settings.var_dir}/logs/{name}.log")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"{name} did not answer at {url}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _settings_env(settings: Settings) -> dict[str, str]:
    """Pass the resolved settings on, so child processes agree with the launcher."""
    return {
        "RELAIS_HOST": settings.host,
        "RELAIS_ENGINE_HOST": settings.engine_host,
        "RELAIS_GATEWAY_PORT": str(settings.gateway_port),
        "RELAIS_RASA_PORT": str(settings.rasa_port),
        "RELAIS_ACTION_PORT": str(settings.action_port),
        "RELAIS_VAR_DIR": str(settings.var_dir),
        "RELAIS_API_TOKEN": settings.api_token,
        "RELAIS_INBOX_HOURS": settings.inbox_hours,
        "RELAIS_DATABASE_URL": settings.database,
        "RELAIS_RASA_URL": ",".join(settings.rasa_base_urls),
        "RELAIS_INBOUND_LEASE_S": str(settings.inbound_lease_s),
        "RELAIS_INBOUND_RETRY_S": str(settings.inbound_retry_s),
        "RELAIS_GATEWAY_URL": settings.gateway_base_url,
        # plain HTTP on loopback: a Secure cookie would never come back (explicit value wins)
        "RELAIS_COOKIE_SECURE": os.environ.get(
            "RELAIS_COOKIE_SECURE", "0" if settings.host in ("127.0.0.1", "localhost") else "1"
        ),
    }


def shell(settings: Settings) -> int:
    """The action server in the background and `rasa shell` in this terminal."""
    stack = Stack(settings, only=("actions",))
    try:
        stack.start()
        env = {**os.environ, **engine_environment(settings)}
        command = [
            str(ENGINE_BIN / "rasa"),
            "shell",
            "--model",
            str(settings.models_dir / MODEL),
            "--endpoints",
            "endpoints.yml",
        ]
        return subprocess.call(command, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _inbox_account(settings: Settings) -> str:
    """On a first start, a demo coordinator account, whose password is shown this once."""
    from bot.gateway.admin import ensure_demo_account
    from bot.gateway.store.db import make_engine, session_factory

    engine = make_engine(settings.database)
    try:
        created = ensure_demo_account(session_factory(engine), settings)
    finally:
        engine.dispose()
    if created:
        username, password = created
        return f"Counsellors sign in as {username} / {password} (shown once; see README)."
    return "Accounts: python -m bot.gateway.admin list-users | create-user (see README)."


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM (a supervisor, `kill`) unwinds like Ctrl-C: the caller's `finally: stack.stop()`
    runs, and no service outlives the process that started it."""
    signal.signal(signal.SIGTERM, _interrupt)


def main() -> int:
    settings = get_settings()
    if not (settings.models_dir / MODEL).exists():
        print(f"No trained model in {settings.models_dir}: run `make train`.", file=sys.stderr)
        return 1
    if sys.argv[1:] == ["shell"]:
        return shell(settings)
    stack = Stack(settings)
    stop_on_sigterm()
    try:
        print("Starting the action server, the Rasa servers and the gateway…", flush=True)
        seconds = stack.start()
        base = f"http://{settings.host}:{settings.gateway_port}"
        print(
            f"\nReady in {seconds:.0f} s.\n  Chat:   {base}/   (widget demo: {base}/demo)\n"
            f"  Inbox:  {base}/inbox\n"
            f"  {_inbox_account(settings)}\n  Logs:   {settings.var_dir}/logs/\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        print("A service stopped; see the logs. Stopping the others.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
