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


def _cores() -> int:
    """The CPUs this process may run on (fewer than the machine's when it is pinned)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _partner_notifications() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for key, value in os.environ.items():
        for kind in ("email", "webhook", "secret"):
            prefix = f"RELAIS_NOTIFY_{kind.upper()}_"
            if key.startswith(prefix) and value.strip():
                found.setdefault(key.removeprefix(prefix).lower(), {})[kind] = value.strip()
    return found


@dataclass(frozen=True)
class Settings:
    """Where each process listens and where data lives; overridable per environment variable."""

    # The gateway's bind address. Rasa and the action server bind engine_host, loopback unless
    # deliberately changed: they have no authentication of their own (docs/deployment.md).
    host: str = field(default_factory=lambda: _env("RELAIS_HOST", "127.0.0.1"))
    engine_host: str = field(default_factory=lambda: _env("RELAIS_ENGINE_HOST", "127.0.0.1"))
    gateway_port: int = field(default_factory=lambda: _int("RELAIS_GATEWAY_PORT", 8000))
    rasa_port: int = field(default_factory=lambda: _int("RELAIS_RASA_PORT", 5005))
    # Rasa servers the launcher starts on this machine, on ports rasa_port, rasa_port + 1, ...
    # One Rasa process uses one core at most (it answers one message at a time); the gateway
    # spreads conversations over them. One per core but one, which the gateway, the action
    # server and the database keep: with a server on every core they take their CPU from the
    # engine on every message (docs/performance.md, "Eighth round"). At most two: ~1 GB each.
    rasa_servers: int = field(
        default_factory=lambda: _int("RELAIS_RASA_SERVERS", min(2, max(1, _cores() - 1)))
    )
    action_port: int = field(default_factory=lambda: _int("RELAIS_ACTION_PORT", 5055))
    # The engine's CPU priority below the gateway's (nice), when the launcher starts both on one
    # machine: webhook acknowledgements, the widget and the inbox stay quick while Rasa is
    # saturated; the engine's work waits in the inbound queue. 0: the same priority.
    engine_nice: int = field(default_factory=lambda: _int("RELAIS_ENGINE_NICE", 5))
    var_dir: Path = field(default_factory=lambda: Path(_env("RELAIS_VAR_DIR", str(ROOT / "var"))))
    models_dir: Path = field(
        default_factory=lambda: Path(_env("RELAIS_MODELS_DIR", str(ROOT / "models")))
    )
    # Rasa's tracker store: any SQLAlchemy URL parts; SQLite file under var/ by default.
    tracker_dialect: str = field(default_factory=lambda: _env("RELAIS_TRACKER_DIALECT", "sqlite"))
    tracker_db: str = field(default_factory=lambda: _env("RELAIS_TRACKER_DB", ""))
    tracker_host: str = field(default_factory=lambda: _env("RELAIS_TRACKER_HOST", ""))
    tracker_user: str = field(default_factory=lambda: _env("RELAIS_TRACKER_USER", ""))
    tracker_password: str = field(default_factory=lambda: _env("RELAIS_TRACKER_PASSWORD", ""))
    # Personal data is kept this many days after a conversation's last message, in both stores
    # (the gateway purges them every purge_interval_h hours).
    retention_days: int = field(default_factory=lambda: _int("RELAIS_RETENTION_DAYS", 90))
    purge_interval_h: float = field(
        default_factory=lambda: float(_env("RELAIS_PURGE_INTERVAL_H", "24"))
    )
    # The Rasa servers the gateway talks to, comma-separated; by default those the launcher starts.
    rasa_url: str = field(default_factory=lambda: _env("RELAIS_RASA_URL", ""))
    # Messages longer than this are cut before they reach the engine (the widget says so).
    max_message_chars: int = field(default_factory=lambda: _int("RELAIS_MAX_MESSAGE_CHARS", 2000))
    # Gateway limits (bot/gateway/security.py): request bodies in bytes, rates per minute.
    max_body_bytes: int = field(default_factory=lambda: _int("RELAIS_MAX_BODY_BYTES", 65536))
    max_webhook_body_bytes: int = field(
        default_factory=lambda: _int("RELAIS_MAX_WEBHOOK_BODY_BYTES", 1048576)
    )
    max_internal_body_bytes: int = field(
        default_factory=lambda: _int("RELAIS_MAX_INTERNAL_BODY_BYTES", 4194304)
    )
    rate_sender_per_minute: int = field(
        default_factory=lambda: _int("RELAIS_RATE_SENDER_PER_MINUTE", 20)
    )
    rate_ip_per_minute: int = field(default_factory=lambda: _int("RELAIS_RATE_IP_PER_MINUTE", 300))
    rate_login_per_minute: int = field(
        default_factory=lambda: _int("RELAIS_RATE_LOGIN_PER_MINUTE", 10)
    )
    rasa_timeout_s: float = field(
        default_factory=lambda: float(_env("RELAIS_RASA_TIMEOUT_S", "30"))
    )
    # The gateway's own database (handoffs, inbox, outbox): any SQLAlchemy URL; SQLite under var/.
    database_url: str = field(default_factory=lambda: _env("RELAIS_DATABASE_URL", ""))
    # Shared secret of the internal API (actions -> gateway POST /api/handoffs). The launcher
    # generates one per run when it is not set; in production set it in both processes.
    api_token: str = field(default_factory=lambda: _env("RELAIS_API_TOKEN", ""))
    gateway_url: str = field(default_factory=lambda: _env("RELAIS_GATEWAY_URL", ""))
    # Counsellor sessions: cookie flags and lifetime; Secure is on unless explicitly disabled
    # for plain-HTTP local runs (the launcher does that for 127.0.0.1).
    cookie_secure: bool = field(default_factory=lambda: _env("RELAIS_COOKIE_SECURE", "1") == "1")
    session_minutes: int = field(default_factory=lambda: _int("RELAIS_SESSION_MINUTES", 480))
    login_max_failures: int = field(default_factory=lambda: _int("RELAIS_LOGIN_MAX_FAILURES", 5))
    login_lockout_minutes: int = field(
        default_factory=lambda: _int("RELAIS_LOGIN_LOCKOUT_MINUTES", 15)
    )
    # Outgoing e-mail for partner notifications (none sent when no host is set).
    smtp_host: str = field(default_factory=lambda: _env("RELAIS_SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: _int("RELAIS_SMTP_PORT", 587))
    smtp_user: str = field(default_factory=lambda: _env("RELAIS_SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("RELAIS_SMTP_PASSWORD", ""))
    smtp_starttls: bool = field(default_factory=lambda: _env("RELAIS_SMTP_STARTTLS", "1") == "1")
    mail_from: str = field(default_factory=lambda: _env("RELAIS_MAIL_FROM", "relais@localhost"))
    # Per partner: RELAIS_NOTIFY_EMAIL_<PARTNER>, RELAIS_NOTIFY_WEBHOOK_<PARTNER> and
    # RELAIS_NOTIFY_SECRET_<PARTNER> (the webhook's HMAC-SHA256 key); PARTNER is the catalogue id
    # in capitals, e.g. RELAIS_NOTIFY_EMAIL_CED.
    notify: dict[str, dict[str, str]] = field(default_factory=lambda: _partner_notifications())
    # Outbox retries: exponential backoff from outbox_base_s up to outbox_max_s, then give up.
    outbox_base_s: float = field(default_factory=lambda: float(_env("RELAIS_OUTBOX_BASE_S", "2")))
    outbox_max_s: float = field(default_factory=lambda: float(_env("RELAIS_OUTBOX_MAX_S", "600")))
    outbox_max_attempts: int = field(default_factory=lambda: _int("RELAIS_OUTBOX_MAX_ATTEMPTS", 20))
    # A worker takes an item for this long; if its gateway dies mid-delivery, another one
    # delivers it after the lease (so a message may, rarely, arrive twice: at-least-once).
    outbox_lease_s: float = field(
        default_factory=lambda: float(_env("RELAIS_OUTBOX_LEASE_S", "60"))
    )
    # Inbound queue (bot/gateway/inbound.py): a gateway takes a conversation for this many
    # seconds (renewed while it works on it), so another gateway takes over when it dies; pending
    # deliveries (engine down, a gateway gone) are looked for every inbound_retry_s seconds.
    inbound_lease_s: float = field(
        default_factory=lambda: float(_env("RELAIS_INBOUND_LEASE_S", "20"))
    )
    inbound_retry_s: float = field(
        default_factory=lambda: float(_env("RELAIS_INBOUND_RETRY_S", "5"))
    )
    # Rasa's lock store: in memory (one Rasa server) unless a Redis host is set, which several
    # Rasa servers then share ("host" or "host:port"); a dead server's lock lapses after
    # lock_lifetime_s (Rasa's TICKET_LOCK_LIFETIME).
    lock_store_host: str = field(default_factory=lambda: _env("RELAIS_LOCK_STORE_HOST", ""))
    lock_store_db: int = field(default_factory=lambda: _int("RELAIS_LOCK_STORE_DB", 1))
    lock_store_password: str = field(default_factory=lambda: _env("RELAIS_LOCK_STORE_PASSWORD", ""))
    lock_lifetime_s: int = field(default_factory=lambda: _int("RELAIS_LOCK_LIFETIME_S", 60))
    # Outbound pacing per chat and per bot (connectors/pacing.py), under the channels' limits:
    # Telegram about 1 message a second in one chat and 30 a second overall; WhatsApp's pair
    # limit, one message every 6 s to one person with bursts of up to 45, and 80 a second.
    telegram_chat_interval_s: float = field(
        default_factory=lambda: float(_env("RELAIS_TELEGRAM_CHAT_INTERVAL_S", "1"))
    )
    telegram_per_s: float = field(
        default_factory=lambda: float(_env("RELAIS_TELEGRAM_PER_S", "30"))
    )
    whatsapp_chat_interval_s: float = field(
        default_factory=lambda: float(_env("RELAIS_WHATSAPP_CHAT_INTERVAL_S", "6"))
    )
    whatsapp_chat_burst: int = field(default_factory=lambda: _int("RELAIS_WHATSAPP_CHAT_BURST", 45))
    whatsapp_per_s: float = field(
        default_factory=lambda: float(_env("RELAIS_WHATSAPP_PER_S", "80"))
    )
    # Sites allowed to embed the web widget (comma-separated origins; "*" for any).
    widget_origins: list[str] = field(
        default_factory=lambda: [o.strip() for o in _env("RELAIS_WIDGET_ORIGINS", "*").split(",")]
    )
    # Channels: each is off unless its secrets are set (never in files, only the environment).
    telegram_token: str = field(default_factory=lambda: _env("RELAIS_TELEGRAM_TOKEN", ""))
    # The secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token (set with setWebhook).
    telegram_secret: str = field(default_factory=lambda: _env("RELAIS_TELEGRAM_SECRET", ""))
    telegram_api_url: str = field(
        default_factory=lambda: _env("RELAIS_TELEGRAM_API_URL", "https://api.telegram.org/bot")
    )
    whatsapp_token: str = field(default_factory=lambda: _env("RELAIS_WHATSAPP_TOKEN", ""))
    whatsapp_app_secret: str = field(default_factory=lambda: _env("RELAIS_WHATSAPP_APP_SECRET", ""))
    whatsapp_verify_token: str = field(
        default_factory=lambda: _env("RELAIS_WHATSAPP_VERIFY_TOKEN", "")
    )
    whatsapp_phone_number_id: str = field(
        default_factory=lambda: _env("RELAIS_WHATSAPP_PHONE_NUMBER_ID", "")
    )
    whatsapp_api_url: str = field(
        default_factory=lambda: _env("RELAIS_WHATSAPP_API_URL", "https://graph.facebook.com/v21.0")
    )
    # An approved template for counsellor replies outside WhatsApp's 24-hour window (optional).
    whatsapp_template: str = field(default_factory=lambda: _env("RELAIS_WHATSAPP_TEMPLATE", ""))
    # When counsellors answer, for partners whose own hours the catalogue does not know.
    inbox_hours: str = field(
        default_factory=lambda: _env("RELAIS_INBOX_HOURS", "mon-fri 09:00-17:00")
    )
    # Handoff references look like BXL-2026-000123.
    reference_prefix: str = field(default_factory=lambda: _env("RELAIS_REFERENCE_PREFIX", "BXL"))

    @property
    def tracker_db_path(self) -> str:
        return self.tracker_db or str(self.var_dir / "rasa_tracker.db")

    @property
    def public_url(self) -> str:
        """Where counsellors open the inbox (links in notifications)."""
        return _env("RELAIS_PUBLIC_URL", self.gateway_base_url)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'gateway.db'}"

    @property
    def gateway_base_url(self) -> str:
        return self.gateway_url or f"http://{self.host}:{self.gateway_port}"

    @property
    def tracker_url(self) -> str:
        """Rasa's tracker store as an SQLAlchemy URL (the gateway purges and erases there too)."""
        if self.tracker_dialect == "sqlite":
            return f"sqlite:///{self.tracker_db_path}"
        from sqlalchemy.engine import URL

        host, _, port = self.tracker_host.partition(":")
        return URL.create(
            self.tracker_dialect,
            username=self.tracker_user or None,
            password=self.tracker_password or None,
            host=host or None,
            port=int(port) if port else None,
            database=self.tracker_db or "rasa",
        ).render_as_string(hide_password=False)

    @property
    def rasa_ports(self) -> list[int]:
        """The ports of the Rasa servers the launcher starts here."""
        return [self.rasa_port + i for i in range(max(1, self.rasa_servers))]

    @property
    def rasa_base_urls(self) -> list[str]:
        if self.rasa_url:
            return [url.strip() for url in self.rasa_url.split(",") if url.strip()]
        return [f"http://{self.engine_host}:{port}" for port in self.rasa_ports]

    @property
    def action_url(self) -> str:
        return f"http://{self.engine_host}:{self.action_port}/webhook"


def get_settings() -> Settings:
    return Settings()
