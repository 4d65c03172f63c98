"""How often and how patiently a failed (node, host) pair is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, for retryable errors only.

    ``retries`` is how many times a pair is tried again after its first attempt. Retry n
    waits between half and all of ``min(max_delay, base_delay * 2**(n-1))`` seconds, chosen at
    random, so hosts that lost their connection together do not all come back at once.
    """

    retries: int = 2
    base_delay: float = 1.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retries and delays cannot be negative")

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)
