"""The distress detector on the hard cases the safety issue names, in French and Dutch."""

import pytest

from bot.safety.detector import DistressDetector


@pytest.fixture(scope="module")
def detector():
    return DistressDetector()  # rules only: what the lexicon guarantees by itself


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("je veux en finir", "fr"),
        ("je pense à disparaître pour toujours", "fr"),
        ("tout le monde serait mieux sans moi", "fr"),
        ("j'ai acheté des médicaments, j'ai tout prévu", "fr"),
        ("mon associé parle de se tuer", "fr"),
        ("j'ai déjà fait une tentative de suicide et là ça recommence", "fr"),
        ("je vais me foutre en l'air mdr", "fr"),
        ("jveux plus vivre", "fr"),
        ("je me pendrais bien", "fr"),
        ("ik wil er niet meer zijn", "nl"),
        ("ik denk erover om er een einde aan te maken", "nl"),
        ("ik heb een touw gekocht", "nl"),
        ("mijn vennoot zegt dat hij zelfmoord wil plegen", "nl"),
        ("ik ga me opknopen haha", "nl"),
        ("kwil nie meer leven", "nl"),
        ("ik snij mezelf als het te veel wordt", "nl"),
        # The families of the first rounds (docs/safety.md).
        ("Mes fournisseurs, je les ai tous appelés pour leur dire adieu. C'est décidé.", "fr"),
        ("j'ai programmé un message pour mes enfants, ils le recevront dimanche", "fr"),
        ("j'ai gardé des somnifères depuis l'hiver, assez pour ce que je prévois", "fr"),
        ("je suis un fardeau pour ma famille", "fr"),
        ("als de huisbaas niet toegeeft hang ik me volgende week op", "nl"),
        ("ik heb alles klaargelegd voor na mijn dood", "nl"),
        ("mijn broer schreef 'vaarwel' en ik kan hem niet bereiken", "nl"),
        ("kheb pillen opgespaard, genoeg voor wat ik van plan ben", "nl"),
    ],
)
def test_critical(detector, text, language):
    assert detector.assess(text, language).level == "critical"


def test_a_risk_sentence_buried_in_a_long_business_message(detector):
    text = (
        "Bonjour, je tiens une friterie à Anderlecht avec deux étudiants. Depuis les travaux "
        "sur la chaussée, le chiffre d'affaires a baissé de moitié, j'ai des retards de TVA et "
        "l'ONSS m'a envoyé un rappel. Le propriétaire refuse d'étaler le loyer. J'ai demandé "
        "un crédit à ma banque, refusé. " * 3 + "Honnêtement je pense à en finir."
    )
    assessment = detector.assess(text, "fr")
    assert assessment.level == "critical"
    assert "en finir" in assessment.cues


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("je suis mort de rire", "fr"),
        ("ce prix me tue", "fr"),
        ("la crise a tué mon commerce", "fr"),
        ("ce burger c'est une tuerie", "fr"),
        ("je veux en finir avec ces dettes de TVA", "fr"),
        ("je me tue au travail pour rien", "fr"),
        ("ik lach me dood", "nl"),
        ("ik ga dood van de honger", "nl"),
        ("moordende concurrentie in de horeca", "nl"),
        ("dat is economische zelfmoord", "nl"),
    ],
)
def test_idioms_never_raise_high_or_critical(detector, text, language):
    assert detector.assess(text, language).level in ("none", "moderate")


def test_a_denial_never_lowers_the_risk_below_high(detector):
    assessment = detector.assess("je ne vais pas me suicider mais je n'en peux plus", "fr")
    assert assessment.level == "high"
    assert detector.assess("ik ga geen zelfmoord plegen hoor", "nl").level == "high"


def test_a_denial_taken_back_is_critical(detector):
    assert detector.assess("je ne vais pas me suicider... enfin je sais pas", "fr").level == (
        "critical"
    )
    assert detector.assess(
        "ik ga mezelf niets aandoen, maar soms denk ik er wel aan", "nl"
    ).level == ("critical")


