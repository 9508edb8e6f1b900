"""The sandbox as a test kit: typed fixtures, magic references, the plugin's fixtures and marker.

Every job test runs on ``bessa_clock``, so minutes of processing take no real time.
"""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

import pytest

from bessa_async import (
    Article,
    BessaClient,
    JobFailedError,
    JobStatus,
    JobTimeoutError,
    OrderLine,
    Payment,
    SalesPoint,
    ServerError,
)
from bessa_async.testing import FakeClock, Fault, Fixtures, Sandbox
from bessa_async.testing.magic import (
    EXPIRE_REFERENCE,
    FAILURE_CODES,
    NEVER_REFERENCE,
    SLOW_REFERENCE,
    SLOW_SECONDS,
    Behaviour,
    behaviour,
    fail_reference,
)
from bessa_async.testing.pytest_plugin import SandboxFactory

# --- magic references, pure ------------------------------------------------------------------


def test_magic_references_read_as_their_behaviour() -> None:
    """Each documented reference asks for its behaviour; a tag after '/' changes nothing."""
    assert behaviour(fail_reference("amount_mismatch")) == Behaviour(fail="amount_mismatch")
    assert behaviour(fail_reference("odd_word", tag="shop-7")) == Behaviour(fail="odd_word")
    assert behaviour(SLOW_REFERENCE + "/1") == Behaviour(pickup=SLOW_SECONDS / 2, done=SLOW_SECONDS)
    assert behaviour(NEVER_REFERENCE) == Behaviour(done=math.inf)
    assert behaviour(EXPIRE_REFERENCE) == Behaviour(pickup=math.inf, done=math.inf)
    for ordinary in ("webshop-10045", "sandbox:", "sandbox:fail:", "sandbox:unknown", None, 7):
        assert behaviour(ordinary) is None
    with pytest.raises(ValueError, match="without '/'"):
        fail_reference("a/b")


# --- typed fixtures ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fixtures_are_typed_and_what_they_say_for_any_seed(seed: int) -> None:
    """Whatever the seed, each handle is the kind of record its name says."""
    fixtures = Sandbox(seed=seed, receipts=5).fixtures
    assert isinstance(fixtures, Fixtures)
    assert isinstance(fixtures.sales_point, SalesPoint)
    assert fixtures.sales_point.status == "active"
    assert fixtures.sales_point.location == fixtures.location.id
    assert fixtures.offline_sales_point.status == "active"
    assert fixtures.offline_sales_point.location is None
    assert fixtures.inactive_sales_point.status == "inactive"
    assert isinstance(fixtures.article, Article)
    assert (fixtures.article.active, fixtures.article.type) == (True, "standard")
    assert fixtures.open_price_article.type == "open_price"
    assert fixtures.inactive_article.active is False
    assert fixtures.table.active
    assert fixtures.table.location == fixtures.location.id
    assert not fixtures.inactive_table.active
    assert fixtures.payment_method.active
    assert fixtures.payment_method.type == "cash"
    assert not fixtures.inactive_payment_method.active


async def test_an_order_of_the_fixtures_completes_and_is_paid(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    """fixtures.order() completes; paying it with fixtures.payment_method completes too."""
    fixtures = bessa_sandbox.fixtures
    job = await (await bessa_client.orders.submit(fixtures.order(quantity=2))).wait()
    opened = job.outcome
    price = fixtures.article.price
    assert price is not None
    paid = await bessa_client.payments.submit(
        Payment(
            sales_point=fixtures.sales_point.id,
            order=opened.job.id,
            payment_method=fixtures.payment_method.id,
            amount=2 * price,
        )
    )
    assert (await paid.wait()).succeeded
    assert bessa_clock.slept > 0  # the waits ran on the test's clock


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("inactive_sales_point", "sales_point_inactive"),
        ("inactive_article", "article_inactive"),
        ("inactive_table", "table_inactive"),
    ],
)
async def test_each_inactive_fixture_fails_its_job_with_the_matching_code(
    bessa_client: BessaClient,
    bessa_sandbox: Sandbox,
    bessa_clock: FakeClock,
    change: str,
    code: str,
) -> None:
    fixtures = bessa_sandbox.fixtures
    order = fixtures.order()
    if change == "inactive_sales_point":
        order = fixtures.order(sales_point=fixtures.inactive_sales_point)
    elif change == "inactive_article":
        order = fixtures.order(article=fixtures.inactive_article)
    else:
        order = type(order)(
            sales_point=order.sales_point, lines=order.lines, table=fixtures.inactive_table.id
        )
    with pytest.raises(JobFailedError) as failed:
        await (await bessa_client.orders.submit(order)).wait()
    assert failed.value.code == code


