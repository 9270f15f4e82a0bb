"""Relais: first-line triage assistant for Brussels entrepreneurs in difficulty."""
