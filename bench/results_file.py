"""Where a benchmark keeps its figures: ``bench/results/<name>-<UTC timestamp>.json``."""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def save(name: str, doc: Any) -> str:
    """Write ``doc`` as JSON under bench/results and return the path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(RESULTS_DIR, f"{name}-{stamp}.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path
