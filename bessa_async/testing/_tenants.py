"""The sandbox's tenants and who may read them: tokens, DRF's token authentication, rights.

Each seed gives three tokens: tenant A's, tenant B's, and a restricted one that reads tenant A
without the right to receipts, reports and job requests. A sandbox with more tenants adds one
token per tenant from the third on (``tenant-3``, ``tenant-4``, ...), each derived from the seed;
such a tenant is built the first time its token is used, so a sandbox of many tenants costs only
those a test reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Final, final

from aiohttp import web

from ._answers import detail
from ._cursor import Collection, Item
from ._jobbook import JobBook
from ._selection import SPECS, key_for
from ._tenant_data import TenantData

__all__ = ["Tenant", "Tenants", "tenant_name", "tenant_tokens", "tokens"]

_CHALLENGE: Final = {"WWW-Authenticate": "Token"}


def _token(seed: int, label: str) -> str:
    return hashlib.sha1(f"bessa-sandbox:{seed}:{label}".encode()).hexdigest()


def tenant_name(number: int) -> str:
    """The name of the tenant ``number`` (from 1) in the request log: ``"tenant-a"``,
    ``"tenant-b"``, then ``"tenant-3"``, ``"tenant-4"``, ..."""
    return {1: "tenant-a", 2: "tenant-b"}.get(number, f"tenant-{number}")


def tokens(seed: int) -> tuple[str, str, str]:
    """The tokens of a seed: tenant A, tenant B, restricted."""
    return _token(seed, tenant_name(1)), _token(seed, tenant_name(2)), _token(seed, "restricted")


def tenant_tokens(seed: int, count: int) -> tuple[str, ...]:
    """The tokens of the first ``count`` tenants of a seed, in order (tenant A's first)."""
    return tuple(_token(seed, tenant_name(number)) for number in range(1, count + 1))


@final
class Tenant:
    """One tenant's served collections (in list order), its job book and lookup tables."""

    def __init__(
        self,
        data: TenantData,
        book: Callable[[Mapping[str, Collection]], JobBook],
        prepare: Callable[[Item], Item] | None = None,
    ) -> None:
        self.data = data
        self.collections: dict[str, Collection] = {
            path: Collection(
                items if prepare is None else map(prepare, items),
                key=key_for(SPECS[path]),
                id_field="id" if items and "id" in items[0] else None,
            )
            for path, items in data.resources().items()
        }
        # Payments add invoices to the served receipts; tills read the served master data.
        self.jobs = jobs = book(self.collections)
        self.collections["requests/orders"] = jobs.jobs["order"]
        self.collections["requests/payments"] = jobs.jobs["payment"]
        self.articles = {a["id"]: a for a in data.articles}
        self.groups = {g["id"]: g for g in data.article_groups}
        self.methods = {m["id"]: m for m in data.payment_methods}


@final
class Tenants:
    """Tokens to tenants, and the ``Authorization`` header read the way DRF reads it.

    Tenants A and B are given; the others are made by ``build`` (called with the tenant's
    number, from 3) when their token first authenticates.
    """

    def __init__(
        self,
        seed: int,
        primary: Tenant,
        other: Tenant,
        *,
        count: int = 2,
        build: Callable[[int], Tenant] | None = None,
    ) -> None:
        self.primary = primary
        """Tenant A: what the first token (and the restricted one) reads."""
        self.tokens = tenant_tokens(seed, count)
        """One token per tenant, in order."""
        self._restricted = tokens(seed)[2]
        self._number = {token: number for number, token in enumerate(self.tokens, start=1)}
        self._built: dict[int, Tenant] = {1: primary, 2: other}
        self._build = build

    def tenant(self, token: str) -> Tenant | None:
        """The tenant a token reads (built now if it was not yet), or None for no such token."""
        if token == self._restricted:
            return self.primary
        number = self._number.get(token)
        if number is None:
            return None
        found = self._built.get(number)
        if found is None:
            if self._build is None:
                raise RuntimeError(f"no way to build {tenant_name(number)}")
            found = self._built[number] = self._build(number)
        return found

    def built(self, token: str) -> bool:
        """Whether the tenant of ``token`` exists yet (a tenant not used is not built)."""
        number = self._number.get(token)
        return token == self._restricted or (number is not None and number in self._built)

    def authenticate(self, header: str | None) -> tuple[Tenant, bool] | web.Response:
        """(tenant, restricted) for a valid ``Token`` header, else DRF's 401 answer."""
        parts = (header or "").split()
        if not parts or parts[0].lower() != "token":
            return detail(401, "Authentication credentials were not provided.", _CHALLENGE)
        if len(parts) == 1:
            return detail(401, "Invalid token header. No credentials provided.", _CHALLENGE)
        if len(parts) > 2:
            text = "Invalid token header. Token string should not contain spaces."
            return detail(401, text, _CHALLENGE)
        found = self.tenant(parts[1])
        if found is None:
            return detail(401, "Invalid token.", _CHALLENGE)
        return found, parts[1] == self._restricted

    def name_of(self, header: str | None) -> str | None:
        """Whom a header names for the request log: a tenant, ``"invalid"``, or None if absent.

        Naming builds no tenant: a request the faults answer early never needs its data.
        """
        if not header:
            return None
        parts = header.split()
        token = parts[1] if len(parts) == 2 and parts[0].lower() == "token" else ""
        if token == self._restricted:
            return self.primary.data.name
        number = self._number.get(token)
        return "invalid" if number is None else tenant_name(number)
