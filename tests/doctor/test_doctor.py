"""The doctor: no differences on the sandbox, every drift difference and nothing else, the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from bessa_async import Article, BessaClient, Receipt, SalesReport, Table
from bessa_async._cli.app import main
from bessa_async._doctor import inspect_items, page_facts, schema_differences
from bessa_async.doctor import Difference, DoctorReport
from bessa_async.testing import Drift, FakeClock, Fault, Sandbox

SANDBOX = ["--sandbox", "--sandbox-receipts", "300"]

DRIFT_DIFFERENCES = {
    ("path", "tables", None, "table-plans/"),
    ("missing_field", "receipts", "total", None),
    ("unknown_field", "receipts", "total_gross", None),
    ("unknown_field", "receipts", "lines[].course", None),
    ("unknown_field", "articles", "allergens", None),
    ("next_form", "pages", "next", "cursor"),
    ("unknown_word", "jobs", "status", "queued"),
}
"""What Sandbox(drift=True) changes, as the doctor must name it: kind, resource, field, value."""


def _found(report: DoctorReport) -> set[tuple[str, str, str | None, str | None]]:
    return {(d.kind, d.resource, d.field, d.value) for d in report.differences}


@pytest_asyncio.fixture
async def drifted() -> AsyncIterator[Sandbox]:
    """A small sandbox in drift mode."""
    async with Sandbox(receipts=300, drift=True) as sb:
        yield sb


def _client(sandbox: Sandbox, clock: FakeClock, **options: Any) -> BessaClient:
    return BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep, **options
    )


# --- against the sandbox ---------------------------------------------------------------------


async def test_doctor_finds_no_difference_on_the_sandbox(
    client: BessaClient, sandbox: Sandbox
) -> None:
    """The sandbox is the library's model: every check passes and nothing differs."""
    report = await client.doctor()
    assert report.ok, report.differences
    assert report.token_accepted
    assert set(report.companies) == {c["name"] for c in sandbox.data.companies}
    assert [r.status for r in report.resources] == [200] * 14
    assert all(r.count and r.next_form in ("url", None) for r in report.resources[:-1])
    assert [f.ok for f in report.filters] == [True, True]
    assert report.schema.found_at == "docs/?format=openapi"
    assert "table-plans/" not in report.schema.paths
    assert "tables/" in report.schema.paths
    assert report.jobs is not None
    assert report.jobs.status == 200
    assert report.notes == ()
    assert report.errors == ()


async def test_doctor_is_read_only_and_gentle(client: BessaClient, sandbox: Sandbox) -> None:
    """Only GETs, at most two items a page, about two dozen requests, and no job written."""
    await client.doctor()
    assert {r.method for r in sandbox.requests} == {"GET"}
    assert all(r.body == b"" for r in sandbox.requests)
    limits = [int(v) for r in sandbox.requests for k, v in r.query if k == "limit"]
    assert limits
    assert max(limits) <= 2
    assert len(sandbox.requests) <= 30
    assert [r.path for r in sandbox.requests if r.path.startswith("requests/")] == [
        "requests/orders/"
    ]
    assert sandbox.jobs("order") == []
    assert sandbox.jobs("payment") == []


async def test_filter_check_sends_a_plus_two_offset(client: BessaClient, sandbox: Sandbox) -> None:
    """The time filters travel with +02:00 (as %2B) and the window selects its anchor item."""
    report = await client.doctor()
    sent = [f.sent for f in report.filters]
    assert all(s is not None and s.endswith("+02:00") for s in sent)
    raw = [r.raw_query for r in sandbox.requests if "timestamp__gte" in r.raw_query]
    assert raw
    assert "%2B02:00" in raw[0]
    assert all(f.items >= 1 for f in report.filters)


async def test_doctor_reports_every_drift_difference_and_nothing_else(
    drifted: Sandbox, clock: FakeClock
) -> None:
    """Drift mode's renamed field, unknown fields, moved path, cursors and job word, exactly."""
    async with _client(drifted, clock) as client:
        report = await client.doctor()
    assert _found(report) == DRIFT_DIFFERENCES
    assert not report.ok
    assert report.errors == ()
    by_kind = {d.kind: d for d in report.differences}
    assert (
        by_kind["path"].fix == 'paths={"tables": "table-plans/"} or BESSA_PATHS=tables=table-plans/'
    )
    assert not by_kind["path"].handled
    assert not by_kind["missing_field"].handled
    assert "perhaps renamed to 'total_gross'" in by_kind["missing_field"].detail
    assert "never success" in (by_kind["unknown_word"].fix or "")
    unknown = {d.field: d.fix for d in report.differences if d.kind == "unknown_field"}
    assert unknown["allergens"] == "kept: article.extra['allergens']"
    assert unknown["lines[].course"] == "kept: receipt.lines[i].extra['course']"
    # The needs-a-fix differences come first; each resource finding holds its own.
    assert [d.handled for d in report.differences[:2]] == [False, False]
    tables = next(r for r in report.resources if r.name == "tables")
    assert tables.status == 404
    assert [d.kind for d in tables.differences] == ["path"]
    assert report.jobs is not None
    assert report.jobs.statuses == ("queued",)


