"""A sandbox with many tenants: one token each, built on first use, throttled per token."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp
import pytest
from cli_process import running_cli

from bessa_async import BessaClient
from bessa_async.testing import FakeClock, Sandbox


async def _sync(sandbox: Sandbox, token: str) -> tuple[list[str], list[str]]:
    """Receipt ids through a changes feed and article ids through a listing, with ``token``."""
    async with BessaClient(token, base_url=sandbox.url) as client:
        receipts = [str(r.id) async for batch in client.receipts.changes() for r in batch.items]
        articles = [str(a.id) for a in await client.articles.list().collect()]
    return receipts, articles


async def test_fifty_tenants_each_read_their_own_data() -> None:
    """Fifty tenants of one sandbox, synced concurrently: each token gets exactly what the
    sandbox holds for its tenant, and no two tenants share an id."""
    async with Sandbox(receipts=60, tenants=50) as sandbox:
        assert len(sandbox.tokens) == len(set(sandbox.tokens)) == 50
        assert sandbox.tokens[:2] == (sandbox.token, sandbox.other_token)
        synced = await asyncio.gather(*(_sync(sandbox, token) for token in sandbox.tokens))
        seen: set[str] = set()
        for token, (receipts, articles) in zip(sandbox.tokens, synced, strict=True):
            held_receipts = [r["id"] for r in sandbox.items("receipts", token=token)]
            held_articles = [a["id"] for a in sandbox.items("articles", token=token)]
            assert sorted(receipts) == sorted(held_receipts)
            assert len(receipts) == len(set(receipts))
            assert articles == held_articles
            assert seen.isdisjoint(receipts + articles)
            seen.update(receipts + articles)
        names = {r.authenticated_as for r in sandbox.requests}
        assert names == {"tenant-a", "tenant-b"} | {f"tenant-{n}" for n in range(3, 51)}


async def test_tenant_a_and_b_stay_what_they_were() -> None:
    """More tenants change nothing about the first two: same tokens, same data."""
    async with Sandbox(receipts=30) as two, Sandbox(receipts=30, tenants=5) as five:
        assert two.tokens == five.tokens[:2] == Sandbox.tokens_for(0)[:2]
        assert two.data.receipts == five.data.receipts
        assert two.other_data.receipts == five.other_data.receipts


async def test_a_tenant_is_built_on_first_use_only() -> None:
    """Tenants after B are generated when their token is first used, not before; an unknown
    token builds nothing and is DRF's 401."""
    async with Sandbox(receipts=30, tenants=4) as sandbox, aiohttp.ClientSession() as http:
        third, fourth = sandbox.tokens[2:]
        built = [sandbox.tenant_built(token) for token in sandbox.tokens]
        assert built == [True, True, False, False]
        for token, status in ((third, 200), ("0" * 40, 401)):
            headers = {"Authorization": f"Token {token}"}
            async with http.get(sandbox.url + "companies/", headers=headers) as resp:
                assert resp.status == status
        assert sandbox.tenant_built(third)
        assert not sandbox.tenant_built(fourth)
        assert [r.authenticated_as for r in sandbox.requests] == ["tenant-3", "invalid"]


async def test_a_tenant_is_the_same_on_every_run_of_a_seed() -> None:
    """A lazily built tenant comes from the seed: same seed, same data; another seed, other."""
    async with Sandbox(receipts=30, tenants=3) as one, Sandbox(receipts=30, tenants=3) as two:
        assert one.items("receipts", token=one.tokens[2]) == two.items(
            "receipts", token=two.tokens[2]
        )
    async with Sandbox(receipts=30, tenants=3, seed=1) as other:
        assert other.tokens[2] != one.tokens[2]
        assert other.items("receipts", token=other.tokens[2]) != one.items(
            "receipts", token=one.tokens[2]
        )
        # Tenant B's small layout: a tenth of the receipts, one company.
        assert len(other.items("receipts", token=other.tokens[2])) == 3
        assert len(other.items("companies", token=other.tokens[2])) == 1


async def test_the_throttle_keeps_a_window_per_token() -> None:
    """As DRF's UserRateThrottle: one tenant using up its rate does not throttle another."""
    clock = FakeClock()
    async with (
        Sandbox(receipts=10, tenants=3, throttle="2/minute", clock=clock) as sandbox,
        aiohttp.ClientSession() as http,
    ):

        async def status(token: str) -> int:
            headers = {"Authorization": f"Token {token}"}
            async with http.get(sandbox.url + "companies/", headers=headers) as resp:
                return resp.status

        third = sandbox.tokens[2]
        assert [await status(third) for _ in range(3)] == [200, 200, 429]
        assert [await status(sandbox.other_token) for _ in range(2)] == [200, 200]
        assert await status(sandbox.token) == 200
        assert sandbox.throttled == 1
        clock.advance(60)
        assert await status(third) == 200


@pytest.mark.parametrize("tenants", [0, -1, True, 2.0])
def test_a_bad_tenant_count_is_refused(tenants: object) -> None:
    with pytest.raises(ValueError, match="tenants must be a whole number >= 1"):
        Sandbox(tenants=tenants)  # type: ignore[arg-type]


async def test_a_single_tenant_serves_only_tenant_a() -> None:
    async with Sandbox(receipts=10, tenants=1) as sandbox:
        assert sandbox.tokens == (sandbox.token,)
        with pytest.raises(KeyError):
            sandbox.items("receipts", token=sandbox.other_token)


async def read_until(stream: asyncio.StreamReader | None, prefix: str) -> str:
    """The first line of ``stream`` starting with ``prefix``; the lines before it are skipped."""
    assert stream is not None
    while line := (await stream.readline()).decode():
        if line.startswith(prefix):
            return line
    raise AssertionError(f"the output ended before a line starting with {prefix!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_bessa_sandbox_tenants_prints_and_lists_the_tokens() -> None:
    """bessa sandbox --tenants 5: five tokens at start-up, the same at GET /_sandbox/tenants,
    the unused tenants not built yet, and each token reads its own tenant."""
    port = await asyncio.to_thread(_free_port)
    argv = ["sandbox", "--port", str(port), "--tenants", "5", "--receipts", "20"]
    async with running_cli(*argv) as process, aiohttp.ClientSession() as http:
        banner = await read_until(process.stdout, "bessa sandbox listening on ")
        url = banner.removeprefix("bessa sandbox listening on ").strip()
        printed = [(await read_until(process.stdout, "  token (tenant A):")).split()[-1]]
        printed.append((await read_until(process.stdout, "  token (tenant B):")).split()[-1])
        for number in range(3, 6):
            line = await read_until(process.stdout, f"  token (tenant {number}):")
            printed.append(line.split()[-1])
        tenants_url = f"http://127.0.0.1:{port}/_sandbox/tenants"
        async with http.get(tenants_url) as resp:
            listed = (await resp.json())["tenants"]
        assert [t["token"] for t in listed] == printed
        assert [t["name"] for t in listed] == ["tenant-a", "tenant-b"] + [
            f"tenant-{n}" for n in range(3, 6)
        ]
        assert [t["built"] for t in listed] == [True, True, False, False, False]
        companies = []
        for token in printed:
            headers = {"Authorization": f"Token {token}"}
            async with http.get(url + "companies/", headers=headers) as resp:
                assert resp.status == 200
                companies.append(tuple(c["id"] for c in (await resp.json())["results"]))
        assert len(set(companies)) == 5
        async with http.get(tenants_url) as resp:
            assert all(t["built"] for t in (await resp.json())["tenants"])
        process.send_signal(signal.SIGINT)
        assert await process.wait() == 0
