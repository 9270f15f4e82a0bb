"""Language identification: reliable on real messages, never flipped by short ambiguous ones."""

import pytest

from bot.language import identify, requested_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Mon resto est fermé depuis trois mois et je ne sais plus quoi faire", "fr"),
        ("chui dans la merde avec la tva jsp quoi faire", "fr"),
        ("Ik heb een kapsalon en de huur is veel te hoog geworden", "nl"),
        ("ik kan de rsz nie meer betalen, wa moet ik doen", "nl"),
        ("Hello, can somebody help me with my restaurant?", "en"),
        ("Bonjour", "fr"),
        ("goedendag", "nl"),
    ],
)
def test_reliable_detection(text, code):
    guess = identify(text)
    assert guess.code == code
    assert guess.reliable


@pytest.mark.parametrize("text", ["ok", "merci", "hallo", "👍", "😞😞", "...", "123", "ok merci"])
def test_short_ambiguous_messages_are_not_reliable(text):
    assert not identify(text).reliable


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("/nl", "nl"),
        ("/fr", "fr"),
        ("Nederlands aub", "nl"),
        ("en néerlandais svp", "nl"),
        ("kan het in het Frans?", "fr"),
        ("en français s'il vous plaît", "fr"),
        ("parlez-vous français ?", "fr"),
    ],
)
def test_explicit_requests(text, language):
    assert requested_language(text) == language


def test_a_long_message_mentioning_a_language_is_not_a_request():
    text = "Mes clients parlent néerlandais et français et je dois traduire tout mon site web"
    assert requested_language(text) is None


def test_supported_is_always_french_or_dutch_for_text_with_words():
    assert identify("help aub").supported in ("fr", "nl")
    assert identify("Hello there my friend how are you").supported in ("fr", "nl")
