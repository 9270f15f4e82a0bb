"""Custom Rasa 3.6 graph components (engine environment only): thin wrappers around bot/."""
