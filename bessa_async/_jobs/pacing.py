"""How often waiting jobs are read: one job's backoff, and the pace of jobs-list rounds. Pure.

Each job backs off from its policy's ``initial`` delay by its ``multiplier`` up to its
``ceiling``, with jitter; a ``Retry-After`` from the API sets the next delay within the bounds.
A round of many jobs of one kind shares the floor among them, so reading them together never
costs more requests per second than polling each at its floor would.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Final

from .._base.config import PollPolicy, check_seconds

__all__ = [
    "ROUND_FLOOR",
    "check_wait_timeout",
    "next_poll_delay",
    "next_round_delay",
    "round_policy",
]

ROUND_FLOOR: Final = 0.05
"""The shortest delay between two rounds of one kind, in seconds."""


def check_wait_timeout(timeout: float | None) -> float | None:
    """``timeout`` if it is seconds >= 0 or None (no deadline), else an ``InputError``. Pure."""
    return None if timeout is None else check_seconds("timeout", timeout, zero=True)


def next_poll_delay(
    policy: PollPolicy,
    previous: float | None,
    rng: random.Random,
    retry_after: float | None = None,
) -> tuple[float, float]:
    """The backoff step. Pure (given ``rng``).

    Args:
        policy: the bounds and growth.
        previous: the previous un-jittered delay, ``None`` before the first poll.
        rng: draws the jitter.
        retry_after: the server's ``Retry-After`` on the last answer, if any.

    Returns:
        ``(base, delay)``: the un-jittered delay to pass as ``previous`` next time, and the delay
        to wait now (the server's ``Retry-After`` if it gave one), both within the bounds.
    """
    base = policy.clamp(policy.initial if previous is None else previous * policy.multiplier)
    if retry_after is not None:
        return base, policy.clamp(retry_after)
    spread = rng.uniform(1 - policy.jitter, 1 + policy.jitter) if policy.jitter else 1.0
    return base, policy.clamp(base * spread)


def round_policy(policies: Iterable[PollPolicy]) -> PollPolicy:
    """The tightest bounds of the members' policies: each member is read at least as often as
    its own policy asks. Pure."""
    chosen = list(policies)
    return PollPolicy(
        initial=min(p.initial for p in chosen),
        floor=min(p.floor for p in chosen),
        ceiling=min(p.ceiling for p in chosen),
        multiplier=min(p.multiplier for p in chosen),
        jitter=0,
    )


def next_round_delay(
    policy: PollPolicy,
    previous: float | None,
    *,
    members: int,
    changed: bool,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to the next round of one kind. Pure (given ``rng``).

    After a round that saw a change, the next comes soon: the policy's floor shared among the
    members (``floor / members``, never below :data:`ROUND_FLOOR`), so a round never costs more
    requests per second than polling each member at its floor would. A quiet round backs off by
    the policy's multiplier up to its ceiling; a ``Retry-After`` sets the delay (within bounds).
    """
    if retry_after is not None:
        return policy.clamp(retry_after)
    fast = min(policy.ceiling, max(ROUND_FLOOR, policy.floor / max(1, members)))
    if changed or previous is None:
        base = fast
    else:
        base = min(policy.ceiling, max(fast, previous * policy.multiplier))
    if rng is not None and policy.jitter:
        base = min(policy.ceiling, base * rng.uniform(1 - policy.jitter, 1 + policy.jitter))
    return base
