"""bessa_source: the copy in DuckDB and PostgreSQL equals the API after edits, deletes and late
uploads; the money adds up to the sales report; the token stays out of dlt's files."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import postgres_from

pytest.importorskip("dlt")

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from bessa_async import BessaClient, InvalidTypeError, InvalidValueError
from bessa_async._base.days import business_day
from bessa_async._models.records import Receipt, StockLevel
from bessa_async._registry import NATURAL_KEYS
from bessa_async.dlt import MIRRORED, bessa_source, columns_of
from bessa_async.testing import Fault, Sandbox, ServedPage

T = TypeVar("T")
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"


class Served:
    """A sandbox served by an event loop of its own thread, so that dlt's blocking
    ``pipeline.run`` runs in the test's thread and its async resources on dlt's loop."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.sandbox = self.call(self._start(options))

    async def _start(self, options: dict[str, Any]) -> Sandbox:
        sandbox = Sandbox(**options)
        await sandbox.start()
        return sandbox

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=20)

    def control(self, action: Callable[[], T]) -> T:
        """Run a sandbox control on its loop (the sandbox is not thread-safe)."""

        async def run() -> T:
            return action()

        return self.call(run())

    def close(self) -> None:
        self.call(self.sandbox.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def listed(self, resource: str) -> list[Any]:
        """Everything the API lists of ``resource`` now (soft-deleted items included)."""

        async def read() -> list[Any]:
            sb = self.sandbox
            async with BessaClient(sb.token, base_url=sb.url) as client:
                return [item async for item in getattr(client, resource).list(limit=500)]

        return self.call(read())


@pytest.fixture
def served() -> Iterator[Served]:
    server = Served(receipts=120, soft_deletes=False)
    try:
        yield server
    finally:
        server.close()


def _pipeline(tmp_path: Path, destination: Any, dataset: str = "bessa") -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"bessa_{uuid.uuid4().hex[:8]}",
        destination=destination,
        dataset_name=dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    )


@pytest.fixture(params=["duckdb", "postgres"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> dlt.Pipeline:
    """A pipeline into DuckDB (a file in tmp_path) or into the test PostgreSQL server."""
    if request.param == "duckdb":
        return _pipeline(tmp_path, dlt.destinations.duckdb(str(tmp_path / "copy.duckdb")))
    url = request.getfixturevalue("postgres_url")
    dataset = f"bessa_{uuid.uuid4().hex[:10]}"  # workers share the server
    return _pipeline(tmp_path, dlt.destinations.postgres(url), dataset)


def _rows(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql) or ()]


def _copy(pipeline: dlt.Pipeline, table: str, columns: str) -> list[tuple[Any, ...]]:
    return _rows(pipeline, f"SELECT {columns} FROM {table}")


def _run(pipeline: dlt.Pipeline, served: Served, **options: Any) -> None:
    sb = served.sandbox
    pipeline.run(bessa_source(sb.token, sb.url, **options))


def _receipts_match(pipeline: dlt.Pipeline, served: Served) -> None:
    """The copy's receipts equal the API's: no row missing, stale or twice; lines with them."""
    api = {str(r.id): r for r in served.listed("receipts")}
    rows = _copy(pipeline, "receipts", 'id, updated, total, deleted, "_dlt_id"')
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), "a receipt is in the copy twice"
    assert set(ids) == set(api), "the copy's receipts differ from the API's"
    lines: dict[str, int] = {}
    for (parent,) in _copy(pipeline, "receipts__lines", "_dlt_parent_id"):
        lines[parent] = lines.get(parent, 0) + 1
    for ident, updated, total, deleted, dlt_id in rows:
        receipt = api[ident]
        assert (updated, total, deleted) == (receipt.updated, receipt.total, receipt.deleted)
        assert lines.get(dlt_id, 0) == len(receipt.lines), f"receipt {ident}'s lines"
    assert set(lines) <= {row[4] for row in rows}, "lines of a receipt no longer in the copy"


