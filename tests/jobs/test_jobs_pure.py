"""The pure core of jobs: status classification, submission values, backoff, tokens. No loop."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bessa_async import (
    BessaClient,
    ConnectError,
    DecodeError,
    Job,
    JobFailedError,
    JobHandle,
    JobStatus,
    JobTimeoutError,
    Order,
    OrderLine,
    OrderOption,
    OrderOutcome,
    Payment,
    PaymentOutcome,
    PollPolicy,
    RequestTimeout,
    ServerError,
    SubmissionOutcomeUnknownError,
    TransportError,
    ValidationError,
    from_dict,
)
from bessa_async._jobs.handle import decode_token, encode_token
from bessa_async._jobs.manager import _poll_path, is_ambiguous
from bessa_async._jobs.model import job_state
from bessa_async._jobs.pacing import next_poll_delay
from bessa_async._jobs.submissions import order_body, payment_body
from bessa_async._transport.session import Response

SP = uuid.UUID("8c1c0a6e-3d1b-4a55-9d59-0f3b8f0e4b11")
ARTICLE = uuid.UUID("5eae070f-f62f-4e49-aab8-3588d79ac2eb")
TOKEN = "pure-test-token-0123456789"


def _job(**changes: Any) -> Job:
    data: dict[str, Any] = {
        "id": "f1c8a0e4-4a4e-4a43-9a4a-1d1d1d1d1d1d",
        "type": "order",
        "status": "pending",
        "reference": "webshop-10045",
        "sales_point": str(SP),
        "created": "2026-06-15T15:30:00Z",
        "updated": "2026-06-15T15:30:00Z",
        "result": None,
        "error": None,
    }
    data.update(changes)
    return from_dict(Job, data)


# --- status classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("completed", "succeeded"),
        (JobStatus.COMPLETED, "succeeded"),
        ("failed", "failed"),
        ("expired", "failed"),
        ("cancelled", "failed"),
        ("pending", "running"),
        ("processing", "running"),
        ("waiting_for_printer", "running"),
        ("COMPLETED", "running"),
        ("", "running"),
        (None, "running"),
    ],
)
def test_only_completed_is_success_and_unknown_words_are_running(
    status: str | None, state: str
) -> None:
    """completed succeeds; failed/expired/cancelled fail; any other word is not finished."""
    assert job_state(status) == state


def test_job_decodes_typed_and_keeps_unknown_words_and_fields() -> None:
    """A job answer reads into Job: open status enum, typed result and error, extras kept."""
    done = _job(
        status="completed",
        result={"order": str(ARTICLE), "receipt": None, "number": "2026-000123", "seat": 4},
        priority="high",
    )
    assert done.status is JobStatus.COMPLETED
    assert done.succeeded
    assert done.finished
    assert done.result is not None
    assert done.result.order == ARTICLE
    assert done.result.extra == {"seat": 4}
    assert done.extra == {"priority": "high"}
    odd = _job(status="waiting_for_printer")
    assert odd.status == "waiting_for_printer"
    assert not odd.finished
    failed = _job(status="failed", error={"code": "article_inactive", "detail": "Nope."})
    assert failed.error is not None
    assert (failed.error.code, failed.error.detail) == ("article_inactive", "Nope.")
    assert not failed.succeeded


def test_job_failed_error_carries_job_code_and_detail() -> None:
    """JobFailedError names the job, its status and the till's code and detail."""
    job = _job(status="expired", error={"code": "expired", "detail": "Nobody came."})
    error = JobFailedError(job)
    assert error.job is job
    assert (error.status, error.code, error.detail) == ("expired", "expired", "Nobody came.")
    assert str(job.id) in str(error)
    assert "Nobody came." in str(error)
    bare = JobFailedError(_job(status="cancelled"))
    assert bare.code is None
    assert str(bare).endswith("cancelled")


def test_a_completed_jobs_outcome_is_narrowed_to_its_kind() -> None:
    """Job.outcome: an order's open order or a payment's receipt, typed without Optional."""
    order = _job(type="order", status="completed", result={"order": str(ARTICLE)})
    match order.outcome:
        case OrderOutcome(order=opened):
            assert opened == ARTICLE
        case other:
            pytest.fail(f"an order's outcome is an OrderOutcome, not {other!r}")
    paid = _job(type="payment", status="completed", result={"receipt": str(ARTICLE), "number": "7"})
    assert paid.outcome == PaymentOutcome(job=paid, receipt=ARTICLE, number="7")
    with pytest.raises(JobFailedError, match="article_inactive"):
        _ = _job(status="failed", error={"code": "article_inactive"}).outcome
    with pytest.raises(asyncio.InvalidStateError, match="not finished"):
        _ = _job(status="waiting_for_printer").outcome
    with pytest.raises(DecodeError, match="names no receipt"):
        _ = _job(type="payment", status="completed", result={"order": str(ARTICLE)}).outcome


