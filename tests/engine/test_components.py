"""Our Rasa components on real Message objects, as the pipeline calls them."""

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.distress_detector import DistressDetector
from bot.nlu.language_identifier import LanguageIdentifier
from bot.nlu.profile_extractor import ProfileExtractor


def _message(text: str, intent: str = "inform") -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.8})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.8}])
    return message


def test_language_is_added_to_the_parse_result():
    (message,) = LanguageIdentifier().process([_message("Ik zoek hulp voor mijn bakkerij")])
    assert message.get("language")["code"] == "nl"
    assert message.get("language")["reliable"] is True
    assert message.get("intent")["name"] == "inform"


def test_reliable_english_becomes_other_language():
    (message,) = LanguageIdentifier().process(
        [_message("Hello, do you speak English? My shop is in trouble")]
    )
    assert message.get("intent") == {"name": "other_language", "confidence": 1.0}
    assert message.get("intent_ranking")[1]["name"] == "inform"


def test_typed_language_commands_become_switch_language():
    for command, code in (("/nl", "nl"), ("/fr", "fr")):
        (message,) = LanguageIdentifier().process([_message(command, intent="nlu_fallback")])
        assert message.get("intent")["name"] == "switch_language"
        assert message.get("language")["requested"] == code


def test_profile_entities_with_spans_in_text_order():
    text = "Mon resto à Ixelles a 3 employés et des dettes, c'est urgent"
    (message,) = ProfileExtractor().process([_message(text)])
    entities = message.get("entities")
    assert [(e["entity"], e["value"]) for e in entities] == [
        ("sector", "horeca"),
        ("commune", "ixelles"),
        ("employees", 3),
        ("need", "finance"),
        ("urgency", "high"),
    ]
    assert [text[e["start"] : e["end"]] for e in entities][:2] == ["resto", "Ixelles"]


def test_distress_about_someone_close_adds_the_psychological_need():
    """The profile extractor runs before the distress check and does not know this farewell."""
    text = "Mon associé m'a écrit 'prends soin du bureau, je serai plus là'. Je fais quoi ?"
    (message,) = ProfileExtractor().process([_message(text)])
    assert "need" not in [e["entity"] for e in message.get("entities")]
    (message,) = DistressDetector().process([message])  # rules only: no classifier given
    assert message.get("distress")["level"] == "critical"
    needs = [e for e in message.get("entities") if e["entity"] == "need"]
    assert [(e["value"], e["extractor"]) for e in needs] == [("psychological", "DistressDetector")]
    assert text[needs[0]["start"] : needs[0]["end"]] == "Je fais quoi"


def test_calm_talk_about_someone_close_adds_no_need():
    """The same shape without distress: what the associate said is about the holidays."""
    text = "Mon associé m'a dit qu'il part en vacances demain, je fais quoi pour les commandes ?"
    (message,) = DistressDetector().process([_message(text)])
    assert message.get("distress")["level"] in ("none", "moderate")
    assert not message.get("entities")


def test_button_payloads_are_left_alone():
    message = _message('/inform{"sector":"retail"}')
    message.set("entities", [{"entity": "sector", "value": "retail"}])
    (message,) = ProfileExtractor().process([message])
    assert message.get("entities") == [{"entity": "sector", "value": "retail"}]


def test_unknown_words_become_nlu_fallback_and_survive_persistence(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.unknown_words import UnknownWordsFallback

    storage, resource = LocalModelStorage(tmp_path), Resource("unknown_words")
    examples = [Message(data={"text": t, "intent": "inform"}) for t in ("mon loyer", "de huur")]
    UnknownWordsFallback.create({}, storage, resource, None).train(TrainingData(examples))
    component = UnknownWordsFallback.load({}, storage, resource, None)

    gibberish, known, digits = component.process(
        [_message("xqzt wvkp"), _message("le LOYER augmente"), _message("3")]
    )
    assert gibberish.get("intent")["name"] == "nlu_fallback"
    assert known.get("intent")["name"] == "inform"
    assert digits.get("intent")["name"] == "inform"


def test_a_server_loading_the_model_builds_what_components_build_lazily(tmp_path):
    """Loaded as a server loads its model, the components build their language models, lexicons
    and catalogue names then, not on the first messages of the first people."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot import language
    from bot.catalog import names
    from bot.intake import extract

    built_lazily = (language._detector, names._patterns, extract._places)
    for cached in built_lazily:
        cached.cache_clear()
    storage = LocalModelStorage(tmp_path)
    for component in (LanguageIdentifier, ProfileExtractor):
        component.create({}, storage, Resource(component.__name__), None)
    assert [cached.cache_info().currsize for cached in built_lazily] == [0, 0, 0]  # training

    for component in (LanguageIdentifier, ProfileExtractor):
        component.load({}, storage, Resource(component.__name__), None)
    assert [cached.cache_info().currsize for cached in built_lazily] == [1, 1, 1]