def _articles_match(pipeline: dlt.Pipeline, served: Served) -> None:
    api = {str(a.id): (a.price, a.updated) for a in served.listed("articles")}
    rows = _copy(pipeline, "articles", "id, price, updated")
    assert len(rows) == len(api)
    assert {row[0]: (row[1], row[2]) for row in rows} == api


def test_every_resource_with_a_feed_is_mirrored_under_its_client_name() -> None:
    """The source's resources are the registry's resources with changes(), named as on the
    client; stock levels are merged on their natural key."""
    source = bessa_source("t" * 40, "http://127.0.0.1:1")
    assert list(source.resources) == list(MIRRORED)
    assert {"receipts", "articles", "closings", "stock_levels"} <= set(MIRRORED)
    levels = source.resources["stock_levels"]
    assert levels.compute_table_schema()["columns"]["article"]["primary_key"]
    assert NATURAL_KEYS["stock_levels"] == ("article", "location")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"resources": "receipts"}, InvalidTypeError),
        ({"resources": ["receipt"]}, InvalidValueError),
        ({"reconcile_every": 0}, InvalidValueError),
        ({"reconcile_every": True}, InvalidValueError),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        bessa_source("t" * 40, "http://127.0.0.1:1", **options)


def test_the_copy_equals_the_api_after_edits_deletes_and_late_uploads(
    served: Served, pipeline: dlt.Pipeline
) -> None:
    """Inserts, edits, outright deletes plus a reconcile, late uploads: after each run the copy
    holds exactly what the API lists, each receipt once, with its lines; column types hold."""
    _run(pipeline, served, resources=["receipts", "articles"])
    _receipts_match(pipeline, served)
    _articles_match(pipeline, served)
    sb = served.sandbox
    receipts = served.listed("receipts")
    article = served.listed("articles")[0]
    served.control(lambda: sb.edit("articles", str(article.id), price="9.99"))
    served.control(lambda: sb.upload_late(count=3, hours_ago=30))
    served.control(lambda: sb.delete("receipts", str(receipts[0].id)))
    _run(pipeline, served, resources=["receipts", "articles"])
    _articles_match(pipeline, served)
    assert _copy(pipeline, "articles", "price")[0][0] is not None
    with pytest.raises(AssertionError, match="differ"):  # removed outright: needs a reconcile
        _receipts_match(pipeline, served)
    _run(pipeline, served, resources=["receipts"], reconcile=True)
    _receipts_match(pipeline, served)
    money = _rows(pipeline, "SELECT total FROM receipts LIMIT 1")[0][0]
    assert isinstance(money, Decimal)
    stamp = _rows(pipeline, "SELECT updated FROM receipts LIMIT 1")[0][0]
    assert isinstance(stamp, datetime)
    assert stamp.utcoffset() == timedelta(0)


def test_reconcile_every_n_runs_removes_what_the_api_removed(
    served: Served, tmp_path: Path
) -> None:
    pipeline = _pipeline(tmp_path, dlt.destinations.duckdb(str(tmp_path / "copy.duckdb")))
    _run(pipeline, served, resources=["articles"], reconcile_every=2)
    gone = served.listed("articles")[0]
    served.control(lambda: served.sandbox.delete("articles", str(gone.id)))
    _run(pipeline, served, resources=["articles"], reconcile_every=2)  # run 2: reconciles
    assert str(gone.id) not in {row[0] for row in _copy(pipeline, "articles", "id")}
    _articles_match(pipeline, served)


def test_soft_deletes_are_kept_by_default_and_removed_with_hard_delete(tmp_path: Path) -> None:
    served = Served(receipts=60, soft_deletes=True)
    try:
        sb = served.sandbox
        kept = _pipeline(tmp_path, dlt.destinations.duckdb(str(tmp_path / "kept.duckdb")))
        hard = _pipeline(tmp_path, dlt.destinations.duckdb(str(tmp_path / "hard.duckdb")))
        for pipeline in (kept, hard):
            _run(pipeline, served, resources=["receipts"], hard_delete=pipeline is hard)
        victim = str(served.listed("receipts")[0].id)
        served.control(lambda: sb.delete("receipts", victim))
        for pipeline in (kept, hard):
            _run(pipeline, served, resources=["receipts"], hard_delete=pipeline is hard)
        _receipts_match(kept, served)
        flagged = _rows(kept, f"SELECT deleted FROM receipts WHERE id = '{victim}'")
        assert flagged[0][0] is not None
        hard_ids = {row[0] for row in _copy(hard, "receipts", "id")}
        assert victim not in hard_ids
        assert hard_ids == {str(r.id) for r in served.listed("receipts") if r.deleted is None}
    finally:
        served.close()