@pytest.mark.parametrize(
    ("text", "language", "level"),
    [
        ("je n'en peux plus", "fr", "high"),
        ("chui a bout jpp", "fr", "high"),
        ("ik zie het niet meer zitten", "nl", "high"),
        ("ik kan niet meer.", "nl", "high"),
        ("je dors mal à cause des dettes", "fr", "moderate"),
        ("ik maak me zorgen over de huur", "nl", "moderate"),
        ("aidez-moi svp", "fr", "moderate"),
        ("je ne peux plus payer le loyer", "fr", "none"),
        ("ik kan de huur niet meer betalen", "nl", "none"),
        ("Quels sont les horaires du 1819 ?", "fr", "none"),
        # The families of the first rounds (docs/safety.md), and their look-alikes.
        ("je bois pour tenir depuis le redressement judiciaire", "fr", "high"),
        ("ma mère ne mange plus depuis la saisie", "fr", "high"),
        ("je me bourre la gueule tous les soirs pour oublier", "fr", "high"),
        ("ik drink elke avond om de schulden te vergeten", "nl", "high"),
        ("mijn man zegt dat hij waardeloos is sinds de sluiting", "nl", "high"),
        ("j'ai rédigé mes dernières volontés hier soir", "fr", "critical"),
        ("na de veiling ga ik voorgoed weg, het is goed zo", "nl", "critical"),
        ("ik ga voorgoed terug naar Portugal en verkoop de zaak", "nl", "none"),
        ("je suis cramé, trois ans sans vacances", "fr", "high"),
        ("le four est cramé, qui peut le réparer ?", "fr", "none"),
        ("ces cachets, je les mets de côté au cas où tout lâche", "fr", "critical"),
        ("die pillen hou ik bij voor het moment dat ik het niet meer trek", "nl", "critical"),
        ("je rêve de mes funérailles, tout le monde serait tranquille", "fr", "critical"),
        ("vannacht rook ik een laatste sigaret en daarna is het voorbij", "nl", "critical"),
        ("ce soir dernier service de la saison, après c'est fini", "fr", "none"),
        ("mijn begrafenisondernemer vraagt een lening voor een tweede rouwcentrum", "nl", "none"),
        # Round F: leaving things and people in order, someone else's care instructions
        ("j'ai donné ma voiture à mon fils, j'en aurai plus besoin", "fr", "critical"),
        (
            "ma collègue m'a demandé de m'occuper de ses chats et depuis elle ne répond plus",
            "fr",
            "critical",
        ),
        (
            "hij vroeg me om voor zijn hond te zorgen en neemt sindsdien niet meer op",
            "nl",
            "critical",
        ),
        ("j'ai offert ma guitare à mon neveu, je n'en aurai plus besoin", "fr", "critical"),
        (
            "la boutique est vendue, les dettes payées. je n'ai plus rien à faire ici.",
            "fr",
            "critical",
        ),
        ("Weldra ben ik er niet meer. Sorry.", "nl", "critical"),
        # ... and the business readings of the same words
        (
            "mon associé m'a remercié pour tout et ne répond plus depuis qu'il a revendu ses parts",
            "fr",
            "none",
        ),
        (
            "pension : mes outils vont à mon apprenti, "
            "je n'en aurai plus besoin après la fermeture",
            "fr",
            "none",
        ),
        ("je n'ai plus rien à faire ici, je rentre au Portugal avec ma famille", "fr", "none"),
        ("straks ben ik er niet meer, ik ga met pensioen", "nl", "none"),
        ("binnenkort ben ik er niet meer op maandag, de winkel sluit dan", "nl", "none"),
        ("Straks ben ik er niet meer. Ik ga met pensioen.", "nl", "none"),
        ("Mijn winkel? Binnenkort is hij er niet meer.", "nl", "none"),
        ("Le chantier est fini, il n'y a plus rien à faire ici.", "fr", "none"),
        ("Met die huurprijzen heb ik hier niets meer te zoeken.", "nl", "none"),
        ("Je vends mes outils, je n'en aurai plus besoin.", "fr", "none"),
        (
            "À la retraite, j'ai donné mes outils à mon apprenti, je n'en aurai plus besoin.",
            "fr",
            "none",
        ),
        (
            "Une cliente m'a demandé de m'occuper de son chien au toilettage, elle ne répond plus",
            "fr",
            "none",
        ),
        ("Een klant vroeg me voor zijn hond te zorgen, nu is hij onbereikbaar", "nl", "none"),
        ("Ik ben niet ingestort, maar het was zwaar", "nl", "none"),
        ("t'inquiète, on va s'en sortir", "fr", "none"),
        # collapse and crying said in other words
        ("na de controle ben ik volledig ingestort", "nl", "high"),
        ("vorige maand een zenuwinstorting, nu de deurwaarder", "nl", "high"),
        ("ik doe niks anders meer, ik kan enkel nog huilen", "nl", "high"),
        ("je ne fais que pleurer depuis la faillite", "fr", "high"),
        ("de markt voor evenementen is ingestort", "nl", "none"),
        ("ik kan alleen nog maar hopen dat de bank meewerkt", "nl", "none"),
        # moderate: after an apostrophe, Belgian Dutch, anger
        ("la TVA m'angoisse", "fr", "moderate"),
        ("je me sens un peu perdue avec la compta", "fr", "moderate"),
        ("ik ben zo gestresseerd door die controle", "nl", "moderate"),
        ("ik ben echt woest op de stad", "nl", "moderate"),
        # phone keyboards' ligatures: "cœur", "sœur"
        ("j'ai le cœur lourd et mal au cœur chaque matin", "fr", "moderate"),
        ("ma sœur m'a demandé de m'occuper de ses enfants, elle ne répond plus", "fr", "critical"),
    ],
)
def test_levels(detector, text, language, level):
    assert detector.assess(text, language).level == level


