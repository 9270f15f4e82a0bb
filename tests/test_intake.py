"""Free-text and short-answer extraction of the intake profile (bot/intake)."""

import pytest

from bot.intake.extract import (
    find_commune,
    find_employees,
    find_needs,
    find_sector,
    find_urgency,
    helping_someone_else,
    profile_entities,
)


@pytest.mark.parametrize(
    ("text", "commune"),
    [
        ("mon salon est à Ixelles", "ixelles"),
        ("mijn zaak is in Elsene", "ixelles"),
        ("à Molenbeek-Saint-Jean", "molenbeek"),
        ("in Sint-Jans-Molenbeek", "molenbeek"),
        ("rue haute, 1000 bxl", "bruxelles"),
        ("on est à st gilles", "saint-gilles"),
        ("Woluwe-Saint-Pierre", "woluwe-saint-pierre"),
        ("in Sint-Lambrechts-Woluwe", "woluwe-saint-lambert"),
        ("a schaerbeek pres de la gare", "schaerbeek"),
    ],
)
def test_brussels_communes_in_both_languages(text, commune):
    place = find_commune(text)
    assert (place.id, place.region) == (commune, "brussels")


@pytest.mark.parametrize(
    ("text", "region"),
    [("mon magasin à Liège", "wallonia"), ("in Antwerpen", "flanders"), ("à Gand", "flanders")],
)
def test_places_outside_brussels(text, region):
    assert find_commune(text).region == region


def test_years_and_amounts_are_not_postcodes():
    assert find_commune("depuis 2021 je perds 1500 euros par mois") is None


def test_answers_accept_any_postcode_and_plain_bruxelles():
    assert find_commune("4000", answer=True).region == "wallonia"
    assert find_commune("Bruxelles", answer=True).id == "bruxelles"
    assert find_commune("Bruxelles") is None  # in a story "Bruxelles" may mean the Region


@pytest.mark.parametrize(
    ("text", "employees"),
    [
        ("j'ai 3 employés", 3),
        ("on a deux serveurs", 2),
        ("we hebben vier werknemers", 4),
        ("een vijftal medewerkers", 5),
        ("je suis seule dans ma boutique", 0),
        ("ik werk alleen", 0),
        ("mon loyer est de 1200 euros", None),
    ],
)
def test_staff_counts(text, employees):
    assert find_employees(text) == employees


def test_bare_numbers_count_only_as_answers():
    assert find_employees("3") is None
    assert find_employees("3", answer=True) == 3
    assert find_employees("aucun", answer=True) == 0


@pytest.mark.parametrize(
    ("text", "sector"),
    [
        ("ma friterie", "horeca"),
        ("mijn bakkerij", "retail"),
        ("je suis coiffeuse", "services"),
        ("ik ben loodgieter", "crafts_construction"),
        ("je suis DJ pour des mariages", "culture_events"),
        ("mon taxi", "other"),
        # Trades named by their workshop, practice or stall.
        ("je tiens une laverie à Ixelles", "services"),
        ("mijn praktijk als tandarts", "services"),
        ("notre cabinet vétérinaire", "services"),
        ("ik werk als stukadoor", "crafts_construction"),
        ("ik heb een gsm-herstelling in Anderlecht", "crafts_construction"),
        ("je suis vitrier depuis vingt ans", "crafts_construction"),
        ("onze kaaskraam op de zondagsmarkt", "retail"),
        ("ma poissonnerie", "retail"),
        ("mon école de musique", "culture_events"),
        ("ik ben goochelaar op kinderfeestjes", "culture_events"),
        ("ons frietkot aan de kerk", "horeca"),
        # A customer or a supplier named before the writer's own trade.
        ("mon gros client, un resto, ne paie plus. Je suis menuisier", "crafts_construction"),
        ("mijn leverancier, een bakkerij, is failliet; ik ben kapster", "services"),
        ("notre plus gros client, une brasserie, paie mal; je suis maçon", "crafts_construction"),
        ("le fournisseur de ma boulangerie, un grossiste", "retail"),
        # The writer's own customers and suppliers are not someone else's business.
        ("les clients du restaurant ne reviennent pas", "horeca"),
        ("j'ai perdu des clients, le resto est vide le midi", "horeca"),
        ("schulden bij leveranciers, de slagerij draait verlies", "retail"),
        # Any shop-front business: a shop, unless a trade is named.
        ("mon commerce souffre des travaux", "retail"),
        ("je suis commerçant, j'ai un snack à Jette", "horeca"),
        ("als zelfstandige handelaar heb ik een kapsalon", "services"),
        # Idioms and other senses, and someone else's office.
        ("on n'est pas sortis de l'auberge avec l'ONSS, ma boulangerie souffre", "retail"),
        ("c'est le cirque avec l'ONSS, mon salon de coiffure tient à peine", "services"),
        ("onze wafelkraam op de kerstmarkt", "horeca"),
        ("inscrit au registre de commerce depuis 2019, je suis coiffeuse", "services"),
        ("le cabinet de mon comptable m'a lâché, ma boulangerie va couler", "retail"),
        ("de dakherstelling van mijn winkel", "retail"),
        # Round F's trades: a nail bar is not a bar; compounds and company names.
        ("je veux ouvrir un bar à ongles", "services"),
        ("ik ben geluidstechnieker op festivals", "culture_events"),
        ("notre entreprise de peinture a deux ouvriers", "crafts_construction"),
        ("ma petite entreprise de peinture est en PRJ", "crafts_construction"),
        # ... and the same words for someone else's business
        ("l'entreprise de peinture qui a refait ma boulangerie", "retail"),
        ("het elektriciteitsbedrijf stuurt een factuur naar mijn frituur", "horeca"),
        ("het boekhoudkantoor van mijn frituur", "horeca"),
        ("onze vzw is een buurtrestaurant", "horeca"),
        ("ik heb een strijkatelier met 4 werknemers", "services"),
        ("je suis apicultrice et je voudrais des ateliers au rucher", "other"),
        ("ik ben groenteteler in Haren", "other"),
    ],
)
def test_sectors(text, sector):
    assert find_sector(text) == sector


