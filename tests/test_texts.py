"""Every text a person or a counsellor can see exists in French and in Dutch."""

import re
from pathlib import Path

import yaml

from bot.gateway.texts import all_texts
from bot.intake.lexicon import load

ROOT = Path(__file__).resolve().parents[1]


def _language_of(variation: dict) -> str | None:
    conditions = variation.get("condition") or []
    return next((c["value"] for c in conditions if c.get("name") == "language"), None)


def test_every_domain_response_has_a_french_and_a_dutch_variation():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    missing = {
        name: {"fr", "nl"} - {_language_of(v) for v in variations if v.get("text")}
        for name, variations in domain["responses"].items()
    }
    assert {name: langs for name, langs in missing.items() if langs} == {}


def test_buttons_do_the_same_in_both_variations():
    """Same payloads in the same order; only a switch to the other language may differ."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

    def payloads(variation: dict) -> list[str]:
        return [
            "switch" if b["payload"].startswith("/switch_language") else b["payload"]
            for b in variation.get("buttons", [])
        ]

    for name, variations in domain["responses"].items():
        by_language = {_language_of(v): payloads(v) for v in variations}
        assert by_language["fr"] == by_language["nl"], name


def test_gateway_texts_are_bilingual():
    assert all(set(v) == {"fr", "nl"} and all(v.values()) for v in all_texts().values())


def test_profile_labels_are_bilingual():
    labels = load("labels")
    for section in ("sectors", "needs", "urgency", "employees"):
        for key, value in labels[section].items():
            assert set(value) == {"fr", "nl"}, (section, key)


def _leaves(node: dict, path: str = ""):
    """(path, {language: text}) for every text of a nested texts file."""
    if set(node) & {"fr", "nl"}:
        yield path, node
        return
    for key, child in node.items():
        yield from _leaves(child, f"{path}.{key}".strip("."))


def test_catalogue_words_are_bilingual():
    from bot.catalog.wording import all_texts as catalogue_texts

    leaves = list(_leaves(catalogue_texts()))
    assert len(leaves) > 40
    for path, texts in leaves:
        assert set(texts) == {"fr", "nl"} and all(t.strip() for t in texts.values()), path
        # the same placeholders in both languages, or one of them cannot be filled
        placeholders = {lang: sorted(re.findall(r"{(\w+)}", t)) for lang, t in texts.items()}
        assert placeholders["fr"] == placeholders["nl"], path
