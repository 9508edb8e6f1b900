"""The standalone sandbox: its HTTP control endpoint (each call against a sandbox on loopback,
its effect seen through the API) and the days its receipts cover (--start, --days)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, final

import aiohttp
import pytest
import pytest_asyncio

from bessa_async import business_day
from bessa_async._cli.app import main
from bessa_async.testing import FakeClock, Sandbox
from bessa_async.testing import __main__ as standalone
from bessa_async.testing._calendar import VIENNA
from bessa_async.testing._control import (
    ENDPOINTS,
    endpoints_text,
    is_loopback,
    is_loopback_host,
)
from bessa_async.testing._data import generate_tenant


@final
class Calls:
    """The control endpoint and tenant A's API of one sandbox, answers as (status, JSON)."""

    def __init__(self, sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
        self.sb = sandbox
        self.http = http

    async def control(
        self, method: str, path: str, body: object = None, **headers: str
    ) -> tuple[int, Any]:
        """A control call as a script makes it: ``body`` sent as JSON (a POST always says
        ``Content-Type: application/json``), ``headers`` on top (``Origin="..."``)."""
        assert self.sb.control_url is not None
        data = None if body is None else json.dumps(body)
        sent = {"Content-Type": "application/json"} if method == "POST" else {}
        sent.update({name.replace("_", "-"): value for name, value in headers.items()})
        async with self.http.request(
            method, self.sb.control_url + path, data=data, headers=sent
        ) as resp:
            return resp.status, json.loads(await resp.read())

    async def ok(self, method: str, path: str, body: object = None) -> Any:
        """A control call that must answer 200."""
        status, answer = await self.control(method, path, body)
        assert status == 200, answer
        return answer

    async def api(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """A call of tenant A's API."""
        headers = {"Authorization": f"Token {self.sb.token}"}
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.sb.url + path, data=data, headers=headers
        ) as resp:
            return resp.status, json.loads(await resp.read())

    def point(self) -> str:
        """An active Sales Point of tenant A."""
        return str(next(p for p in self.sb.data.sales_points if p["status"] == "active")["id"])

    async def order(self) -> dict[str, Any]:
        """Submit an order to :meth:`point`; the accepted job."""
        article = next(a for a in self.sb.data.articles if a["active"] and a["type"] == "standard")
        body = {
            "sales_point": self.point(),
            "reference": f"control-{uuid.uuid4().hex[:8]}",
            "lines": [{"article": article["id"], "quantity": "1"}],
        }
        status, job = await self.api("POST", "requests/orders/", body)
        assert status == 202, job
        result: dict[str, Any] = job
        return result

    async def job(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job as the API shows it now."""
        status, now = await self.api("GET", f"requests/orders/{job['id']}/")
        assert status == 200, now
        result: dict[str, Any] = now
        return result


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> FakeClock:
    """The sandbox's job time."""
    return FakeClock()


@pytest_asyncio.fixture
async def calls(http: aiohttp.ClientSession, clock: FakeClock) -> AsyncIterator[Calls]:
    """A sandbox with its control endpoint on, jobs taking 1 s of virtual time per step."""
    async with Sandbox(receipts=20, clock=clock, job_delay=1, control=True) as sandbox:
        yield Calls(sandbox, http)


async def test_the_index_lists_every_endpoint(calls: Calls) -> None:
    """GET /_sandbox/ names the API's URL and each endpoint from the one table."""
    assert calls.sb.control_url == calls.sb.url.removesuffix("v1/public/") + "_sandbox/"
    index = await calls.ok("GET", "")
    assert index["api"] == calls.sb.url
    assert [(e["method"], e["path"]) for e in index["endpoints"]] == [
        (method, "/_sandbox/" + path) for method, path, _, _ in ENDPOINTS
    ]
    assert all(f"/_sandbox/{path}" in endpoints_text() for _, path, _, _ in ENDPOINTS)
    assert endpoints_text() in (standalone.__doc__ or "") + standalone.EPILOG


async def test_tenants_lists_every_token_in_order(calls: Calls) -> None:
    """GET /_sandbox/tenants: each tenant's name and token, and whether it is built yet."""
    assert await calls.ok("GET", "tenants") == {
        "tenants": [
            {"name": "tenant-a", "token": calls.sb.token, "built": True},
            {"name": "tenant-b", "token": calls.sb.other_token, "built": True},
        ]
    }


async def test_the_control_endpoint_is_opt_in_in_process(http: aiohttp.ClientSession) -> None:
    """Sandbox() serves no control endpoint: /_sandbox/ is an API 404 like any unknown path."""
    async with Sandbox(receipts=5) as sandbox:
        assert sandbox.control_url is None
        root = sandbox.url.removesuffix("v1/public/")
        async with http.post(root + "_sandbox/sales-points/online", data="{}") as resp:
            assert resp.status == 404
        assert sandbox.requests[-1].path == "/_sandbox/sales-points/online"


async def test_a_till_taken_offline_holds_its_jobs_until_it_is_back(
    calls: Calls, clock: FakeClock
) -> None:
    """online=false for one till: its order stays pending; online=true: it completes."""
    point = calls.point()
    answer = await calls.ok("POST", "sales-points/online", {"online": False, "sales_point": point})
    assert answer == {"sales_point": point, "online": False}
    job = await calls.order()
    clock.advance(30)
    assert (await calls.job(job))["status"] == "pending"
    await calls.ok("POST", "sales-points/online", {"online": True})  # every till
    clock.advance(30)
    assert (await calls.job(job))["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "online: required"),
        ({"online": "no"}, 400, "online: expected bool"),
        ({"online": False, "sales_point": "nope"}, 404, "no Sales Point 'nope'"),
        ([False], 400, "expected a JSON object"),
    ],
)
async def test_a_bad_online_call_says_what_is_expected(
    calls: Calls, body: object, status: int, message: str
) -> None:
    """A missing or wrong field is a 400, an unknown till a 404, each with a detail."""
    answer = await calls.control("POST", "sales-points/online", body)
    assert answer[0] == status
    assert message in answer[1]["detail"]


async def test_job_failure_fails_jobs_with_the_code_until_cleared(
    calls: Calls, clock: FakeClock
) -> None:
    """code=no_active_day: the next order fails with it; code=null: orders complete again."""
    await calls.ok("POST", "job-failure", {"code": "no_active_day", "detail": "Closed."})
    failed = await calls.order()
    clock.advance(30)
    now = await calls.job(failed)
    assert (now["status"], now["error"]["code"], now["error"]["detail"]) == (
        "failed",
        "no_active_day",
        "Closed.",
    )
    assert await calls.ok("POST", "job-failure", {"code": None}) == {
        "code": None,
        "detail": None,
        "sales_point": None,
    }
    done = await calls.order()
    clock.advance(30)
    assert (await calls.job(done))["status"] == "completed"


async def test_jobs_lists_tenant_a_jobs_by_kind(calls: Calls) -> None:
    """GET jobs shows the submitted order; payments are a kind of their own."""
    job = await calls.order()
    orders = await calls.ok("GET", "jobs")
    assert [j["id"] for j in orders["results"]] == [job["id"]]
    assert (await calls.ok("GET", "jobs?kind=payment"))["results"] == []
    status, answer = await calls.control("GET", "jobs?kind=refund")
    assert (status, answer["detail"]) == (400, "kind: expected order or payment, got 'refund'")


async def test_a_job_status_can_be_forced_and_handed_back(calls: Calls, clock: FakeClock) -> None:
    """status=waiting_for_printer shows in the API; pending hands it back to the schedule."""
    job = await calls.order()
    forced = await calls.ok("POST", f"jobs/{job['id']}/status", {"status": "waiting_for_printer"})
    assert forced["status"] == "waiting_for_printer"
    clock.advance(30)
    assert (await calls.job(job))["status"] == "waiting_for_printer"
    await calls.ok("POST", f"jobs/{job['id']}/status", {"status": "pending"})
    clock.advance(30)
    assert (await calls.job(job))["status"] == "completed"
    missing = await calls.control("POST", f"jobs/{uuid.UUID(int=0)}/status", {"status": "x"})
    assert missing[0] == 404
    assert (await calls.control("POST", f"jobs/{job['id']}/status", {}))[0] == 400


async def test_a_pending_job_can_be_cancelled(calls: Calls) -> None:
    """cancel withdraws a job no till has picked up: the API shows it cancelled."""
    await calls.ok("POST", "sales-points/online", {"online": False})
    job = await calls.order()
    cancelled = await calls.ok("POST", f"jobs/{str(job['id']).upper()}/cancel")
    assert cancelled["status"] == "cancelled"
    assert (await calls.job(job))["status"] == "cancelled"
    assert (await calls.control("POST", "jobs/not-a-job/cancel"))[0] == 404


async def test_faults_are_injected_by_spec_and_cleared(calls: Calls) -> None:
    """A spec with times fires that often on its path; DELETE faults removes the rest."""
    answer = await calls.ok("POST", "faults", {"spec": "503@companies/", "times": 1})
    [rule] = answer["injected"]
    assert (rule["fault"]["status_code"], rule["path"], rule["times"]) == (503, "companies/", 1)
    assert (await calls.api("GET", "companies/"))[0] == 503
    assert (await calls.api("GET", "companies/"))[0] == 200
    await calls.ok("POST", "faults", {"spec": "502,429@articles/", "method": "GET"})
    assert (await calls.api("GET", "tables/"))[0] == 502
    assert await calls.ok("DELETE", "faults") == {"faults": 0}
    assert (await calls.api("GET", "tables/"))[0] == 200
    for body, message in [
        ({"spec": "teapot"}, "spec: fault 'teapot': unknown kind 'teapot'"),
        ({"spec": ""}, "spec: no fault given"),
        ({"spec": "503", "times": True}, "times: expected int or null, got True"),
        ({"spec": "503", "times": 0}, "times: expected a whole number >= 1"),
    ]:
        status, bad = await calls.control("POST", "faults", body)
        assert (status, bad["detail"].startswith(message)) == (400, True), bad


async def test_throttle_sets_and_clears_the_rate(calls: Calls) -> None:
    """rate=1/minute: the second API call is a 429; rate=null: no more throttling."""
    assert await calls.ok("POST", "throttle", {"rate": "1/minute"}) == {"rate": "1/minute"}
    assert (await calls.api("GET", "companies/"))[0] == 200
    assert (await calls.api("GET", "companies/"))[0] == 429
    await calls.ok("POST", "throttle", {"rate": None})
    assert (await calls.api("GET", "companies/"))[0] == 200
    assert (await calls.control("POST", "throttle", {"rate": "lots"}))[0] == 400


async def test_requests_lists_api_calls_from_an_index_and_forgets_them(calls: Calls) -> None:
    """The API's requests, oldest first, without tokens; control calls are not among them."""
    await calls.api("GET", "companies/")
    await calls.api("GET", "articles/?limit=2")
    listed = await calls.ok("GET", "requests")
    assert listed["count"] == 2
    assert [(r["method"], r["path"], r["query"]) for r in listed["results"]] == [
        ("GET", "companies/", []),
        ("GET", "articles/", [["limit", "2"]]),
    ]
    assert all(r["authenticated_as"] == "tenant-a" for r in listed["results"])
    assert calls.sb.token not in json.dumps(listed)
    later = await calls.ok("GET", "requests?since=1")
    assert [r["path"] for r in later["results"]] == ["articles/"]
    assert (await calls.control("GET", "requests?since=-1"))[0] == 400
    assert await calls.ok("DELETE", "requests") == {"count": 0}
    assert (await calls.ok("GET", "requests"))["count"] == 0


async def test_an_unknown_control_call_is_a_404_naming_the_index(calls: Calls) -> None:
    """A path or method the endpoint lacks, or a body that is not JSON, answers with a detail."""
    status, answer = await calls.control("GET", "faults")
    assert (status, answer["detail"]) == (
        404,
        "no control endpoint GET /_sandbox/faults; GET /_sandbox/ lists them",
    )
    assert calls.sb.control_url is not None
    for text in ("{spec", "[" * 100_000):  # cut, and nested too deeply to read
        async with calls.http.post(
            calls.sb.control_url + "faults",
            data=text,
            headers={"Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 400
            assert "not JSON" in (await resp.json())["detail"]
    assert calls.sb.requests == []


FOREIGN = "attacker.example:8080"
"""A web page's own name: what a DNS-rebound request carries in Host."""


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"Content-Type": "text/plain"}, 415, "not text/plain"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type: app"),
        ({}, 415, "not no Content-Type"),
        ({"Origin": "http://attacker.example"}, 403, "refuses requests from web pages"),
        ({"Origin": "null"}, 403, "an Origin header was sent"),
        ({"Origin": "http://localhost:8080"}, 403, "web pages"),
        ({"Host": FOREIGN}, 403, "loopback Host .* not 'attacker.example:8080'"),
        ({"Host": "127.0.0.1.attacker.example"}, 403, "loopback Host"),
    ],
    ids=["text/plain", "form", "no type", "origin", "null origin", "own origin", "host", "h2"],
)
async def test_a_web_page_cannot_drive_the_control_endpoint(
    calls: Calls, headers: dict[str, str], status: int, message: str
) -> None:
    """What a page in the developer's browser can send (a text/plain or form POST, any Origin, a
    DNS-rebound Host) is refused with a 4xx naming why, and changes nothing."""
    assert calls.sb.control_url is not None
    body = json.dumps({"spec": "503@companies/"})
    sent = {"Content-Type": "application/json", **headers} if headers else {}
    async with calls.http.post(
        calls.sb.control_url + "faults",
        data=body,
        headers=sent,
        skip_auto_headers=[] if headers else ["Content-Type"],
    ) as resp:
        assert resp.status == status
        assert re.search(message, (await resp.json())["detail"])
    assert (await calls.api("GET", "companies/"))[0] == 200  # no fault was injected