async def test_the_offline_till_holds_its_jobs_until_it_is_back(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    """An order to fixtures.offline_sales_point waits; back online, it completes."""
    fixtures = bessa_sandbox.fixtures
    handle = await bessa_client.orders.submit(
        fixtures.order(sales_point=fixtures.offline_sales_point)
    )
    with pytest.raises(JobTimeoutError):
        await handle.wait(timeout=600)
    assert handle.status == JobStatus.PENDING
    bessa_sandbox.set_sales_point_online(fixtures.offline_sales_point.id)
    assert (await handle.wait()).succeeded


# --- magic references through the API --------------------------------------------------------


@pytest.mark.parametrize("code", FAILURE_CODES)
async def test_a_magic_reference_fails_the_job_with_its_code(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock, code: str
) -> None:
    reference = fail_reference(code, tag=uuid.uuid4().hex)
    handle = await bessa_client.orders.submit(bessa_sandbox.fixtures.order(reference=reference))
    with pytest.raises(JobFailedError) as failed:
        await handle.wait()
    assert (failed.value.code, failed.value.status) == (code, "failed")


async def test_slow_never_and_expire_references(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    """slow: done after SLOW_SECONDS; never: processing for ever; expire: ends expired."""
    fixtures = bessa_sandbox.fixtures
    slow = await bessa_client.orders.submit(fixtures.order(reference=SLOW_REFERENCE))
    never = await bessa_client.orders.submit(fixtures.order(reference=NEVER_REFERENCE))
    expire = await bessa_client.orders.submit(fixtures.order(reference=EXPIRE_REFERENCE))
    started = bessa_clock()
    assert (await slow.wait()).succeeded
    assert bessa_clock() - started >= SLOW_SECONDS
    with pytest.raises(JobFailedError) as expired:
        await expire.wait()
    assert expired.value.status == "expired"
    with pytest.raises(JobTimeoutError):
        await never.wait(timeout=86_400)
    assert never.status == JobStatus.PROCESSING


# --- the plugin: marker, clock, factory, recorded status ------------------------------------


@pytest.mark.bessa_sandbox(receipts=7, faults="503@articles/")
async def test_the_marker_configures_the_sandbox_and_the_clock_takes_the_backoff(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    """A permanent 503 is retried on the test's clock: the backoff costs no real time."""
    assert len(bessa_sandbox.data.receipts) == 7
    with pytest.raises(ServerError):
        await bessa_client.request("GET", "articles/")
    answered = [r.status for r in bessa_sandbox.requests if r.path == "articles/"]
    assert answered == [503] * len(answered)
    assert len(answered) > 1
    assert bessa_clock.slept > 0


async def test_the_factory_starts_sandboxes_of_their_own(
    bessa_sandbox_factory: SandboxFactory,
) -> None:
    first = await bessa_sandbox_factory(receipts=3)
    second = await bessa_sandbox_factory(receipts=4, seed=9)
    assert first.url != second.url
    assert (len(first.data.receipts), len(second.data.receipts)) == (3, 4)
    second.inject(Fault.status(404), path="articles/", times=1)
    async with BessaClient(second.token, base_url=second.url) as client:
        assert (await client.request("GET", "companies/"))["count"] >= 1
        assert [r.status for r in second.requests] == [200]  # the fault is on another path
        assert first.requests == []


async def test_recorded_requests_carry_the_answers_status(
    bessa_client: BessaClient, bessa_sandbox: Sandbox
) -> None:
    bessa_sandbox.inject(Fault.status(503), path="companies/", times=1)
    bessa_sandbox.inject(Fault.drop(), path="tables/", times=1)
    await bessa_client.request("GET", "companies/")
    await bessa_client.request("GET", "tables/")
    assert [(r.path, r.status) for r in bessa_sandbox.requests] == [
        ("companies/", 503),
        ("companies/", 200),
        ("tables/", None),
        ("tables/", 200),
    ]


def test_an_order_line_of_the_open_price_article_needs_its_price() -> None:
    fixtures = Sandbox(receipts=1).fixtures
    line = OrderLine(
        article=fixtures.open_price_article.id, quantity=Decimal(1), unit_price=Decimal("3.50")
    )
    assert line.unit_price == Decimal("3.50")
