"""The gateway (app environment): owns the channels, relays to Rasa; never imports rasa."""
