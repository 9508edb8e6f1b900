"""The sandbox's tenants and who may read them: tokens, DRF's token authentication, rights.

Each seed gives three tokens: tenant A's, tenant B's, and a restricted one that reads tenant A
without the right to receipts, reports and job requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Final, final

from aiohttp import web

from ._answers import detail
from ._cursor import Collection, Item
from ._jobs import JobBook
from ._selection import SPECS, key_for
from ._tenant_data import TenantData

__all__ = ["Tenant", "Tenants", "tokens"]

_CHALLENGE: Final = {"WWW-Authenticate": "Token"}


def tokens(seed: int) -> tuple[str, str, str]:
    """The tokens of a seed: tenant A, tenant B, restricted."""

    def one(label: str) -> str:
        return hashlib.sha1(f"bessa-sandbox:{seed}:{label}".encode()).hexdigest()

    return one("tenant-a"), one("tenant-b"), one("restricted")


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
    """Tokens to tenants, and the ``Authorization`` header read the way DRF reads it."""

    def __init__(self, seed: int, primary: Tenant, other: Tenant) -> None:
        token, other_token, restricted_token = tokens(seed)
        self.primary = primary
        """Tenant A: what the first token (and the restricted one) reads."""
        self._by_token: dict[str, tuple[Tenant, bool]] = {
            token: (primary, False),
            other_token: (other, False),
            restricted_token: (primary, True),
        }

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
        found = self._by_token.get(parts[1])
        if found is None:
            return detail(401, "Invalid token.", _CHALLENGE)
        return found

    def name_of(self, header: str | None) -> str | None:
        """Whom a header names for the request log: a tenant, ``"invalid"``, or None if absent."""
        if not header:
            return None
        parts = header.split()
        token = parts[1] if len(parts) == 2 and parts[0].lower() == "token" else ""
        found = self._by_token.get(token)
        return found[0].data.name if found else "invalid"