def test_cues_name_the_words_for_the_counsellor(detector):
    assessment = detector.assess("Mon resto coule et je n'ai plus envie de vivre", "fr")
    assert assessment.level == "critical" and assessment.score == 1.0
    assert any("envie de vivre" in cue for cue in assessment.cues)


def test_huge_and_empty_messages(detector):
    assert detector.assess("", "fr").level == "none"
    assert detector.assess("😞" * 5000 + " je veux mourir", "fr").level == "critical"
    assert detector.assess("bla " * 3000, None).level == "none"


@pytest.fixture(scope="module")
def with_classifier():
    from bot.safety import classifier

    return DistressDetector(classifier.train(classifier.load_examples()))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("plus de détails", "fr"), ("autres options", "fr"), ("être mis en contact", "fr"),
        ("plus d'infos", "fr"), ("meer uitleg", "nl"), ("andere mogelijkheden", "nl"),
        ("in contact gebracht worden", "nl"),
    ],
)  # fmt: skip
def test_the_dialogues_own_buttons_typed_out_are_never_distress(with_classifier, text, language):
    """ "plus de détails" once scored high ("plus de" looks like "je n'en peux plus")."""
    assert with_classifier.assess(text, language).level == "none"


def test_the_fast_scorer_gives_the_classifiers_own_probabilities(with_classifier):
    """The detector's scorer mirrors predict_proba; a drift here would silently change levels."""
    import numpy as np

    from bot.safety.normalise import normalise

    texts = [
        normalise(t, lang)
        for t, lang in [
            ("je n'en peux plus de ce loyer", "fr"),
            ("ik zie het niet meer zitten met de zaak", "nl"),
            ("Bonjour, quels sont les horaires ?", "fr"),
            ("", "nl"),
            ("😞😞", None),
        ]
    ]
    expected = with_classifier.classifier.predict_proba(texts)
    got = np.array(with_classifier._scorer.predict_proba(texts))
    assert list(with_classifier._scorer.classes_) == list(with_classifier.classifier.classes_)
    assert np.allclose(expected, got, atol=1e-9)


def test_the_classifiers_training_data_and_the_development_set_are_disjoint():
    """The dev set measures the classifier; a training sentence in it would inflate the score."""
    from pathlib import Path

    import yaml

    from bot.safety import classifier
    from bot.text import words

    dev = yaml.safe_load(Path("tests/data/dev_set.yml").read_text(encoding="utf-8"))["cases"]
    dev_texts = {" ".join(words(case["text"])) for case in dev}
    shared = [
        e["text"] for e in classifier.load_examples() if " ".join(words(e["text"])) in dev_texts
    ]
    assert shared == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("nog niet", "nl"), ("ik wil verder", "nl"), ("je veux continuer", "fr"),
        ("ik denk erover te stoppen als zelfstandige", "nl"),
        ("je pense à arrêter mon activité", "fr"),
    ],
)  # fmt: skip
def test_short_answers_and_business_plans_are_not_raised_by_the_classifier_alone(
    with_classifier, text, language
):
    assert with_classifier.assess(text, language).level in ("none", "moderate")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("j'ai dit au revoir à mes clients, on ferme samedi pour travaux", "fr"),
        ("je suis prêt à signer le bail, vous avez un modèle ?", "fr"),
        ("j'ai acheté une corde pour le stand du marché", "fr"),
        ("on boit un verre avec les clients le samedi, c'est déductible ?", "fr"),
        ("j'ai programmé un mail pour mes clients pour la rentrée", "fr"),
        ("de energiefactuur maakt me af", "nl"),
        ("we springen in het diepe met een tweede zaak", "nl"),
        ("ik heb afscheid genomen van de markt, ik open een winkel", "nl"),
        ("ik wil een einde maken aan het conflict met mijn vennoot", "nl"),
        ("ik drink een koffie met mijn boekhouder om de btw te bespreken", "nl"),
        # drinks, diets and ropes of a shop
        ("je bois un thé tous les matins avec mon fournisseur, c'est déductible ?", "fr"),
        ("mon associée ne mange plus de sucre, on lance une pâtisserie sans sucre", "fr"),
        ("ik drink elke middag een thee met mijn personeel, is dat een voordeel?", "nl"),
        ("ik heb touw en spijkers gekocht voor de kraam op de markt", "nl"),
    ],
)
def test_look_alikes_of_the_new_families_stay_below_high(detector, text, language):
    assert detector.assess(text, language).level in ("none", "moderate")
