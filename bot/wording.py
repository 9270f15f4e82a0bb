"""Bilingual texts kept in YAML files, looked up by dotted key: one loader for every such file."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import yaml


class Wording:
    """`words("card.intro", "nl", name=...)` reads {card: {intro: {fr: ..., nl: ...}}}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def data(self) -> dict:
        return yaml.safe_load(self.path.read_text(encoding="utf-8"))

    def __call__(self, key: str, language: str, **values: Any) -> str:
        node = self.data
        for part in key.split("."):
            node = node[part]
        return node[language].format(**values)