@pytest.mark.parametrize(
    "headers", [{"Host": FOREIGN}, {"Origin": "http://attacker.example"}], ids=["host", "origin"]
)
async def test_a_web_page_cannot_read_the_request_log(
    calls: Calls, headers: dict[str, str]
) -> None:
    """A DNS-rebound page (its own name in Host) or a cross-site fetch cannot read what the
    client sent: a 403, without the log."""
    await calls.api("GET", "companies/")
    for path in ("requests", "", "tenants"):
        status, answer = await calls.control("GET", path, **headers)
        assert status == 403
        assert set(answer) == {"detail"}
    assert (await calls.control("DELETE", "requests", **headers))[0] == 403
    assert len(calls.sb.requests) == 1


async def test_scripts_with_a_loopback_host_and_json_are_answered(calls: Calls) -> None:
    """Every loopback spelling of Host is answered, and a charset on the JSON type is fine."""
    port = calls.sb.url.split(":")[2].split("/")[0]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert (await calls.control("GET", "", Host=host))[0] == 200
    typed = {"Content_Type": "application/json; charset=utf-8"}
    assert (await calls.control("POST", "throttle", {"rate": None}, **typed))[0] == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:8080", True),
        ("localhost.:8080", True),
        ("app.localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("127.9.9.9", True),
        ("[::1]:8080", True),
        ("[::1]", True),
        (None, False),
        ("", False),
        ("attacker.example:8080", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io:8080", False),
        ("10.0.0.1:8080", False),
        ("[::2]:8080", False),
        ("[::1:8080", False),
        ("0.0.0.0:8080", False),
    ],
)
def test_a_loopback_host_is_a_loopback_name(host: str | None, loopback: bool) -> None:
    """localhost (and names under it), 127.0.0.0/8 and [::1], with any port; nothing else."""
    assert is_loopback_host(host) is loopback


