"""Real PostgreSQL and Redis servers, started by the tests in a temporary folder on free ports.

Without the binaries (Debian's postgresql and redis-server) the scale tests skip and say so;
with RELAIS_REQUIRE_SCALE_TESTS=1 (set by .ci/run) they fail instead, so CI cannot skip them.
PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.launch import free_port

REQUIRED = os.environ.get("RELAIS_REQUIRE_SCALE_TESTS") == "1"


def _missing(what: str) -> None:
    message = (
        f"{what} not found: the scale tests need Debian's postgresql and redis-server "
        "(apt-get install postgresql redis-server; .ci/run installs them)"
    )
    if REQUIRED:
        pytest.fail(message + " and RELAIS_REQUIRE_SCALE_TESTS=1 forbids skipping")
    pytest.skip(message)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    port: int
    pg_ctl: list[str]  # the command, as the user that runs the server, with its data folder
    log: str
    user: str = "relais"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """A fast restart: every client connection is closed by the server."""
        subprocess.run(
            [*self.pg_ctl, "-l", self.log, "-m", "fast", "-w", "restart"],
            check=True,
            capture_output=True,
        )


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[Postgres]:
    pg_bin = _pg_bin()
    if pg_bin is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    folder = tmp_path_factory.mktemp("postgres")
    data = folder / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse root
        if shutil.which("runuser") is None:
            _missing("runuser (to run PostgreSQL as the postgres user)")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
        folder.chmod(0o755)
        for parent in folder.parents:  # postgres must be able to reach its folder
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    pg_ctl = [*as_user, str(pg_bin / "pg_ctl"), "-D", str(data)]
    server = Postgres(free_port(), pg_ctl, str(folder / "postgres.log"))
    subprocess.run(
        [*as_user, str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", server.user,
         "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", server.log, "-w", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        import psycopg

        with psycopg.connect(server.url("postgres"), autocommit=True) as connection:
            for database in ("gateway", "rasa"):
                connection.execute(f"CREATE DATABASE {database}")
        yield server
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)


@pytest.fixture(scope="session")
def redis(tmp_path_factory) -> Iterator[str]:
    """A Redis server on a free port; yields "127.0.0.1:<port>"."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        import socket

        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()
