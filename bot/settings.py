"""All configuration, read from the environment in one place, with safe local defaults.

Both environments import this module (plain Python, no dependency), so the launcher, the
gateway and the actions agree on ports, paths and secrets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


@dataclass(frozen=True)
class Settings:
    """Where each process listens and where data lives; overridable per environment variable."""

    host: str = field(default_factory=lambda: _env("RELAIS_HOST", "127.0.0.1"))
    gateway_port: int = field(default_factory=lambda: _int("RELAIS_GATEWAY_PORT", 8000))
    rasa_port: int = field(default_factory=lambda: _int("RELAIS_RASA_PORT", 5005))
    action_port: int = field(default_factory=lambda: _int("RELAIS_ACTION_PORT", 5055))
    var_dir: Path = field(default_factory=lambda: Path(_env("RELAIS_VAR_DIR", str(ROOT / "var"))))
    models_dir: Path = field(
        default_factory=lambda: Path(_env("RELAIS_MODELS_DIR", str(ROOT / "models")))
    )
    # Rasa's tracker store: any SQLAlchemy URL parts; SQLite file under var/ by default.
    tracker_dialect: str = field(default_factory=lambda: _env("RELAIS_TRACKER_DIALECT", "sqlite"))
    tracker_db: str = field(default_factory=lambda: _env("RELAIS_TRACKER_DB", ""))
    rasa_url: str = field(default_factory=lambda: _env("RELAIS_RASA_URL", ""))
    # Messages longer than this are cut before they reach the engine (the widget says so).
    max_message_chars: int = field(default_factory=lambda: _int("RELAIS_MAX_MESSAGE_CHARS", 2000))
    rasa_timeout_s: float = field(
        default_factory=lambda: float(_env("RELAIS_RASA_TIMEOUT_S", "30"))
    )

    @property
    def tracker_db_path(self) -> str:
        return self.tracker_db or str(self.var_dir / "rasa_tracker.db")

    @property
    def rasa_base_url(self) -> str:
        return self.rasa_url or f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"


def get_settings() -> Settings:
    return Settings()
