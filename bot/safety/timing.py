"""python -m bot.safety.timing CASES.yml: per-message latency of the distress detector, as JSON.

Used by `make bench` (engine environment). Times the detector as the NLU component runs it,
with the classifier trained as at model training time, over every case text, after a warm-up.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import yaml

from bot.safety import classifier
from bot.safety.detector import DistressDetector


def main() -> int:
    cases = yaml.safe_load(Path(sys.argv[1]).read_text(encoding="utf-8"))["cases"]
    detector = DistressDetector(classifier.train(classifier.load_examples()))
    detector.warm_up()  # as the NLU component does when the model loads
    for case in cases[:20]:  # warm-up: caches and branch paths
        detector.assess(case["text"], case["language"])
    timings = []
    for case in cases:
        start = time.perf_counter()
        detector.assess(case["text"], case["language"])
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    print(json.dumps({
        "detector_messages": len(timings),
        "detector_p50_ms": round(statistics.median(timings), 2),
        "detector_p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
        "detector_max_ms": round(timings[-1], 2),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
