"""Where ``BessaClient()`` finds its token and base URL: argument first, then environment."""

from __future__ import annotations

import pytest

from bessa_async import DEFAULT_BASE_URL, BessaClient, ConfigurationError
from bessa_async.testing import FakeClock, Sandbox


async def test_a_client_built_from_the_environment_alone_talks_to_its_base_url(
    sandbox: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BESSA_TOKEN and BESSA_BASE_URL together: a staging token goes to staging only."""
    monkeypatch.setenv("BESSA_TOKEN", sandbox.token)
    monkeypatch.setenv("BESSA_BASE_URL", sandbox.url)
    async with BessaClient(clock=clock, sleep=clock.sleep) as client:
        assert client.base_url == sandbox.url
        await client.request("GET", "articles/", params={"limit": 1})
    assert [r.path for r in sandbox.requests] == ["articles/"]


async def test_the_argument_wins_over_the_environment(
    sandbox: Sandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit base_url= is used even when BESSA_BASE_URL names another API."""
    monkeypatch.setenv("BESSA_BASE_URL", "https://staging.example/v1/public/")
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
    ) as client:
        assert client.base_url == sandbox.url
        await client.request("GET", "articles/", params={"limit": 1})
    assert len(sandbox.requests) == 1


def test_without_either_the_client_uses_the_public_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """No argument and no (or an empty) BESSA_BASE_URL: the documented default."""
    monkeypatch.delenv("BESSA_BASE_URL", raising=False)
    assert BessaClient("t0k3n").base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("BESSA_BASE_URL", "")
    assert BessaClient("t0k3n").base_url == DEFAULT_BASE_URL


def test_an_unsafe_base_url_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BESSA_BASE_URL is held to the same rules as the argument, and the message names it."""
    monkeypatch.setenv("BESSA_BASE_URL", "http://api.example.com/v1/public/")
    with pytest.raises(ConfigurationError, match=r"BESSA_BASE_URL.*plain http"):
        BessaClient("t0k3n")