def test_only_loopback_clients_are_answered() -> None:
    """The guard lets 127.0.0.0/8 and ::1 in, nothing else (not even an unknown peer)."""
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.3.2.1")
    assert is_loopback("::1")
    assert not is_loopback("192.168.1.20")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback(None)
    assert not is_loopback("unix-socket")


# --- the days the standalone sandbox covers -------------------------------------------------


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (datetime(2026, 12, 3, 9, 0, tzinfo=UTC), date(2026, 11, 3)),
        (datetime(2026, 3, 30, 12, 0, tzinfo=UTC), date(2026, 2, 28)),
    ],
)
def test_the_default_days_are_the_30_before_today(now: datetime, start: date) -> None:
    """Without --start the first day is --days before today in Vienna, so the last is
    yesterday; --start wins when given."""
    assert standalone.first_day(None, 30, now) == start
    assert standalone.first_day(None, 30, now) + timedelta(days=29) == (
        now.astimezone(VIENNA).date() - timedelta(days=1)
    )
    assert standalone.first_day(date(2026, 6, 1), 30, now) == date(2026, 6, 1)
    args = standalone._parser().parse_args([])
    assert (args.start, args.days, args.control) == (None, 30, True)
    assert standalone._parser().parse_args(["--no-control"]).control is False


