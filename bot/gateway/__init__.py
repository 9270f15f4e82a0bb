"""The gateway (app environment): owns the channels and relays messages to Rasa. Never imports rasa."""
