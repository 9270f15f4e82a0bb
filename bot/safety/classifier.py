"""A small trained classifier for what rules put into words badly: tone, unusual phrasing.

Character and word n-grams with a logistic regression, trained on bot/safety/data/
distress_train.yml (written for training only; the evaluation sets are never used). The detector
lets it raise a level, never lower one that a rule found.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.safety.normalise import normalise

TRAINING_FILE = Path(__file__).parent / "data" / "distress_train.yml"


def load_examples(path: Path = TRAINING_FILE) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["examples"]


def train(examples: list[dict]) -> Pipeline:
    """Fit on normalised texts; labels are the four levels."""
    texts = [normalise(e["text"], e.get("language")) for e in examples]
    labels = [e["level"] for e in examples]
    model = Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        (
                            "chars",
                            TfidfVectorizer(
                                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                            ),
                        ),
                        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                    ]
                ),
            ),
            ("model", LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)),
        ]
    )
    return model.fit(texts, labels)