def _latest_stamp(item: object) -> datetime | None:
    """The latest moment written anywhere in an item (nested ones included)."""
    if isinstance(item, dict):
        item = list(item.values())
    if isinstance(item, list | tuple):
        return max((s for s in map(_latest_stamp, item) if s is not None), default=None)
    if isinstance(item, str) and len(item) >= 20 and item[4] == "-" and item[10] == "T":
        try:
            return datetime.fromisoformat(item)
        except ValueError:
            return None
    return None


@pytest.mark.parametrize(
    ("now", "last"),
    [
        # 02:02 in Vienna: yesterday's night (and its closings) is not over yet.
        (datetime(2026, 12, 8, 1, 2, tzinfo=UTC), date(2026, 12, 6)),
        (datetime(2026, 12, 8, 4, 59, tzinfo=UTC), date(2026, 12, 6)),
        (datetime(2026, 12, 8, 5, 0, tzinfo=UTC), date(2026, 12, 7)),
        # 00:30 on 1 July in Vienna is still 30 June in UTC: the days are Vienna's.
        (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 6, 29)),
        (datetime(2026, 12, 3, 9, 0, tzinfo=UTC), date(2026, 12, 2)),
    ],
)
def test_the_default_days_hold_nothing_stamped_after_now(now: datetime, last: date) -> None:
    """The standalone sandbox's default data is over when it starts: a receipt, a correction
    or a closing stamped later would look like a server clock running ahead (bessa sync warns
    about it), and the small hours of the morning still belong to yesterday's trading."""
    start = standalone.first_day(None, 30, now)
    assert start + timedelta(days=29) == last
    data = generate_tenant(name="tenant-a", seed="0", receipts=300, start=start, days=30)
    latest = max(s for s in map(_latest_stamp, data.resources().values()) if s is not None)
    assert latest <= now