def test_a_days_revenue_in_sql_equals_the_sales_report(
    served: Served, pipeline: dlt.Pipeline
) -> None:
    """SUM(total) over the day's revenue receipts (invoices and cancellations, not deleted)
    equals the sales report's gross, for every business day of the data."""
    _run(pipeline, served, resources=["receipts"])
    sb = served.sandbox

    async def report(start: datetime, end: datetime) -> Decimal:
        async with BessaClient(sb.token, base_url=sb.url) as client:
            return (await client.reports.sales(start=start, end=end)).gross

    days = {r.timestamp.date() for r in served.listed("receipts")}
    assert days
    for day in sorted(days)[:5]:
        start, end = business_day(day)
        (total,) = _rows(
            pipeline,
            "SELECT COALESCE(SUM(total), 0) FROM receipts WHERE type IN ('invoice', "
            f"'cancellation') AND deleted IS NULL AND timestamp >= '{start.isoformat()}' "
            f"AND timestamp < '{end.isoformat()}'",
        )[0]
        assert total == served.call(report(start, end)), day


def _token_is_nowhere(pipeline: dlt.Pipeline, folder: Path, token: str) -> None:
    assert token not in str(pipeline.last_trace)
    assert token not in repr(pipeline.last_trace)
    for path in folder.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    states = _copy(pipeline, "_dlt_pipeline_state", "state")
    assert states
    assert all(token not in str(state) for (state,) in states)


