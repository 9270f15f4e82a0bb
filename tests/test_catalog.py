"""The catalogue's data: every entry valid and bilingual, every reference resolvable."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from bot.catalog import CatalogError, catalog, check_references
from bot.catalog.model import Opening, build_measure, build_partner
from bot.catalog.present import describe_hours

ROOT = Path(__file__).resolve().parents[1]


def _raw(name: str) -> list[dict]:
    return yaml.safe_load((ROOT / "bot" / "catalog" / f"{name}.yml").read_text(encoding="utf-8"))


def test_the_data_loads_and_names_every_group_the_issue_lists():
    c = catalog()
    for partner in ("info_1819", "hub_brussels", "ced", "finance_invest", "microstart", "un_pass"):
        assert partner in c.partners
    assert any(p.communes for p in c.partners.values()), "the GELs serve communes"
    kinds = {m.kind for m in c.measures.values()}
    assert {"loan", "coaching", "training", "psychological", "legal"} <= kinds
    assert {m.status for m in c.measures.values()} >= {"active", "ended"}


def test_every_entry_is_bilingual_sourced_and_dated():
    c = catalog()
    for entry in [*c.partners.values(), *c.measures.values()]:
        for field in ("name", "description"):
            assert set(getattr(entry, field)) == {"fr", "nl"}, entry.id
        assert entry.sources and entry.checked <= date.today(), entry.id
        assert entry.verified or entry.unverified, entry.id


def test_every_id_the_dialogue_names_exists():
    """Ids in button payloads, stories, actions and code must be catalogue entries."""
    c = catalog()
    known = c.partners.keys() | c.measures.keys()
    texts = [
        p.read_text(encoding="utf-8")
        for pattern in ("domain.yml", "nlu_data/**/*.yml", "tests/stories/*.yml", "actions/*.py")
        for p in ROOT.glob(pattern)
    ]
    named = {m for t in texts for m in re.findall(r'catalog_item\\?"\s*:\s*\\?"(\w+)', t)}
    named |= set(re.findall(r'partners\["(\w+)"\]', (ROOT / "bot/catalog/matcher.py").read_text()))
    assert named, "the search found nothing: the pattern is wrong"
    assert named <= known, named - known


def test_no_foreign_crisis_line_is_in_the_catalogue():
    """113, the MKB line and APESA serve the Netherlands and France, not Brussels."""
    flat = json.dumps([_raw("partners"), _raw("measures")], default=str)
    for number in ("113 ", "088-9990000", "0805 65 50 50"):
        assert number not in flat


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["name"].pop("nl"), "name needs exactly fr, nl"),
        (lambda e: e["description"].update(fr=" "), "description.fr is empty"),
        (lambda e: e.update(kind="gift"), "kind 'gift'"),
        (lambda e: e.update(status="maybe"), "status 'maybe'"),
        (lambda e: e.update(sources=["not a url"]), "sources"),
        (lambda e: e.update(checked="yesterday"), "checked must be a date"),
        (lambda e: e.update(colour="red"), "unknown fields ['colour']"),
        (lambda e: e["eligibility"].update(needs=["money"]), "needs 'money'"),
        (lambda e: e.update(verified=False, unverified=[]), "say what is unverified"),
        (lambda e: e.update(aliases=["Prêt"]), "aliases are a list of folded words"),
    ],
)
def test_a_broken_measure_is_rejected_with_a_clear_message(change, message):
    entry = copy.deepcopy(next(m for m in _raw("measures") if m.get("eligibility")))
    change(entry)
    with pytest.raises(CatalogError, match=re.escape(message)):
        build_measure(entry)


def test_references_between_entries_are_checked():
    c = catalog()
    measure = next(iter(c.measures.values()))
    orphan = build_measure({**_raw("measures")[0], "provider": "nobody"})
    with pytest.raises(CatalogError, match="provider 'nobody' is not a partner"):
        check_references(c.partners, {**c.measures, orphan.id: orphan})
    gel = next(p for p in _raw("partners") if p.get("communes"))
    with pytest.raises(CatalogError, match="unknown commune 'atlantis'"):
        check_references({**c.partners, "x": build_partner({**gel, "communes": ["atlantis"]})}, {})
    assert measure.provider in c.partners


def test_opening_hours():
    hours = Opening.parse("mon-fri 08:30-12:00,13:00-16:00; sat 10:00-12:00")
    thursday_noon = datetime(2026, 11, 26, 12, 30)
    assert not hours.is_open(thursday_noon)
    assert hours.next_opening(thursday_noon) == datetime(2026, 11, 26, 13, 0)
    friday_evening = datetime(2026, 11, 27, 18, 0)
    assert hours.next_opening(friday_evening) == datetime(2026, 11, 28, 10, 0)
    assert hours.next_opening(datetime(2026, 11, 28, 12, 0)) == datetime(2026, 11, 30, 8, 30)
    assert Opening.parse("24/7").is_open(friday_evening)
    assert describe_hours(hours, "fr").startswith("du lundi au vendredi 08:30-12:00")
    assert describe_hours(hours, "nl").endswith("zaterdag 10:00-12:00")
    for bad in ("mon-fri 17:00-08:00", "someday 10:00-12:00", "mon ten to twelve"):
        with pytest.raises(CatalogError):
            Opening.parse(bad)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.catalog", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_cli_check_and_recommend():
    check = _cli("check")
    assert check.returncode == 0 and check.stdout.startswith("ok: "), check.stderr
    run = _cli(
        "recommend", "--needs", "finance,rent", "--sector", "horeca", "--workers", "3",
        "--commune", "Ixelles", "--language", "fr", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert 1 <= len(result["recommended"]) <= 3
    for item in result["recommended"]:
        assert item["id"] in catalog().measures and item["provider"] in catalog().partners
        assert item["why"].startswith("Parce que")
    wrong = _cli("recommend", "--needs", "money")
    assert wrong.returncode == 2 and "choose from" in wrong.stderr
    nowhere = _cli("recommend", "--commune", "Atlantis")
    assert nowhere.returncode == 2 and "unknown commune" in nowhere.stderr