def test_submission_outcome_unknown_carries_key_and_reference() -> None:
    """The error for an unknown outcome says what to look the submission up by."""
    error = SubmissionOutcomeUnknownError(
        kind="order", reference="shop-1", idempotency_key="k-1", reason="lookup failed"
    )
    assert (error.kind, error.reference, error.idempotency_key) == ("order", "shop-1", "k-1")
    assert "shop-1" in str(error)
    assert "k-1" in str(error)
    assert "lookup failed" in str(error)


def test_job_timeout_error_is_a_timeout_error() -> None:
    """JobTimeoutError is also a TimeoutError and names the unfinished handle."""
    client = BessaClient(TOKEN, base_url="http://127.0.0.1:9/v1/public/")
    handle = client.orders.job(ARTICLE)
    error = JobTimeoutError((handle,), timeout=120, last_error=None)
    assert isinstance(error, TimeoutError)
    assert error.handle is handle
    assert "120 s" in str(error)
    assert str(ARTICLE) in str(error)


# --- ambiguity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "ambiguous"),
    [
        (ConnectError("refused", method="POST", path="requests/orders/"), False),
        (RequestTimeout("late", method="POST", path="x/", request_sent=True), True),
        (RequestTimeout("never sent", method="POST", path="x/", request_sent=False), False),
        (TransportError("dropped", method="POST", path="x/", request_sent=True), True),
        (ServerError(status=502, detail="bad gateway", method="POST", path="x/"), True),
        (ServerError(status=500, detail="oops", method="POST", path="x/"), True),
        (ValidationError(status=400, detail="bad", method="POST", path="x/"), False),
        (ValueError("not even sent"), False),
    ],
)
def test_which_post_failures_are_ambiguous(error: BaseException, ambiguous: bool) -> None:
    """Only a failure after the request left (timeout, drop, 5xx) leaves the outcome open."""
    assert is_ambiguous(error) is ambiguous


# --- submission values --------------------------------------------------------------------------


def test_order_accepts_uuid_text_and_lists_and_writes_the_documented_body() -> None:
    """Ids may be UUID text, lines a list; the body has decimal strings and no unset fields."""
    order = Order(
        sales_point=str(SP),
        lines=[
            OrderLine(article=ARTICLE, quantity=Decimal("2")),
            OrderLine(
                article=str(ARTICLE),
                quantity=Decimal("0.125"),
                unit_price=Decimal("9.9"),
                note="no onions",
                options=[OrderOption(option=ARTICLE)],
            ),
        ],
        table=str(ARTICLE),
    )
    assert order.sales_point == SP
    assert isinstance(order.lines, tuple)
    assert order_body(order, "ref-1") == {
        "sales_point": str(SP),
        "reference": "ref-1",
        "table": str(ARTICLE),
        "lines": [
            {"article": str(ARTICLE), "quantity": "2"},
            {
                "article": str(ARTICLE),
                "quantity": "0.125",
                "unit_price": "9.90",
                "note": "no onions",
                "options": [{"option": str(ARTICLE), "quantity": "1"}],
            },
        ],
    }


