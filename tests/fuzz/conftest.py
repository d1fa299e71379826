"""Print the fuzz run's seed and case counts at the end of every pytest run (CI logs show them)."""

from __future__ import annotations

from typing import Any

from tests.fuzz import budget


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if budget.RESULTS:
        terminalreporter.write_line(
            f"fuzz: seed {budget.seed()} (MOONKV_FUZZ_SEED), {budget.seconds():g}s per target; "
            + "; ".join(budget.RESULTS)
        )
