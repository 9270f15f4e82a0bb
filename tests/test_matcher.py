"""The matcher: expected top measures for a table of profiles, and properties that always hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.catalog import catalog
from bot.catalog.matcher import Profile, recommend
from bot.catalog.model import SITUATIONS
from bot.intake.extract import NEEDS, SECTORS, place_by_id

# (profile, the measure expected first, others expected among the top 3)
TABLE = [
    (
        {"needs": ("finance",), "sector": "horeca", "workers": 3, "commune": "ixelles"},
        "brusoc_loans",
        {"ced_guidance"},
    ),
    (
        {"needs": ("finance", "rent"), "sector": "retail", "workers": 1, "commune": "schaerbeek"},
        "microstart_microcredit",
        {"brusoc_loans"},
    ),
    (
        {"needs": ("rent",), "sector": "retail", "workers": 2, "commune": "bruxelles"},
        "microstart_microcredit",
        set(),
    ),
    (
        {"needs": ("insolvency",), "sector": "horeca", "workers": 4, "commune": "saint-gilles"},
        "ced_guidance",
        {"ced_workshops"},
    ),
    (
        {
            "needs": ("insolvency",),
            "situations": ("bankrupt",),
            "workers": 0,
            "commune": "anderlecht",
        },
        "droit_passerelle",
        {"ced_guidance"},
    ),
    (
        {
            "needs": ("finance",),
            "situations": ("forced_closure",),
            "workers": 1,
            "commune": "uccle",
        },
        "droit_passerelle",
        {"brusoc_loans"},
    ),
    ({"needs": ("psychological",), "commune": "etterbeek"}, "un_pass_sessions", set()),
    (
        {"needs": ("finance",), "distress": "high", "workers": 2, "commune": "jette"},
        "un_pass_sessions",
        {"brusoc_loans"},
    ),
    (
        {"needs": ("finance",), "distress": "critical", "commune": "evere"},
        "un_pass_sessions",
        {"ced_guidance"},
    ),
    (
        {"needs": ("digital",), "sector": "retail", "workers": 1, "commune": "forest"},
        "hub_coaching_missions",
        {"hub_digital_coaching"},
    ),
    (
        {"needs": ("digital",), "sector": "services", "workers": 2, "commune": "forest"},
        "hub_digital_coaching",
        set(),
    ),
    (
        {"needs": ("coaching",), "sector": "horeca", "workers": 5, "commune": "molenbeek"},
        "gel_guidance",
        {"hub_coaching_missions"},
    ),
    (
        {"needs": ("coaching",), "sector": "culture_events", "workers": 0, "commune": "ixelles"},
        "gel_guidance",
        set(),
    ),
    (
        {"needs": ("creation",), "situations": ("jobseeker",), "commune": "anderlecht"},
        "ace_self_employment",
        {"gel_guidance"},
    ),
    (
        {"needs": ("creation",), "workers": 0, "commune": "koekelberg"},
        "gel_guidance",
        {"microstart_microcredit"},
    ),
    ({"needs": ("social_economy",), "commune": "saint-josse"}, "brusoc_loans", set()),
    (
        {"needs": ("finance",), "workers": 12, "commune": "uccle"},
        "ced_guidance",
        {"finance_invest_loans"},
    ),
    (
        {
            "needs": ("finance",),
            "workers": 40,
            "sector": "crafts_construction",
            "commune": "anderlecht",
        },
        "ced_guidance",
        {"finance_invest_loans"},
    ),
    ({"needs": ("finance",), "commune": "liege"}, "microstart_microcredit", set()),
    (
        {"needs": ("insolvency",), "situations": ("bankrupt",), "commune": "gent"},
        "droit_passerelle",
        set(),
    ),
    ({"needs": ("psychological",), "commune": "namur"}, "un_pass_sessions", set()),
    (
        {
            "needs": ("finance", "insolvency"),
            "sector": "horeca",
            "workers": 3,
            "commune": "bruxelles",
            "distress": "moderate",
        },
        "un_pass_sessions",
        {"ced_guidance"},
    ),
    (
        {
            "needs": ("finance",),
            "sector": "culture_events",
            "workers": 0,
            "commune": "watermael-boitsfort",
        },
        "brusoc_loans",
        {"ced_guidance"},
    ),
    (
        {"needs": ("finance",), "workers": 6, "sector": "retail", "commune": "auderghem"},
        "brusoc_loans",
        {"ced_guidance"},
    ),
    (
        {
            "needs": ("coaching", "digital"),
            "sector": "retail",
            "workers": 3,
            "commune": "woluwe-saint-lambert",
        },
        "hub_coaching_missions",
        {"hub_collective_trainings"},
    ),
    (
        {"needs": ("insolvency", "psychological"), "workers": 1, "commune": "ganshoren"},
        "un_pass_sessions",
        {"ced_guidance"},
    ),
    (
        {"needs": ("finance",), "situations": ("bankrupt",), "workers": 0, "commune": "berchem"},
        "droit_passerelle",
        {"brusoc_loans"},
    ),
    (
        {"needs": ("rent", "finance"), "sector": "horeca", "workers": 8, "commune": "ixelles"},
        "microstart_microcredit",
        {"brusoc_loans"},
    ),
    (
        {"needs": ("creation", "finance"), "situations": ("jobseeker",), "commune": "molenbeek"},
        "gel_guidance",
        {"ace_self_employment", "microstart_microcredit"},
    ),
    (
        {"needs": ("digital",), "sector": "horeca", "workers": 2, "commune": "saint-gilles"},
        "hub_coaching_missions",
        {"hub_digital_coaching"},
    ),
    (
        {
            "needs": ("insolvency",),
            "sector": "retail",
            "workers": 2,
            "commune": "evere",
            "distress": "critical",
        },
        "un_pass_sessions",
        {"ced_guidance"},
    ),
    ({"needs": ("finance",), "workers": 0, "commune": "1030"}, "brusoc_loans", {"ced_guidance"}),
]


@pytest.mark.parametrize(("profile", "first", "among"), TABLE)
def test_expected_top_measures(profile, first, among):
    top = [m.measure.id for m in recommend(Profile(**profile), "fr").recommended]
    assert top[0] == first, top
    assert among <= set(top), top
    assert len(top) <= 3


def test_the_table_is_large_and_varied():
    assert len(TABLE) >= 30
    assert {p.get("distress", "none") for p, _, _ in TABLE} >= {
        "none",
        "moderate",
        "high",
        "critical",
    }


def test_reasons_and_missing_criteria_are_said_in_the_persons_language():
    profile = Profile(needs=("finance",), sector="horeca", workers=3, commune="ixelles")
    fr, nl = recommend(profile, "fr"), recommend(profile, "nl")
    brusoc = fr.recommended[0]
    assert brusoc.why("fr") == (
        "Parce que vous avez un problème d'argent ou de trésorerie "
        "et vous avez au plus 9 travailleurs."
    )
    assert nl.recommended[0].why("nl").startswith("Omdat u geldproblemen")
    solvency = next(m for m in fr.almost if m.measure.id == "solvency_fund")
    assert solvency.missing == ["elle est pour les entreprises d'au moins 5 travailleurs"]
    mediation = recommend(Profile(needs=("insolvency", "rent"), workers=2), "fr", limit=10)
    prerequisite = next(m for m in mediation.recommended if m.measure.id == "business_mediation")
    assert prerequisite.conditions == ["un diagnostic financier et juridique par le CEd"]


def test_outside_brussels_gets_the_regions_own_entry_points():
    flanders = recommend(Profile(needs=("insolvency",), commune="gent"), "nl")
    assert {p.id for p in flanders.entry_points} >= {"dyzo"}
    assert all(p.region == "flanders" for p in flanders.entry_points)
    local = recommend(Profile(needs=("coaching",), commune="schaerbeek"), "fr")
    assert [p.id for p in local.entry_points] == ["gel_schaerbeek", "info_1819"]


def test_paging_never_shows_a_measure_twice():
    profile = Profile(needs=("finance", "insolvency", "coaching"), workers=2, commune="jette")
    shown: list[str] = []
    while page := recommend(profile, "fr", exclude=frozenset(shown)).recommended:
        ids = [m.measure.id for m in page]
        assert not set(ids) & set(shown)
        shown += ids
    assert len(shown) >= 6


communes = st.sampled_from(
    ["ixelles", "schaerbeek", "anderlecht", "koekelberg", "liege", "gent", "1030", None]
)
profiles = st.builds(
    Profile,
    needs=st.lists(st.sampled_from(NEEDS), unique=True, max_size=4).map(tuple),
    sector=st.none() | st.sampled_from(SECTORS),
    workers=st.none() | st.integers(min_value=0, max_value=300),
    commune=communes.map(lambda c: place_by_id(c).id if c and place_by_id(c) else c),
    situations=st.lists(
        st.sampled_from([s for s in SITUATIONS if s not in ("distress", "insolvency")]),
        unique=True,
        max_size=2,
    ).map(tuple),
    distress=st.sampled_from(["none", "moderate", "high", "critical"]),
)


@settings(max_examples=300, deadline=None)
@given(profile=profiles, language=st.sampled_from(["fr", "nl"]))
def test_never_an_ended_or_ineligible_measure(profile, language):
    result = recommend(profile, language, limit=50)
    region = profile.place_region
    for match in result.recommended:
        rules = match.measure.eligibility
        assert match.measure.status != "ended"
        assert region is None or region in rules.regions
        if profile.workers is not None:
            assert rules.workers.admits(profile.workers)
        if profile.sector and rules.sectors:
            assert profile.sector in rules.sectors
        if rules.situations:
            assert profile.all_situations & set(rules.situations)
        assert match.reasons, "every recommendation says why"
    for match in result.almost:
        assert match.measure.status != "ended" and len(match.missing) == 1
    kinds = [m.measure.kind for m in result.recommended]
    if profile.distress in ("high", "critical") and "psychological" in kinds:
        assert kinds[0] == "psychological", "psychological support comes first"


def test_every_measure_can_be_reached_by_some_profile_unless_ended():
    """No active measure is dead data: some profile gets it recommended."""
    reachable = set()
    for measure in catalog().measures.values():
        rules = measure.eligibility
        profile = Profile(
            needs=rules.needs[:1],
            sector=rules.sectors[0] if rules.sectors else None,
            workers=rules.workers.min or rules.workers.max,
            commune={"brussels": "ixelles", "wallonia": "liege", "flanders": "gent"}[
                rules.regions[0]
            ],
            situations=tuple(
                s for s in rules.situations[:1] if s not in ("distress", "insolvency")
            ),
        )
        found = recommend(profile, "fr", limit=100).recommended
        if measure.id in {m.measure.id for m in found}:
            reachable.add(measure.id)
    active = {m.id for m in catalog().measures.values() if m.recommendable}
    assert active - reachable == set()
