"""Type-checked, never run: the public API as users write it (mypy --strict checks this)."""

from __future__ import annotations

from typing import Any, assert_type

from bessa_async import BessaClient, RetryPolicy, Timeout


async def usage() -> None:
    async with BessaClient("token", timeout=Timeout(total=30), retry=RetryPolicy()) as client:
        assert_type(client, BessaClient)
        page = await client.request("GET", "articles/", params={"limit": 10})
        assert_type(page, Any)
        await client.request("GET", "articles/", timeout=5, retry=RetryPolicy.disabled())
