"""The channel API stubs of tests/connectors, reused: Telegram's Bot API and WhatsApp's Graph API
on loopback ports, recording what the gateway really sent."""

from tests.connectors.conftest import graph_server, telegram_server  # noqa: F401 (fixtures)
