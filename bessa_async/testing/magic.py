"""Magic references: an order or payment whose ``reference`` names how its job should end.

Like a payment provider's test card numbers, they let a test reach every ending without a
private call. Anything after a ``/`` is ignored, so references stay unique
(``fail_reference("amount_mismatch", tag="shop-1042")``):

=================================== ===========================================================
``reference``                       the job
=================================== ===========================================================
``sandbox:fail:<code>``             is picked up, then fails with ``error.code`` = ``<code>``
                                    (any word; :data:`FAILURE_CODES` lists the API's)
:data:`SLOW_REFERENCE`              completes, after :data:`SLOW_SECONDS` on the sandbox clock
:data:`NEVER_REFERENCE`             is picked up and stays ``processing`` for ever
:data:`EXPIRE_REFERENCE`            is never picked up, and ends ``expired`` after
                                    ``job_expiry``
=================================== ===========================================================

Every other reference is an ordinary job: it completes, or fails the way a till would (an
inactive article, table, Sales Point or payment method; a wrong amount; an order already paid).
"""

from __future__ import annotations

import math
from typing import Final, final

import attrs

__all__ = [
    "EXPIRE_REFERENCE",
    "FAILURE_CODES",
    "NEVER_REFERENCE",
    "SLOW_REFERENCE",
    "SLOW_SECONDS",
    "Behaviour",
    "behaviour",
    "fail_reference",
]

_PREFIX: Final = "sandbox:"

FAILURE_CODES: Final = (
    "no_active_day",
    "not_fiscalised",
    "sales_point_offline",
    "sales_point_inactive",
    "table_inactive",
    "article_inactive",
    "payment_method_inactive",
    "order_not_found",
    "order_already_paid",
    "amount_mismatch",
)
"""The failure codes the API documents; an unknown code is a failure all the same."""

SLOW_REFERENCE: Final = "sandbox:slow"
"""A job that completes, but only after :data:`SLOW_SECONDS` on the sandbox's clock."""

NEVER_REFERENCE: Final = "sandbox:never"
"""A job that is picked up and never finishes."""

EXPIRE_REFERENCE: Final = "sandbox:expire"
"""A job no Sales Point picks up: it ends ``expired`` after the sandbox's ``job_expiry``."""

SLOW_SECONDS: Final = 600.0
"""How long a :data:`SLOW_REFERENCE` job takes (use a ``FakeClock`` to spend no real time)."""


def fail_reference(code: str, *, tag: str | None = None) -> str:
    """The reference of a job that fails with ``code`` (``tag`` keeps it unique)."""
    if not code or "/" in code:
        raise ValueError(f"a failure code is a non-empty word without '/', got {code!r}")
    return f"{_PREFIX}fail:{code}" + ("" if tag is None else f"/{tag}")


@final
@attrs.frozen
class Behaviour:
    """What a magic reference asks of its job (pure)."""

    fail: str | None = None
    """The code to fail with, if any."""
    pickup: float | None = None
    """Seconds until the job is picked up (``math.inf``: never), or None for the usual."""
    done: float | None = None
    """Seconds until it ends (``math.inf``: never), or None for the usual."""


def behaviour(reference: object) -> Behaviour | None:
    """The behaviour a reference asks for, or None for an ordinary reference."""
    if not isinstance(reference, str) or not reference.startswith(_PREFIX):
        return None
    word = reference.partition("/")[0]
    if word == SLOW_REFERENCE:
        return Behaviour(pickup=SLOW_SECONDS / 2, done=SLOW_SECONDS)
    if word == NEVER_REFERENCE:
        return Behaviour(done=math.inf)
    if word == EXPIRE_REFERENCE:
        return Behaviour(pickup=math.inf, done=math.inf)
    kind, _, code = word.removeprefix(_PREFIX).partition(":")
    if kind == "fail" and code:
        return Behaviour(fail=code)
    return None