@contextlib.asynccontextmanager
async def serving(argv: list[str], out: pytest.CaptureFixture[str]) -> AsyncIterator[str]:
    """Serve the standalone sandbox in this loop; yields its banner."""
    # argparse looks up its translations on disk: off the loop.
    args = await asyncio.to_thread(lambda: standalone._parser().parse_args(argv))
    ready = asyncio.Event()
    task = asyncio.create_task(standalone._serve(args, ready))
    try:
        await ready.wait()
        yield out.readouterr().out
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_start_and_days_place_the_receipts(
    http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    """--start 2026-01-05 --days 3: every receipt falls in those business days (a night
    running to 06:00 after the last), the banner says so, and the control endpoint is on."""
    argv = ["--port", "0", "--start", "2026-01-05", "--days", "3", "--receipts", "60"]
    async with serving(argv, capsys) as banner:
        lines = dict(line.strip().split(":", 1) for line in banner.splitlines() if ":" in line)
        url = banner.splitlines()[0].removeprefix("bessa sandbox listening on ")
        token = lines["token (tenant A)"].strip()
        assert lines["receipts"].strip() == "60 of 2026-01-05..2026-01-07 (Vienna)"
        control = lines["control"].strip()
        assert control == url.removesuffix("v1/public/") + "_sandbox/"
        async with http.get(control) as resp:
            assert (await resp.json())["api"] == url
        headers = {"Authorization": f"Token {token}"}
        async with http.get(url + "receipts/?limit=500", headers=headers) as resp:
            receipts = (await resp.json())["results"]
    first = business_day(date(2026, 1, 5))[0]
    end = business_day(date(2026, 1, 7))[1] + timedelta(hours=6)
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in receipts]
    assert len(stamps) == 60
    assert all(first <= stamp < end for stamp in stamps)
    assert {stamp.astimezone(VIENNA).date() for stamp in stamps} >= {
        date(2026, 1, 5),
        date(2026, 1, 7),
    }