def test_payment_body_has_two_decimal_amounts() -> None:
    """Money goes out as two-decimal strings; an unset tip is left out."""
    payment = Payment(
        sales_point=SP,
        order=ARTICLE,
        payment_method=ARTICLE,
        amount=Decimal("19.8"),
        tip=Decimal("1"),
        reference="psp-1",
    )
    body = payment_body(payment, "psp-1")
    assert (body["amount"], body["tip"], body["reference"]) == ("19.80", "1.00", "psp-1")
    untipped = payment_body(attrs.evolve(payment, tip=None), "psp-2")
    assert "tip" not in untipped


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: OrderLine(article=ARTICLE, quantity=2.0), TypeError, "float"),  # type: ignore[arg-type]
        (lambda: OrderLine(article=ARTICLE, quantity=Decimal(0)), ValueError, "> 0"),
        (lambda: OrderLine(article=ARTICLE, quantity=Decimal(-1)), ValueError, "> 0"),
        (lambda: OrderLine(article=ARTICLE, quantity=Decimal("0.0001")), ValueError, "decimals"),
        (lambda: OrderLine(article=ARTICLE, quantity="2"), TypeError, "Decimal"),  # type: ignore[arg-type]
        (lambda: OrderLine(article=ARTICLE, quantity=Decimal("NaN")), ValueError, "finite"),
        (lambda: OrderLine(article="nope", quantity=Decimal(1)), ValueError, "article"),
        (
            lambda: OrderLine(article=ARTICLE, quantity=Decimal(1), unit_price=Decimal("1.001")),
            ValueError,
            "unit_price",
        ),
        (lambda: Order(sales_point=SP, lines=[]), ValueError, "at least 1"),
        (lambda: Order(sales_point=SP, lines=["x"]), TypeError, r"lines\[0\]"),  # type: ignore[list-item]
        (lambda: Order(sales_point="nope", lines=[_line()]), ValueError, "sales_point"),
        (lambda: Order(sales_point=SP, lines=[_line()], reference="x" * 101), ValueError, "100"),
        (lambda: Order(sales_point=SP, lines=[_line()], reference="  "), ValueError, "blank"),
        (lambda: _payment(amount=Decimal("19.999")), ValueError, "amount"),
        (lambda: _payment(amount=Decimal(0)), ValueError, "amount"),
        (lambda: _payment(amount=19.8), TypeError, "float"),
        (lambda: _payment(tip=Decimal("-1")), ValueError, "tip"),
        (lambda: _payment(order="12"), ValueError, "order"),
    ],
)
def test_bad_submissions_are_refused_locally(
    build: Any, error: type[Exception], message: str
) -> None:
    """Floats, inexact or non-positive amounts, bad ids and empty orders fail before sending."""
    with pytest.raises(error, match=message):
        build()


def _line() -> OrderLine:
    return OrderLine(article=ARTICLE, quantity=Decimal(1))


def _payment(**changes: Any) -> Payment:
    values: dict[str, Any] = {
        "sales_point": SP,
        "order": ARTICLE,
        "payment_method": ARTICLE,
        "amount": Decimal("19.80"),
    }
    values.update(changes)
    return Payment(**values)


# --- backoff ------------------------------------------------------------------------------------


def test_backoff_grows_from_initial_to_the_ceiling_without_jitter() -> None:
    """Delays start at initial, grow by the multiplier and stop at the ceiling."""
    policy = PollPolicy(initial=1, floor=0.5, ceiling=10, multiplier=2, jitter=0)
    rng = random.Random(0)
    previous = None
    delays = []
    for _ in range(6):
        previous, delay = next_poll_delay(policy, previous, rng)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 10, 10]


def test_retry_after_sets_the_next_delay_within_bounds() -> None:
    """A server's Retry-After replaces the computed delay, capped at ceiling, at least floor."""
    policy = PollPolicy(initial=1, floor=0.5, ceiling=10, multiplier=2, jitter=0.1)
    rng = random.Random(0)
    assert next_poll_delay(policy, 4, rng, retry_after=7)[1] == 7
    assert next_poll_delay(policy, 4, rng, retry_after=3600)[1] == 10
    assert next_poll_delay(policy, 4, rng, retry_after=0)[1] == 0.5
    assert next_poll_delay(policy, 4, rng, retry_after=7)[0] == 8  # the schedule goes on


@given(
    previous=st.none() | st.floats(min_value=0, max_value=1e6),
    seed=st.integers(0, 2**32),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e6),
)
def test_every_delay_is_within_floor_and_ceiling(
    previous: float | None, seed: int, retry_after: float | None
) -> None:
    """Whatever came before and whatever the server says, a delay stays within the bounds."""
    policy = PollPolicy()
    base, delay = next_poll_delay(policy, previous, random.Random(seed), retry_after)
    assert policy.floor <= base <= policy.ceiling
    assert policy.floor <= delay <= policy.ceiling


def test_jitter_spreads_delays_around_the_base() -> None:
    """With jitter 0.1 the delays vary within ±10 % of the base."""
    policy = PollPolicy(initial=2, floor=0.25, ceiling=30, jitter=0.1)
    rng = random.Random(1)
    delays = {next_poll_delay(policy, None, rng)[1] for _ in range(50)}
    assert len(delays) > 40
    assert all(1.8 <= d <= 2.2 for d in delays)