async def test_the_doctors_fixes_work(drifted: Sandbox, clock: FakeClock) -> None:
    """paths= from the suggestion makes tables readable; unknown fields are in .extra."""
    async with _client(drifted, clock, paths={"tables": "table-plans/"}) as client:
        report = await client.doctor()
        assert _found(report) == DRIFT_DIFFERENCES - {("path", "tables", None, "table-plans/")}
        tables = await client.tables.list().collect()
        assert len(tables) == len(drifted.data.tables)
        assert isinstance(tables[0], Table)
        article = await client.articles.list().first()
        assert isinstance(article, Article)
        assert article.extra["allergens"] == ["A", "G"]
        row = await client.resource("receipts/").list(limit=1, type="invoice").first()
        assert row is not None
        assert Decimal(row["total_gross"]) > 0


async def test_drift_without_a_schema_still_reports_the_moved_path(
    drifted: Sandbox, clock: FakeClock
) -> None:
    """No schema: the 404 has a generic fix, a note lists the paths tried, nothing else."""
    drifted.inject(Fault.status(404), path="docs/")
    async with _client(drifted, clock) as client:
        report = await client.doctor()
    assert report.schema.found_at is None
    assert len(report.schema.tried) == 6
    assert ("path", "tables", None, "404") in _found(report)
    assert _found(report) - {("path", "tables", None, "404")} == DRIFT_DIFFERENCES - {
        ("path", "tables", None, "table-plans/")
    }
    assert any(note.startswith("no OpenAPI schema found") for note in report.notes)


