"""python -m bot.evaluate CASES.yml [--json]: score the trained model on labelled messages.

Runs in the engine environment and parses every case through the latest trained model, i.e. the
very components the live bot uses. Prints the JSON object of shared/eval/FORMAT.md with --json
(nothing else on stdout), readable tables otherwise. Exit status 0 whatever the scores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.language import SUPPORTED
from bot.scoring import LEVELS, NEEDS, Prediction, score
from bot.settings import get_settings


def prediction_from_parse(parse: dict[str, Any]) -> Prediction:
    """Read the fields FORMAT.md scores out of one NLU parse result."""
    language = parse.get("language") or {}
    code = language.get("code")
    entities = parse.get("entities") or []

    def values(name: str) -> list[Any]:
        return [e["value"] for e in entities if e.get("entity") == name]

    sectors, employees = values("sector"), values("employees")
    return Prediction(
        language=code if code in SUPPORTED else language.get("supported"),
        distress=(parse.get("distress") or {}).get("level", "none"),
        needs=sorted(set(values("need"))),
        sector=sectors[0] if sectors else None,
        employees=int(employees[0]) if employees else None,
    )


async def _parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def _print_tables(result: dict[str, Any]) -> None:
    d = result["distress"]
    print(f"cases: {result['cases']}   language accuracy: {result['language_accuracy']}")
    print(
        f"sector accuracy: {result['sector_accuracy']}   employees: {result['employees_accuracy']}"
    )
    print(
        f"\ndistress   escalation recall {d['escalation_recall']}, "
        f"false alarms {d['false_alarm_rate']}"
    )
    print("expected \\ got " + "".join(f"{level:>10}" for level in LEVELS))
    for level in LEVELS:
        print(f"{level:<14} " + "".join(f"{d['confusion'][level][g]:>10}" for g in LEVELS))
    print(f"\nneeds micro-F1 {result['needs']['micro_f1']}")
    for need in NEEDS:
        m = result["needs"]["per_need"][need]
        print(f"  {need:<15} P {m['precision']}  R {m['recall']}  n={m['support']}")
    print(f"\n{len(result['errors'])} errors")
    for error in result["errors"]:
        print(
            f"  {error['id']:<14} {error['field']:<10} expected {error['expected']!r:<28} "
            f"got {error['got']!r}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--model", type=Path, default=get_settings().models_dir / "relais.tar.gz")
    args = parser.parse_args(argv)
    cases = yaml.safe_load(args.cases.read_text(encoding="utf-8"))["cases"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.redirect_stdout(sys.stderr):  # Rasa's chatter must not pollute the JSON
        parses = asyncio.run(_parse_all(args.model, [c["text"] for c in cases]))
    result = score(cases, [prediction_from_parse(p) for p in parses])
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_tables(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
