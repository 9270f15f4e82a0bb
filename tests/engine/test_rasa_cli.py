"""Rasa's own checks on our data and model: validation, test stories, the evaluation command."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
MODEL = ROOT / "models" / "relais.tar.gz"


def run(*command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)


def sent_by_code() -> set[str]:
    """Responses and intents our code uses by name, which Rasa cannot see in stories or data.

    Forms ask utter_ask_<slot>; actions and bot/ name responses in quotes; action_intake_done
    builds utter_outside_brussels_<region>; Rasa itself sends utter_default; NLU components set
    the intents of ESCALATION_INTENTS (never trained: the detector is their single source).
    """
    from bot.nlu.distress_detector import ESCALATION_INTENTS

    code = "\n".join(
        p.read_text() for p in [*(ROOT / "actions").glob("*.py"), *(ROOT / "bot").rglob("*.py")]
    )
    named = set(re.findall(r'"(utter_[a-z_]+)"', code))
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    used = {name for name in domain["responses"] if name in named}
    used |= {name for name in domain["responses"] if name.startswith("utter_ask_")}
    used |= {name for name in domain["responses"] if name.startswith("utter_outside_brussels_")}
    return used | {"utter_default"} | set(ESCALATION_INTENTS.values())


def test_rasa_data_validate_has_no_unjustified_warning():
    result = run(
        RASA, "data", "validate", "--domain", "domain.yml", "--data", "nlu_data",
        "--config", "config.yml",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = re.findall(r"UserWarning: (.*)", result.stdout + result.stderr)
    justified = sent_by_code()
    patterns = (
        r"The utterance '(\w+)' is not used in any story or rule",
        r"The intent '(\w+)' is listed in the domain file, but is not found in the NLU",
    )
    unjustified = [
        w for w in warnings
        if not any((m := re.match(p, w)) and m.group(1) in justified for p in patterns)
    ]  # fmt: skip
    assert unjustified == []


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`")
def test_all_test_stories_pass(tmp_path):
    result = run(
        RASA,
        "test",
        "core",
        "--model",
        str(MODEL),
        "--stories",
        "tests/stories",
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "story_report.json").read_text())
    assert report["conversation_accuracy"]["accuracy"] == 1.0
    assert report["conversation_accuracy"]["total"] >= 24


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`")
def test_evaluate_prints_only_the_json_object(tmp_path):
    cases = {
        "version": 1,
        "cases": [
            {
                "id": "t-1",
                "text": "Mon resto à Ixelles a 3 employés et des dettes de TVA",
                "language": "fr",
                "distress": "none",
                "needs": ["finance"],
                "sector": "horeca",
                "employees": 3,
            },
            {
                "id": "t-2",
                "text": "Mijn bloemenwinkel in Jette heeft een nieuwe website nodig",
                "language": "nl",
                "distress": "none",
                "needs": ["digital"],
                "sector": "retail",
                "employees": None,
            },
        ],
    }
    path = tmp_path / "cases.yml"
    path.write_text(yaml.safe_dump(cases, allow_unicode=True))
    result = run(sys.executable, "-m", "bot.evaluate", str(path), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads(result.stdout)  # fails if anything else is on stdout
    assert scores["cases"] == 2
    assert scores["language_accuracy"] == 1.0
    assert scores["needs"]["micro_f1"] == 1.0
    assert scores["sector_accuracy"] == 1.0
    assert set(scores["distress"]) == {
        "confusion",
        "per_level",
        "escalation_recall",
        "false_alarm_rate",
    }
