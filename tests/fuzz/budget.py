"""Time-bounded, seeded fuzz loops.

Every fuzz target runs cases until its time budget is spent.  Case ``i`` of a
run draws all its randomness from ``random.Random(f"{seed}/{target}/{i}")``, so
a failure is reproduced from the seed and the case number alone, whatever the
budget or the machine's speed.

Environment:

* ``MOONKV_FUZZ_SECONDS``: budget per target (default 10; CI keeps the default).
* ``MOONKV_FUZZ_SEED``: the run's seed (default: a fresh random one, printed).
* ``MOONKV_FUZZ_CASE``: run only this case number (reproduce a failure).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Final

DEFAULT_SECONDS: Final = 10.0


def seconds() -> float:
    return float(os.environ.get("MOONKV_FUZZ_SECONDS") or DEFAULT_SECONDS)


_RUN_SEED: Final = os.environ.get("MOONKV_FUZZ_SEED") or f"{random.SystemRandom().getrandbits(48):012x}"
RESULTS: list[str] = []
"""One line per target run in this process (printed at the end of the pytest run)."""


def seed() -> str:
    """The seed of this run: one for every target, so one line reproduces a CI run."""
    return _RUN_SEED


class FuzzFailure(AssertionError):
    pass


class Run:
    """One target's run: ``for rng in run.cases(): ...`` inside ``with run.case():``."""

    def __init__(self, target: str, share: float = 1.0) -> None:
        self.target = target
        self.seed = seed()
        self.budget = seconds() * share  # slow targets take a share of the budget
        only = os.environ.get("MOONKV_FUZZ_CASE")
        self.only = int(only) if only else None
        self.done = 0
        self.current = -1
        print(f"fuzz {target}: seed {self.seed}, budget {self.budget:g}s")

    def rng(self, i: int) -> random.Random:
        return random.Random(f"{self.seed}/{self.target}/{i}")

    def cases(self, min_cases: int = 1) -> Iterator[random.Random]:
        """Random sources for successive cases until the budget is spent."""
        if self.only is not None:
            self.current = self.only
            yield self.rng(self.only)
            self.done = 1
            return
        deadline = time.monotonic() + self.budget
        i = 0
        while i < min_cases or time.monotonic() < deadline:
            self.current = i
            yield self.rng(i)
            i += 1
            self.done = i
        print(f"fuzz {self.target}: {self.done} cases")
        RESULTS.append(f"{self.target}: {self.done} cases")

    def reproduce(self) -> str:
        return (
            f"fuzz target {self.target!r} failed at case {self.current}; reproduce with "
            f"MOONKV_FUZZ_SEED={self.seed} MOONKV_FUZZ_CASE={self.current}"
        )

    def check(self, fn: Callable[[random.Random], None], min_cases: int = 1) -> None:
        """Run ``fn`` on every case; a failure names the seed and the case."""
        for rng in self.cases(min_cases):
            try:
                fn(rng)
            except Exception as e:
                raise FuzzFailure(f"{self.reproduce()}\n{type(e).__name__}: {e}") from e
