"""The defaults that depend on the machine."""

import os

import pytest

from bot.settings import Settings


@pytest.mark.parametrize(("cores", "servers"), [(1, 1), (2, 1), (3, 2), (16, 2)])
def test_one_rasa_server_per_core_but_one(monkeypatch, cores, servers):
    """The gateway, the action server and the database keep a core; at most two (~1 GB each)."""
    monkeypatch.delenv("RELAIS_RASA_SERVERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert Settings().rasa_servers == servers
    assert len(Settings().rasa_base_urls) == servers


def test_the_environment_chooses_the_rasa_servers(monkeypatch):
    monkeypatch.setenv("RELAIS_RASA_SERVERS", "3")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert Settings().rasa_servers == 3
