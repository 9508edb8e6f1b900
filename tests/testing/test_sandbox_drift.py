"""The sandbox's drift mode and its API schema at docs/?format=openapi."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bessa_async import AuthenticationError, BessaClient, DecodeError, NotFoundError
from bessa_async.testing import DEFAULT_DRIFT, Sandbox
from bessa_async.testing.__main__ import _parser as sandbox_parser
from bessa_async.testing._drift import DRIFT_JOB_REFERENCE


@pytest_asyncio.fixture
async def drifted() -> AsyncIterator[Sandbox]:
    """A small sandbox in drift mode."""
    async with Sandbox(receipts=300, drift=True) as sb:
        yield sb


def test_drift_rewrites_items_without_touching_the_data() -> None:
    """Renames and nested additions apply to a copy; moved paths route both ways."""
    item = {"total": "1.00", "lines": [{"total": "1.00"}]}
    shown = DEFAULT_DRIFT.item("receipts", item)
    assert shown == {"total_gross": "1.00", "lines": [{"total": "1.00", "course": 1}]}
    assert item == {"total": "1.00", "lines": [{"total": "1.00"}]}
    assert DEFAULT_DRIFT.route("tables/") is None
    assert DEFAULT_DRIFT.route("table-plans/abc/") == "tables/abc/"
    assert DEFAULT_DRIFT.route("tables-extra/") == "tables-extra/"


async def test_sandbox_serves_a_schema_for_token_holders(drifted: Sandbox) -> None:
    """docs/ needs a token; ?format=openapi is OpenAPI 3 reflecting the drift."""
    async with BessaClient(drifted.token, base_url=drifted.url) as client:
        doc = await client.request("GET", "docs/", params={"format": "openapi"})
    assert doc["openapi"].startswith("3.")
    assert "/v1/public/table-plans/" in doc["paths"]
    assert "/v1/public/tables/" not in doc["paths"]
    receipt = doc["components"]["schemas"]["Receipt"]["properties"]
    assert "total_gross" in receipt
    assert "total" not in receipt
    assert "queued" in doc["components"]["schemas"]["Order"]["properties"]["status"]["enum"]
    async with BessaClient("f" * 40, base_url=drifted.url) as stranger:
        with pytest.raises(AuthenticationError):
            await stranger.request("GET", "docs/", params={"format": "openapi"})


async def test_docs_page_and_plain_schema(sandbox: Sandbox) -> None:
    """Without drift the schema names the library's paths; plain docs/ is an HTML page."""
    async with BessaClient(sandbox.token, base_url=sandbox.url) as client:
        doc = await client.request("GET", "docs/", params={"format": "openapi"})
        with pytest.raises(DecodeError):
            await client.request("GET", "docs/")  # HTML, not JSON
    assert "/v1/public/tables/{id}/" in doc["paths"]
    assert "/v1/public/stock-levels/{id}/" not in doc["paths"]
    assert set(doc["components"]["schemas"]["Receipt"]["required"]) >= {"id", "total"}
    assert "queued" not in doc["components"]["schemas"]["Order"]["properties"]["status"]["enum"]


async def test_drifted_answers(drifted: Sandbox) -> None:
    """Bare cursors, the moved path (detail too), the renamed field, the queued job."""
    async with BessaClient(drifted.token, base_url=drifted.url) as client:
        page = await client.request("GET", "table-plans/", params={"limit": 2})
        assert "://" not in page["next"]
        table = page["results"][0]
        assert await client.request("GET", f"table-plans/{table['id']}/") == table
        with pytest.raises(NotFoundError):
            await client.request("GET", f"tables/{table['id']}/")
        receipt = (await client.request("GET", "receipts/", params={"limit": 1}))["results"][0]
        assert "total" not in receipt
        assert receipt["total_gross"] == drifted.data.receipts[0]["total"]
        jobs = await client.request("GET", "requests/orders/")
    assert [(j["reference"], j["status"]) for j in jobs["results"]] == [
        (DRIFT_JOB_REFERENCE, "queued")
    ]
    assert "total" in drifted.data.receipts[0]  # the data itself is unchanged


def test_sandbox_command_has_a_drift_switch() -> None:
    """python -m bessa_async.testing --drift turns drift mode on."""
    assert sandbox_parser().parse_args(["--drift"]).drift is True
    assert sandbox_parser().parse_args([]).drift is False