@pytest.mark.parametrize("given", ["argument", "dlt secrets", "BESSA_TOKEN"])
def test_the_token_is_never_in_the_trace_or_the_state(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Given in the code, by dlt's secrets (the environment) or by BESSA_TOKEN, the token is
    masked: not in the printed trace, not in any file of the pipeline's folder (trace.pickle,
    the state), not in the copy."""
    sb = served.sandbox
    pipeline = _pipeline(tmp_path, dlt.destinations.duckdb(str(tmp_path / "copy.duckdb")))
    if given == "argument":
        source = bessa_source(sb.token, sb.url, resources=["tax_rates"])
    else:
        name = "SOURCES__BESSA__TOKEN" if given == "dlt secrets" else "BESSA_TOKEN"
        monkeypatch.setenv(name, sb.token)
        source = bessa_source(base_url=sb.url, resources=["tax_rates"])
    pipeline.run(source)
    assert len(_copy(pipeline, "tax_rates", "id")) == len(served.listed("tax_rates"))
    _token_is_nowhere(pipeline, tmp_path, sb.token)


class MirrorMachine(RuleBasedStateMachine):
    """Random inserts, edits (also between a run's pages), soft or outright deletes, late
    uploads and reruns; after every run with a reconcile the copy equals the API."""

    def __init__(
        self, folder: Path, destination: Callable[[Path], Any], soft_deletes: bool
    ) -> None:
        super().__init__()
        home = folder / uuid.uuid4().hex[:8]
        self.served = Served(receipts=40, soft_deletes=soft_deletes, seed=3)
        self.pipeline = _pipeline(home, destination(home), f"bessa_{home.name}")
        self.ran = False

    @rule(price=st.decimals(min_value=0, max_value=99, places=2))
    def edit_article(self, price: Decimal) -> None:
        sb = self.served.sandbox
        article = self.served.listed("articles")[0]
        self.served.control(lambda: sb.edit("articles", str(article.id), price=str(price)))

    @rule(count=st.integers(min_value=1, max_value=3), hours=st.integers(min_value=1, max_value=48))
    def upload_late(self, count: int, hours: int) -> None:
        sb = self.served.sandbox
        self.served.control(lambda: sb.upload_late(count=count, hours_ago=hours))

    @initialize()
    def first_load(self) -> None:
        self.run()

    @rule()
    def insert_receipt(self) -> None:
        self.served.control(lambda: self.served.sandbox.insert("receipts"))

    @rule(price=st.decimals(min_value=0, max_value=99, places=2))
    def run_while_an_article_is_edited_between_pages(self, price: Decimal) -> None:
        """An edit behind the feed's cursor: this run or the next delivers it."""
        sb = self.served.sandbox
        article = str(self.served.listed("articles")[0].id)  # read on that first page

        def edit(page: ServedPage) -> None:
            if page.resource == "articles" and page.number == 1:
                sb.edit("articles", article, price=str(price))

        self.served.control(lambda: sb.after_page(edit))
        _run(self.pipeline, self.served, resources=["receipts", "articles"], limit=10)
        self.served.control(lambda: sb.after_page(None))
        self.run()

    @rule(pick=st.integers(min_value=0))
    def delete_receipt(self, pick: int) -> None:
        receipts = self.served.listed("receipts")
        if receipts:
            victim = str(receipts[pick % len(receipts)].id)
            self.served.control(lambda: self.served.sandbox.delete("receipts", victim))

    @rule()
    def run(self) -> None:
        _run(self.pipeline, self.served, resources=["receipts", "articles"], reconcile=True)
        self.ran = True
        _receipts_match(self.pipeline, self.served)
        _articles_match(self.pipeline, self.served)

    @invariant()
    def articles_never_stale_after_a_run(self) -> None:
        if self.ran:
            assert _copy(self.pipeline, "articles", "count(*)")[0][0] > 0

    def teardown(self) -> None:
        self.served.close()


@pytest.mark.parametrize(
    ("kind", "soft_deletes"), [("duckdb", False), ("duckdb", True), ("postgres", False)]
)
def test_the_copy_follows_any_sequence_of_changes(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, soft_deletes: bool
) -> None:
    """A small budget: each step is a real load; CI runs it on three Pythons."""
    if kind == "duckdb":

        def destination(home: Path) -> Any:
            return dlt.destinations.duckdb(str(home / "copy.duckdb"))
    else:
        url = request.getfixturevalue("postgres_url")

        def destination(home: Path) -> Any:
            return dlt.destinations.postgres(url)

    class Machine(MirrorMachine):
        def __init__(self) -> None:
            super().__init__(tmp_path, destination, soft_deletes)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=2,
            stateful_step_count=4,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_a_missing_postgres_skips_or_in_ci_fails() -> None:
    """Without BESSA_TEST_POSTGRES the PostgreSQL tests are skipped with the reason, unless
    BESSA_REQUIRE_SERVICES=1 (CI), where they fail."""
    url = "postgresql://u:p@127.0.0.1:5432/db"
    assert postgres_from({"BESSA_TEST_POSTGRES": url}) == url
    with pytest.raises(pytest.skip.Exception, match="BESSA_TEST_POSTGRES is not set"):
        postgres_from({})
    with pytest.raises(pytest.fail.Exception, match="BESSA_REQUIRE_SERVICES=1"):
        postgres_from({"BESSA_REQUIRE_SERVICES": "1"})


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "mirror.md"


def _blocks(language: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


@pytest.fixture
def guide_env(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The guide's code as a user runs it: token and base URL from the environment, dlt's
    files in a folder of the test's, the DuckDB file in the current directory."""
    monkeypatch.setenv("BESSA_TOKEN", served.sandbox.token)
    monkeypatch.setenv("BESSA_BASE_URL", served.sandbox.url)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_guides_five_line_pipeline_copies_the_tenant(served: Served, guide_env: Path) -> None:
    """The guide's first block, run as written, copies receipts and articles into a DuckDB file
    named after the pipeline; again on the unchanged tenant it costs one request per resource."""
    code = _blocks("python")[0]
    scope: dict[str, Any] = {}
    exec(compile(code, str(GUIDE), "exec"), scope)
    pipeline: dlt.Pipeline = scope["pipeline"]
    assert (guide_env / "bessa_mirror.duckdb").exists()
    _receipts_match(pipeline, served)
    _articles_match(pipeline, served)
    served.control(served.sandbox.clear_requests)
    exec(compile(code, str(GUIDE), "exec"), {})
    assert len(served.control(lambda: list(served.sandbox.requests))) == 2


def test_the_guides_revenue_query_equals_the_sales_report(
    served: Served, pipeline: dlt.Pipeline
) -> None:
    """The guide's SQL, with a business day's bounds, equals the sales report for every day."""
    (query,) = _blocks("sql")
    _run(pipeline, served, resources=["receipts"])
    sb = served.sandbox

    async def report(start: datetime, end: datetime) -> Decimal:
        async with BessaClient(sb.token, base_url=sb.url) as client:
            return (await client.reports.sales(start=start, end=end)).gross

    days = sorted({r.timestamp.date() for r in served.listed("receipts")})
    assert len(days) > 1
    for day in days:
        start, end = business_day(day)
        first, second = re.findall(r"'2026-[^']*'", query)
        sql = query.replace(first, f"'{start.isoformat()}'").replace(second, f"'{end.isoformat()}'")
        assert sql != query
        ((revenue,),) = _rows(pipeline, sql)
        assert (revenue or Decimal(0)) == served.call(report(start, end)), day


def test_the_guides_tenants_get_copies_of_their_own(served: Served, guide_env: Path) -> None:
    """mirror_all from the guide: each tenant's copy holds its own receipts only."""
    scope: dict[str, Any] = {}
    exec(compile(_blocks("python")[1], str(GUIDE), "exec"), scope)
    sb = served.sandbox
    scope["mirror_all"]({"tenant_a": sb.token, "tenant_b": sb.other_token})
    ids: dict[str, set[str]] = {}
    for tenant in ("tenant_a", "tenant_b"):
        pipeline = dlt.pipeline(f"bessa_{tenant}", destination="duckdb", dataset_name=tenant)
        ids[tenant] = {row[0] for row in _copy(pipeline, "receipts", "id")}
    assert ids["tenant_a"] == {str(r.id) for r in served.listed("receipts")}
    assert ids["tenant_b"]
    assert not ids["tenant_a"] & ids["tenant_b"]


def test_a_run_that_fails_midway_starts_again_from_the_committed_checkpoint(
    served: Served, tmp_path: Path
) -> None:
    """A run whose extract fails after some pages commits nothing, its checkpoint included:
    the next run loads what the failed one had read, and the copy equals the API."""
    sb = served.sandbox
    pipeline = _pipeline(tmp_path, dlt.destinations.duckdb(str(tmp_path / "copy.duckdb")))
    _run(pipeline, served, resources=["receipts"], limit=20)
    served.control(lambda: sb.upload_late(count=30, hours_ago=5))
    pages: list[object] = []

    def fail_after_the_first(page: object) -> None:
        pages.append(page)
        if len(pages) == 1:  # a refusal no retry hides: the run ends with it
            sb.inject(Fault.status(403), times=1)

    served.control(lambda: sb.after_page(fail_after_the_first))
    with pytest.raises(PipelineStepFailed):
        _run(pipeline, served, resources=["receipts"], limit=20)
    served.control(lambda: sb.after_page(None))
    assert len(pages) >= 1
    _run(pipeline, served, resources=["receipts"], limit=20)
    _receipts_match(pipeline, served)


def test_column_hints_follow_the_models() -> None:
    """Money is decimal, timestamps are UTC timestamps, UUIDs text; lists are left to dlt's
    child tables (no hint), for every mirrored model."""
    receipt = columns_of(Receipt)
    assert receipt["total"]["data_type"] == "decimal"
    assert receipt["tip"]["data_type"] == "decimal"
    assert receipt["timestamp"]["data_type"] == "timestamp"
    assert receipt["timestamp"]["timezone"] is True
    assert receipt["id"]["data_type"] == "text"
    assert "lines" not in receipt
    assert "orders" not in receipt
    assert columns_of(StockLevel)["quantity"]["data_type"] == "decimal"
    assert columns_of(StockLevel)["article"]["data_type"] == "text"
