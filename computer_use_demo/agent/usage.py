"""A run's token and dollar accounting: one Usage event per response, with running totals."""

from __future__ import annotations

from dataclasses import asdict

from anthropic.types.beta import BetaMessage

from .budget import Budget
from .context import applied
from .events import Usage

KINDS = ("input", "output", "cache_creation_input", "cache_read_input")


class UsageTally:
    """Totals of one run; ``add`` counts a response (also into ``budget``) and reports it."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.price = budget.price
        self.totals = dict.fromkeys(KINDS, 0)
        self.total_cost: float | None = 0.0 if self.price else None  # None: no known price

    def add(self, response: BetaMessage) -> Usage:
        """Count ``response``: its Usage event."""
        usage = response.usage
        counts = {kind: getattr(usage, f"{kind}_tokens") or 0 for kind in KINDS}
        for kind, value in counts.items():
            self.totals[kind] += value
        kwargs = {f"{k}_tokens": v for k, v in counts.items()}
        cost = self.price.cost(**kwargs) if self.price else None
        if self.total_cost is not None and cost is not None:
            self.total_cost += cost
        self.budget.add(cost_usd=cost, context_tokens=sum(counts.values()))
        return Usage(
            **kwargs,
            **{f"total_{k}_tokens": v for k, v in self.totals.items()},
            cost_usd=cost,
            total_cost_usd=self.total_cost,
            **asdict(applied(response)),
        )
