"""Rasa SDK custom actions. Thin: the logic lives in bot/ and is tested there."""