def test_idioms_are_not_sectors_or_events():
    assert find_sector("je vous contacterai éventuellement") is None


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("je n'arrive plus à payer la TVA", ["finance"]),
        ("mon proprio veut augmenter le loyer", ["rent"]),
        ("l'huissier est passé, je crains la faillite", ["insolvency"]),
        ("ik wil een webshop en meer volgers op instagram", ["digital"]),
        ("on veut créer une coopérative", ["creation", "social_economy"]),
        ("hoeveel kan ik lenen?", ["finance"]),
        ("is er een overbrugging voor zaken die dicht moeten?", ["finance"]),
        ("hebben jullie psychologen?", ["psychological"]),
        # The business itself in question, one's own prices, a new direction, communicating.
        ("je ne sais plus quoi faire de ma boutique", ["coaching"]),
        ("ik weet niet meer wat ik met mijn bakkerij moet doen", ["coaching"]),
        ("je dois revoir mes tarifs", ["coaching"]),
        ("hoe bepaal ik mijn tarieven als fotograaf?", ["coaching"]),
        (
            "quelqu'un peut m'aider à trouver une nouvelle direction pour mon activité ?",
            ["coaching"],
        ),
        ("moet ik iets totaal anders gaan doen?", ["coaching"]),
        ("hoe communiceren we beter over onze voorstellingen?", ["coaching"]),
        ("vous avez quelqu'un à qui je peux parler de mon stress ?", ["psychological"]),
        # Not the business in question: what to do with a debt, someone else, others' prices.
        ("que faire avec mon dossier TVA en retard ?", ["finance"]),
        ("les prix de mon fournisseur augmentent, je ne sais plus payer", ["finance"]),
        ("que faire de mon comptable qui ne répond plus ?", []),
        ("de energieleveranciers verhogen de tarieven", []),
        ("la nouvelle direction de la banque refuse le crédit", ["finance"]),
        ("la banque refuse de communiquer", ["finance"]),
        ("quelqu'un à qui je peux parler de mon dossier TVA ?", ["finance"]),
    ],
)
def test_needs(text, needs):
    assert find_needs(text) == needs


def test_negated_urgency_wins():
    assert find_urgency("ce n'est pas urgent") == "low"
    assert find_urgency("c'est urgent") == "high"
    assert find_urgency("niet dringend") == "low"


def test_ligatures_typed_by_phones_are_the_letters_and_offsets_stay_in_the_original():
    """iOS and Android French keyboards write "sœur", "cœur", "œuvre"; the lexicons "soeur"."""
    text = "Ma sœur et moi, le cœur lourd : notre boulangerie à Ixelles a des dettes"
    spans = {f.entity: text[f.start : f.end] for f in profile_entities(text)}
    assert spans == {"sector": "boulangerie", "commune": "Ixelles", "need": "dettes"}
    assert find_sector("un atelier de manœuvre") == find_sector("un atelier de manoeuvre")
    said = "Ma sœur m'a écrit des adieux. Qui je peux appeler ?"
    found = helping_someone_else(said)
    assert said[found.start : found.end] == "Qui je peux appeler"


def test_entities_point_at_the_words_in_the_original_text():
    text = "Ma BOULANGERIE à Etterbeek a des dettes"
    spans = {f.entity: text[f.start : f.end] for f in profile_entities(text)}
    assert spans == {"sector": "BOULANGERIE", "commune": "Etterbeek", "need": "dettes"}


@pytest.mark.parametrize(
    "text",
    [
        "Mon associé m'a écrit 'prends soin de la boutique, je serai plus là'. Je fais quoi ?",
        "Mijn man zei dat hij ermee stopt, met alles. Wat moet ik doen?",
        "Mon frère m'a envoyé 'merci pour tout' cette nuit, il ne répond plus. Qui appeler ?",
        "Ma sœur m'a écrit des adieux. Qui je peux appeler ?",
        "Mijn vennoot zei dat hij er niet meer zal zijn. Bij wie kan hij terecht?",
        "Mijn broer zegt dat hij springt. Ik weet niet wie ik moet bellen.",
        "Mijn man zegt dat we beter af zijn zonder hem. Wie kan ons helpen?",
    ],
)
def test_asking_how_to_help_someone_close_is_a_psychological_need_once_in_distress(text):
    """The distress check (bot/nlu/distress_detector.py) calls this for a high or critical
    message: its own reading of the state replaces the lexicon's short list of states."""
    found = helping_someone_else(text)
    assert (found.entity, found.value) == ("need", "psychological")


@pytest.mark.parametrize(
    "text",
    [
        "Je veux mourir. Je fais quoi ?",  # nobody else named
        "Mon associé ne paie plus sa part",  # no question
        # The writer's own distress, someone close only mentioned.
        "ma femme va me quitter, je n'en peux plus, que faire ?",
        "je suis en burn-out, je n'arrive plus à payer mes employés, que faire ?",
        "mijn vrouw wil dat ik stop, ik kan niet meer, wat moet ik doen",
        # Someone close in trouble, but the question is about the business.
        "Mijn werknemer zit in burn-out, zei hij. Bij wie kan ik terecht voor de vervanging?",
        "Ma salariée m'a dit qu'elle est en burn-out. Qui je peux contacter pour la mutuelle ?",
    ],
)
def test_no_psychological_need_without_someone_else_at_risk_and_a_question(text):
    assert helping_someone_else(text) is None