async def test_the_standalone_sandbox_takes_the_documented_calls_only(
    http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bessa_async.testing`: the --help example (a JSON POST, as curl --json sends
    it) takes a till offline; the same body as text/plain, or from a page, changes nothing."""
    assert "--json '{\"online\": false}'" in standalone.EPILOG
    async with serving(["--port", "0", "--receipts", "5"], capsys) as banner:
        control = banner.split("control:")[1].split()[0]
        online = control + "sales-points/online"
        body = json.dumps({"online": False})
        as_json = {"Content-Type": "application/json"}
        for headers, status in [
            ({"Content-Type": "text/plain"}, 415),
            ({**as_json, "Origin": "http://attacker.example"}, 403),
            ({**as_json, "Host": "attacker.example"}, 403),
            (as_json, 200),
        ]:
            async with http.post(online, data=body, headers=headers) as resp:
                assert (resp.status, (await resp.json()).get("online")) == (
                    status,
                    False if status == 200 else None,
                )


def test_a_bad_start_or_days_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--start must be a date and --days at least 1, said before anything is served."""
    for argv, message in [
        (["--start", "2026-02-30"], "argument --start: expected a date like 2026-06-01"),
        (["--days", "0"], "argument --days: expected a whole number >= 1"),
    ]:
        with pytest.raises(SystemExit) as info:
            standalone.main(argv)
        assert info.value.code == 2
        assert message in capsys.readouterr().err


def test_the_help_documents_the_control_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    """Both commands' --help show the endpoint table and the new options."""
    with pytest.raises(SystemExit):
        standalone.main(["--help"])
    out = capsys.readouterr().out
    assert endpoints_text() in out
    for option in ("--start", "--days", "--no-control"):
        assert option in out
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    assert endpoints_text() in capsys.readouterr().out


def test_bessa_with_sandbox_serves_the_days_bessa_sandbox_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bessa --sandbox export receipts --last 3 finds receipts: the in-process sandbox covers
    the 30 days up to yesterday, as the standalone one does (--sandbox-start pins them)."""
    target = tmp_path / "last.jsonl"
    argv = ["--sandbox", "--sandbox-receipts", "300", "export", "receipts", "--last", "3"]
    assert main([*argv, "--format", "jsonl", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8").splitlines()
    pinned = tmp_path / "june.jsonl"
    argv = ["--sandbox", "--sandbox-start", "2026-06-01", "--sandbox-receipts", "300"]
    export = ["export", "receipts", "--day", "2026-06-13", "--format", "jsonl"]
    assert main([*argv, *export, "--output", str(pinned)]) == 0
    assert pinned.read_text(encoding="utf-8").splitlines()
    capsys.readouterr()
