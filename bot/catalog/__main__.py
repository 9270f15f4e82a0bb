"""Command line: check the data, or rank the measures for a profile.

    python -m bot.catalog check
    python -m bot.catalog recommend --needs finance,rent --sector horeca --workers 3 \
        --commune Ixelles --language fr --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from bot.catalog import CatalogError, load
from bot.catalog.matcher import Profile, recommend
from bot.catalog.model import SITUATIONS
from bot.intake.extract import NEEDS, SECTORS, find_commune
from bot.language import SUPPORTED


def _list(allowed: tuple[str, ...]):
    def parse(value: str) -> tuple[str, ...]:
        items = tuple(v.strip() for v in value.split(",") if v.strip())
        wrong = [v for v in items if v not in allowed]
        if wrong:
            raise argparse.ArgumentTypeError(
                f"{', '.join(wrong)}: choose from {', '.join(allowed)}"
            )
        return items

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.catalog", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate partners.yml and measures.yml")
    rec = commands.add_parser("recommend", help="rank the measures for a profile")
    rec.add_argument("--needs", type=_list(NEEDS), default=())
    rec.add_argument("--sector", choices=SECTORS)
    rec.add_argument("--workers", type=int)
    rec.add_argument("--commune", help="a Brussels commune (French or Dutch name) or a place")
    rec.add_argument("--situations", type=_list(SITUATIONS), default=())
    rec.add_argument("--distress", choices=("none", "moderate", "high", "critical"), default="none")
    rec.add_argument("--language", choices=SUPPORTED, default="fr")
    rec.add_argument("--limit", type=int, default=3)
    rec.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _check() -> int:
    try:
        catalogue = load()
    except CatalogError as error:
        print(f"catalogue error: {error}", file=sys.stderr)
        return 1
    statuses = Counter(m.status for m in catalogue.measures.values())
    unverified = sum(
        not e.verified for e in [*catalogue.partners.values(), *catalogue.measures.values()]
    )
    print(
        f"ok: {len(catalogue.partners)} partners, {len(catalogue.measures)} measures "
        f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}), "
        f"{unverified} entries with unverified facts"
    )
    return 0


def _recommend(args: argparse.Namespace) -> int:
    place = find_commune(args.commune, answer=True) if args.commune else None
    if args.commune and place is None:
        print(f"unknown commune or place: {args.commune}", file=sys.stderr)
        return 2
    profile = Profile(
        needs=args.needs,
        sector=args.sector,
        workers=args.workers,
        commune=place.id if place else None,
        situations=args.situations,
        distress=args.distress,
    )
    catalogue = load()
    result = recommend(profile, args.language, args.limit, catalogue).as_dict(
        args.language, catalogue
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for item in result["recommended"]:
        print(f"- {item['name']} ({item['provider_name']})\n  {item['why']}")
        if item["conditions"]:
            print(f"  ! {'; '.join(item['conditions'])}")
    for item in result["almost"]:
        print(f"~ {item['name']}: {'; '.join(item['missing'])}")
    if result["entry_points"]:
        print("contact first: " + ", ".join(p["name"] for p in result["entry_points"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _check() if args.command == "check" else _recommend(args)


if __name__ == "__main__":
    sys.exit(main())
