"""One example test per control of the sandbox and per kind of fault (the testing guide shows
them). They use the pytest plugin's fixtures only; ``bessa_clock`` makes every wait instant."""

from __future__ import annotations

import pytest

from bessa_async import (
    BessaClient,
    DecodeError,
    JobFailedError,
    JobStatus,
    JobTimeoutError,
    PaginationLoopError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing.magic import NEVER_REFERENCE

# --- the Sales Points and their jobs ------------------------------------------------------------


async def test_a_till_taken_offline_holds_its_orders(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    point = bessa_sandbox.fixtures.sales_point
    bessa_sandbox.set_sales_point_online(point.id, online=False)
    handle = await bessa_client.orders.submit(bessa_sandbox.fixtures.order())
    with pytest.raises(JobTimeoutError):
        await handle.wait(timeout=300)
    bessa_sandbox.set_sales_point_online(point.id)
    assert (await handle.wait()).succeeded


async def test_every_job_of_a_till_fails_with_a_code(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    bessa_sandbox.set_job_failure(
        "no_active_day", sales_point=bessa_sandbox.fixtures.sales_point.id
    )
    handle = await bessa_client.orders.submit(bessa_sandbox.fixtures.order())
    with pytest.raises(JobFailedError) as failed:
        await handle.wait()
    assert failed.value.code == "no_active_day"
    bessa_sandbox.set_job_failure(None, sales_point=bessa_sandbox.fixtures.sales_point.id)


async def test_a_cancelled_job_is_a_failure(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    offline = bessa_sandbox.fixtures.offline_sales_point  # its jobs stay pending
    handle = await bessa_client.orders.submit(bessa_sandbox.fixtures.order(sales_point=offline))
    bessa_sandbox.cancel_job(str(handle.id))
    with pytest.raises(JobFailedError) as failed:
        await handle.wait()
    assert failed.value.status == "cancelled"


async def test_a_status_word_the_client_does_not_know_is_waited_on(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    handle = await bessa_client.orders.submit(
        bessa_sandbox.fixtures.order(reference=NEVER_REFERENCE)
    )
    bessa_sandbox.set_job_status(str(handle.id), "waiting_for_printer")
    with pytest.raises(JobTimeoutError):
        await handle.wait(timeout=60)
    assert handle.status == "waiting_for_printer"  # not finished, never success
    [job] = bessa_sandbox.jobs("order")  # the jobs as the API shows them now
    assert job["status"] == "waiting_for_printer"
    bessa_sandbox.set_job_status(str(handle.id), JobStatus.PROCESSING)


async def test_the_request_log_shows_what_was_sent(
    bessa_client: BessaClient, bessa_sandbox: Sandbox
) -> None:
    await bessa_client.articles.list(active=True).first()
    [request] = bessa_sandbox.requests
    assert (request.method, request.path, request.status) == ("GET", "articles/", 200)
    assert ("active", "true") in request.query
    assert "Authorization" not in request.headers  # the token is never recorded


# --- faults ---------------------------------------------------------------------------------


async def test_a_passing_503_is_retried(bessa_client: BessaClient, bessa_sandbox: Sandbox) -> None:
    rule = bessa_sandbox.inject(Fault.status(503, body="html"), path="companies/", times=1)
    assert (await bessa_client.request("GET", "companies/"))["count"] > 0
    assert rule.hits == 1


@pytest.mark.bessa_sandbox(faults="429@companies/")
async def test_a_429_pauses_the_client_then_gives_up(
    bessa_client: BessaClient, bessa_clock: FakeClock
) -> None:
    with pytest.raises(RateLimitError) as limited:
        await bessa_client.request("GET", "companies/")
    assert limited.value.retry_after == 1
    assert bessa_clock.slept >= 1  # each Retry-After was waited out, on the test's clock


async def test_latency_takes_no_real_time_on_the_clock(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    bessa_sandbox.inject(Fault.latency(5.0), path="companies/")
    await bessa_client.request("GET", "companies/")
    assert bessa_clock.slept >= 5.0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.drop(), TransportError),
        (Fault.truncate(), TransportError),
        (Fault.truncated_json(), DecodeError),
        (Fault.malformed_json(), DecodeError),
        (Fault.non_json(), DecodeError),
        (Fault.status(500, body="empty"), ServerError),
    ],
    ids=["drop", "truncate", "truncated-json", "malformed", "html", "500"],
)
async def test_each_broken_answer_is_one_clear_error(
    bessa_sandbox: Sandbox, bessa_clock: FakeClock, fault: Fault, error: type[Exception]
) -> None:
    bessa_sandbox.inject(fault, path="companies/")
    async with BessaClient(
        bessa_sandbox.token, base_url=bessa_sandbox.url, retry=RetryPolicy.disabled()
    ) as client:
        with pytest.raises(error):
            await client.request("GET", "companies/")


async def test_a_next_link_that_goes_round_in_circles_is_caught(
    bessa_client: BessaClient, bessa_sandbox: Sandbox
) -> None:
    bessa_sandbox.inject(Fault.cycle_next(), path="articles/")
    with pytest.raises(PaginationLoopError):
        await bessa_client.articles.list(limit=5).collect()


async def test_a_write_dropped_after_the_server_acted_is_found_again(
    bessa_client: BessaClient, bessa_sandbox: Sandbox, bessa_clock: FakeClock
) -> None:
    bessa_sandbox.inject(Fault.drop(after_handler=True), path="requests/orders/", times=1)
    handle = await bessa_client.orders.submit(bessa_sandbox.fixtures.order())
    assert (await handle.wait()).succeeded
    assert len(bessa_sandbox.jobs("order")) == 1  # looked up by reference, not sent twice