async def test_a_misread_offset_is_a_filter_difference(
    client: BessaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API that reads +02:00 as UTC selects another window: the doctor says so."""
    send = client.request

    async def misreading(method: str, path: str, **options: Any) -> Any:
        params = dict(options.pop("params") or {})
        for name, value in params.items():
            if name.startswith("timestamp__") and isinstance(value, datetime):
                params[name] = value.replace(tzinfo=UTC)  # the wall time kept, the offset lost
        return await send(method, path, params=params, **options)

    monkeypatch.setattr(client, "request", misreading)
    report = await client.doctor()
    assert [f.ok for f in report.filters] == [False, True]
    assert _found(report) == {("filter", "receipts", "timestamp__gte", report.filters[0].sent)}
    assert "UTC" in (report.differences[0].fix or "")


async def test_a_refused_token_is_an_error_not_an_exception(sandbox: Sandbox) -> None:
    """401 ends the run at once with an error; the token appears nowhere in the report."""
    token = "f" * 40
    async with BessaClient(token, base_url=sandbox.url) as client:
        report = await client.doctor()
    assert not report.token_accepted
    assert not report.ok
    assert report.errors == ("the token was refused (401): check BESSA_TOKEN or --token",)
    assert len(sandbox.requests) == 1
    assert token not in json.dumps(report.to_dict())


async def test_a_restricted_token_gets_notes_not_differences(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """403s are facts about the token: noted, and the rest still matches."""
    async with BessaClient(
        sandbox.restricted_token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
    ) as client:
        report = await client.doctor()
    assert report.ok
    forbidden = {r.name for r in report.resources if r.status == 403}
    assert forbidden == {"receipts", "closings", "sales_report"}
    assert sum("answered 403" in note for note in report.notes) == 4  # and the job list
    assert report.filters[0].ok is None
    assert report.filters[1].ok is True


async def test_server_errors_are_errors(sandbox: Sandbox, clock: FakeClock) -> None:
    """A resource that keeps failing with 503 is not checked and makes the run an error."""
    sandbox.inject(Fault.status(503), path="users/")
    async with BessaClient(
        sandbox.token, base_url=sandbox.url, clock=clock, sleep=clock.sleep
    ) as client:
        report = await client.doctor()
    assert report.differences == ()
    assert len(report.errors) == 1
    assert report.errors[0].startswith("users: users/")


async def test_report_to_dict_is_json(drifted: Sandbox, clock: FakeClock) -> None:
    """to_dict() is plain JSON data with the findings and an ok flag."""
    async with _client(drifted, clock) as client:
        data = (await client.doctor()).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is False
    assert data["token_accepted"] is True
    assert {d["kind"] for d in data["differences"]} >= {"path", "unknown_field"}
    assert data["resources"][0]["name"] == "companies"


# --- the pure part ------------------------------------------------------------------------------


def test_inspect_items_names_field_paths_and_values() -> None:
    """Bad values, unknown words, unknown and missing fields, each with its field path."""
    base = {"id": "0b2f1c3e-5d6a-4b7c-8d9e-0f1a2b3c4d5e", "type": "invoice"}
    items = [
        {
            **base,
            "timestamp": "2026-06-15T15:30:00Z",
            "total": 23.4,
            "payments": [{"type": "crypto", "amount": "1.00", "fee": "0.01"}],
        },
        {**base, "timestamp": "2026-06-15T15:31:00", "total": "1.00"},
    ]
    found = {
        (d.kind, d.field): d
        for d in inspect_items(Receipt, items, resource="receipts", path="receipts/")
        if d.kind != "missing_field"  # the items are short on purpose
    }
    assert set(found) == {
        ("bad_value", "total"),
        ("bad_value", "timestamp"),
        ("unknown_word", "payments[].type"),
        ("unknown_field", "payments[].fee"),
    }
    assert found[("bad_value", "total")].value == "23.4"
    assert "float 23.4 refused" in found[("bad_value", "total")].detail
    assert "without an offset" in found[("bad_value", "timestamp")].detail
    assert found[("unknown_word", "payments[].type")].value == "crypto"


def test_inspect_items_missing_fields() -> None:
    """A required field absent anywhere is a problem; an optional one only if always absent."""
    items = [{"start": "2026-06-15T00:00:00Z", "end": "2026-06-16T00:00:00Z", "receipts": 3}] * 2
    found = inspect_items(SalesReport, items, resource="sales_report", path="reports/sales/")
    missing = {d.field: d.handled for d in found if d.kind == "missing_field"}
    assert missing == {
        "gross": False,
        "net": True,
        "tip": True,
        "by_tax_rate": True,
        "by_payment_method": True,
        "by_article_group": True,
    }
    assert {d.kind for d in found} == {"missing_field"}


def test_page_facts() -> None:
    """count presence, the form of next, and not-a-page."""
    assert page_facts({"count": 3, "next": "https://x/v1/?cursor=a", "results": []}) == (
        True,
        "url",
        [],
    )
    assert page_facts({"next": "cD0y", "results": [1]}) == (False, "cursor", [1])
    assert page_facts({"count": None, "next": None, "results": []}) == (False, None, [])
    assert page_facts([{"id": 1}]) == (None, None, None)


SWAGGER: Mapping[str, Any] = {
    "swagger": "2.0",
    "basePath": "/v1/public",
    "paths": {
        "/companies/": {"get": {"responses": {"200": {"schema": {"$ref": "#/d/Page"}}}}},
        "/companies/{id}/": {"get": {"responses": {"200": {"schema": {"$ref": "#/d/C"}}}}},
        "/vouchers/": {"get": {"responses": {}}},
        "/table-plan/": {"get": {"responses": {}}},
        "/requests/orders/": {
            "get": {
                "responses": {
                    "200": {
                        "schema": {
                            "type": "array",
                            "items": {"properties": {"status": {"enum": ["pending", "held"]}}},
                        }
                    }
                }
            }
        },
    },
    "d": {
        "Page": {"properties": {"results": {"type": "array", "items": {"$ref": "#/d/C"}}}},
        "C": {"allOf": [{"properties": {"id": {}, "name": {}, "vat": {}}}]},
    },
}


def test_schema_differences_on_a_swagger_document() -> None:
    """Swagger 2 with basePath: unmodelled paths and fields, job words, a near-name suggestion."""
    from bessa_async import Company, Job

    found, paths = schema_differences(
        SWAGGER,
        base_path="/v1/public/",
        modelled={
            "companies/": ("companies", Company),
            "tables/": ("tables", Table),
            "requests/orders/": ("jobs", Job),
        },
        not_found=["tables"],
    )
    assert paths == ("companies/", "requests/orders/", "table-plan/", "vouchers/")
    assert {(d.kind, d.resource, d.field, d.value) for d in found} == {
        ("path", "tables", None, "table-plan/"),
        ("schema_path", "schema", None, "vouchers/"),
        ("schema_field", "companies", "vat", None),
        ("unknown_word", "jobs", "status", "held"),
    }


def test_difference_keys_merge_schema_and_sample_findings() -> None:
    """A field seen in items and in the schema is one difference."""
    sampled = Difference(kind="unknown_field", resource="articles", field="x", detail="")
    schema = Difference(kind="schema_field", resource="articles", field="x", detail="")
    assert sampled.key == schema.key


# --- a drift of one's own ---------------------------------------------------------------------


async def test_a_custom_drift(clock: FakeClock) -> None:
    """Drift(...) of one's own: only what it names differs."""
    drift = Drift(added={"companies": {"country": "AT"}}, bare_cursors=False)
    async with Sandbox(receipts=50, drift=drift) as sb, _client(sb, clock) as client:
        report = await client.doctor()
    assert _found(report) == {("unknown_field", "companies", "country", None)}


# --- bessa doctor ------------------------------------------------------------------------------


def test_cli_doctor_exits_0_when_everything_matches(capsys: pytest.CaptureFixture[str]) -> None:
    """A readable table, and exit 0 against the sandbox."""
    assert main([*SANDBOX, "doctor"]) == 0
    out = capsys.readouterr().out
    assert "resource" in out
    assert "receipts/" in out
    assert "everything checked matches the library's model (exit 0)" in out


def test_cli_doctor_exits_1_on_differences(capsys: pytest.CaptureFixture[str]) -> None:
    """Drift mode: exit 1, each difference with its fix; the token is never printed."""
    assert main([*SANDBOX, "--sandbox-drift", "doctor"]) == 1
    captured = capsys.readouterr()
    assert "7 differences (2 need a fix)" in captured.out
    assert 'paths={"tables": "table-plans/"}' in captured.out
    token = Sandbox(receipts=1).token  # same seed, same token
    assert token not in captured.out + captured.err


def test_cli_doctor_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the report's to_dict() for a bug report."""
    assert main([*SANDBOX, "--sandbox-drift", "doctor", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"base_url", "version", "resources", "differences", "errors", "ok"}
    assert {
        (d["kind"], d["resource"], d["field"], d["value"]) for d in data["differences"]
    } == DRIFT_DIFFERENCES
    assert all(
        set(d) == {"kind", "resource", "detail", "field", "value", "handled", "fix"}
        for d in data["differences"]
    )


def test_cli_doctor_exits_2_on_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused token and a bad BESSA_PATHS both exit 2 with a message."""
    assert main([*SANDBOX, "--token", "f" * 40, "doctor"]) == 2
    assert "the token was refused (401)" in capsys.readouterr().out
    monkeypatch.setenv("BESSA_PATHS", "nonsense")
    assert main([*SANDBOX, "doctor"]) == 2
    assert "error: ConfigurationError: BESSA_PATHS" in capsys.readouterr().err


# --- throttled everywhere -----------------------------------------------------------------------


async def test_an_api_throttling_everything_could_not_be_checked(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """429 on every read, after the client waited as told: no verdict on the token, no
    difference, one error saying to try later; nothing more is asked of a throttled API."""
    sandbox.inject(Fault.rate_limit(1))
    async with _client(sandbox, clock) as client:
        report = await client.doctor()
        sent = len(sandbox.requests)
    assert not report.token_accepted
    assert report.differences == ()
    [error] = report.errors
    assert "429" in error
    assert "try again later" in error
    assert {r.path for r in sandbox.requests} == {"companies/"}  # the first read only
    assert sent == len(sandbox.requests)


async def test_a_throttled_resource_is_an_error_not_a_difference(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    """One resource that stays throttled: not checked (an error), never a path difference."""
    sandbox.inject(Fault.rate_limit(1), path="users/")
    async with _client(sandbox, clock) as client:
        report = await client.doctor()
    assert report.token_accepted
    assert report.differences == ()
    [error] = report.errors
    assert error.startswith("users: users/")
    assert "try again later" in error


async def test_bessa_doctor_exits_2_when_every_read_is_throttled(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """bessa doctor against a throttling API: exit 2 (could not check), never "token accepted"."""
    sandbox.inject(Fault.rate_limit(0))
    argv = ["--base-url", sandbox.url, "--token", sandbox.token, "doctor"]
    assert await asyncio.to_thread(main, argv) == 2
    out = capsys.readouterr().out
    assert "token      accepted" not in out
    assert "429" in out
