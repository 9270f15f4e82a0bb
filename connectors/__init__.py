"""Channel adapters used by the gateway: one interface (base.py), Telegram, WhatsApp, and the
web widget's assets (webchat/). The gateway (bot/gateway/channels.py) mounts their webhooks."""