@pytest.mark.parametrize(
    "changes",
    [
        {"floor": 0},
        {"ceiling": 0.1},
        {"multiplier": 0.9},
        {"jitter": 1},
        {"initial": -1},
        {"ceiling": float("inf")},
        {"jitter": True},
    ],
)
def test_poll_policy_refuses_nonsense(changes: dict[str, Any]) -> None:
    """A zero floor, a ceiling below it, a shrinking multiplier or full jitter are refused."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        PollPolicy(**changes)


# --- tokens -------------------------------------------------------------------------------------


def test_token_round_trip_in_a_new_client_without_secrets() -> None:
    """to_token is versioned JSON without the API token; resume gives an equal handle."""
    first = BessaClient(TOKEN, base_url="http://127.0.0.1:9/v1/public/")
    handle = first.orders.job(ARTICLE)
    token = handle.to_token()
    data = json.loads(token)
    assert data["v"] == 1
    assert data["kind"] == "order"
    assert TOKEN not in token
    assert TOKEN not in repr(handle)
    second = BessaClient("another-token", base_url="http://127.0.0.1:9/v1/public/")
    again = second.jobs.resume(token)
    assert isinstance(again, JobHandle)
    assert (again.id, again.kind, again.path, again.status) == (
        handle.id,
        "order",
        f"requests/orders/{ARTICLE}/",
        None,
    )


@given(
    reference=st.none() | st.text(max_size=100),
    key=st.none() | st.text(min_size=1, max_size=40),
    status=st.none() | st.sampled_from([*JobStatus, "waiting_for_printer"]),
    kind=st.sampled_from(["order", "payment"]),
)
def test_token_encoding_round_trips(
    reference: str | None, key: str | None, status: str | None, kind: Any
) -> None:
    """Whatever a handle knows survives encode_token/decode_token unchanged."""
    job_id = uuid.uuid4()
    token = encode_token(
        kind=kind,
        id=job_id,
        path=f"requests/{kind}s/{job_id}/",
        reference=reference,
        idempotency_key=key,
        status=status,
    )
    data = decode_token(token)
    assert data["id"] == job_id
    assert (data["kind"], data["reference"], data["idempotency_key"]) == (kind, reference, key)
    assert data["status"] == status
    if status in set(JobStatus):
        assert isinstance(data["status"], JobStatus)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"v": 2, "kind": "order"}', "version 2"),
        ('{"v": 1, "kind": "refund", "id": "x"}', "kind"),
        ('{"v": 1, "kind": "order", "id": "x", "path": "requests/orders/x/"}', "bad id"),
        (
            f'{{"v": 1, "kind": "order", "id": "{ARTICLE}", "path": "https://evil.example/x/"}}',
            "bad path",
        ),
        (f'{{"v": 1, "kind": "order", "id": "{ARTICLE}", "path": "../x/"}}', "bad path"),
        (
            f'{{"v": 1, "kind": "order", "id": "{ARTICLE}", "path": "a/", "reference": 5}}',
            "reference",
        ),
    ],
)
def test_bad_tokens_are_refused(token: str, message: str) -> None:
    """Garbage, newer versions, unknown kinds, bad ids and paths off the API are refused."""
    with pytest.raises(ValueError, match=message):
        decode_token(token)


# --- Location -----------------------------------------------------------------------------------


def _answer(location: str | None) -> Response:
    headers: CIMultiDict[str] = CIMultiDict()
    if location is not None:
        headers["Location"] = location
    return Response(
        method="POST",
        url=URL("http://127.0.0.1:8080/v1/public/requests/orders/"),
        path="requests/orders/",
        status=202,
        headers=CIMultiDictProxy(headers),
        body=b"{}",
    )


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (None, "default/"),
        ("/v1/public/jobs/abc/", "jobs/abc/"),
        ("http://127.0.0.1:8080/v1/public/jobs/abc", "jobs/abc/"),
        ("abc/", "requests/orders/abc/"),
        ("https://evil.example/v1/public/jobs/abc/", "default/"),
        ("/elsewhere/jobs/abc/", "default/"),
        ("/v1/public/jobs/abc/?token=1", "default/"),
    ],
)
def test_location_names_the_job_only_on_the_api(location: str | None, expected: str) -> None:
    """A 202's Location is polled when it is on the API's origin and path; else the default."""
    base = URL("http://127.0.0.1:8080/v1/public/")
    assert _poll_path(_answer(location), base, "default/") == expected
