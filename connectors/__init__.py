"""Channel adapters used by the gateway (Telegram, WhatsApp, web widget): the channels issue.

Today the gateway's own web chat page (bot/gateway) is the only channel.
"""
