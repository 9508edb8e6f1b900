"""The control endpoint changes data and time: the documented curl lines against a standalone
sandbox in a child process, and each control's checks against one in this process."""

from __future__ import annotations

import json
import re
import shlex
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from cli_process import standalone_sandbox

from bessa_async.testing import FakeClock, Sandbox
from bessa_async.testing._faults import _SPEC_HELP, path_matches

_DOC = Path(__file__).parents[2] / "docs" / "testing.md"


def documented_calls() -> list[tuple[str, str, object]]:
    """The curl lines of testing.md's HTTP section as (method, path under the host, body)."""
    text = _DOC.read_text(encoding="utf-8")
    section = text[text.index("## Driving the standalone sandbox over HTTP") :]
    block = section[section.index("```sh") : section.index("```", section.index("```sh") + 5)]
    calls: list[tuple[str, str, object]] = []
    for line in block.splitlines():
        if not line.startswith("curl "):
            continue
        words = shlex.split(line)
        url = next(w for w in words if w.startswith("localhost:8080/"))
        path = url.removeprefix("localhost:8080")
        if "--json" in words:
            calls.append(("POST", path, json.loads(words[words.index("--json") + 1])))
        else:
            calls.append(("GET", path, None))
    return calls


DOCUMENTED = documented_calls()  # read at import: no file reads inside the event loop


def test_the_documented_lines_cover_every_new_control() -> None:
    """Each data and time control appears in the documented lines (a pure check)."""
    paths = {path for _, path, _ in DOCUMENTED}
    assert paths == {
        "/_sandbox/items/edit",
        "/_sandbox/items/insert",
        "/_sandbox/items/delete",
        "/_sandbox/receipts/upload-late",
        "/_sandbox/closings",
        "/_sandbox/commit-lag",
        "/_sandbox/clock",
    }


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield session


async def _api(http: aiohttp.ClientSession, url: str, token: str) -> Any:
    async with http.get(url, headers={"Authorization": f"Token {token}"}) as resp:
        return resp.status, json.loads(await resp.read())


async def test_the_documented_curl_lines_drive_a_standalone_sandbox(
    http: aiohttp.ClientSession,
) -> None:
    """'python -m bessa_async.testing' in a child process: every documented line answers 200
    and its effect shows through the API."""
    async with standalone_sandbox("--receipts", "40") as (_, printed):
        api, token = printed["bessa sandbox listening on"], printed["token (tenant A)"]
        base = api.removesuffix("/v1/public/")
        _, before = await _api(http, api + "receipts/?limit=1", token)
        answers = []
        for method, path, body in DOCUMENTED:
            async with http.request(method, base + path, json=body) as resp:
                answer = json.loads(await resp.read())
                assert resp.status == 200, (path, answer)
                answers.append(answer)
        _, edited = await _api(http, api + "articles/03393d74-4f8f-4723-b7de-6ddb685195fe/", token)
        assert edited["price"] == "5.90"
        _, articles = await _api(http, api + "articles/?limit=500", token)
        assert "Almdudler 0.33" in {a["name"] for a in articles["results"]}
        gone, _ = await _api(http, api + "articles/3b2445b4-1e3b-44ff-aff2-b18ee477f638/", token)
        assert gone == 404
        _, flagged = await _api(http, api + "articles/efcb5232-1209-4d69-a164-924583b4d9a1/", token)
        assert flagged["deleted"] is not None
        _, after = await _api(http, api + "receipts/?limit=1", token)
        assert after["count"] == before["count"] + 20
        _, closings = await _api(http, api + "reports/closings/?limit=500", token)
        assert closings["results"][-1]["id"] == answers[5]["id"]
        clock = answers[-1]
        now, client_now = (datetime.fromisoformat(clock[k]) for k in ("now", "client_now"))
        assert abs(now - client_now - timedelta(seconds=30)) < timedelta(seconds=1)  # read apart
        assert (clock["server_offset"], clock["commit_lag"]) == (30.0, 5.0)
        assert client_now > datetime.now(UTC) + timedelta(minutes=59)  # the hour jumped


class Control:
    """The control endpoint of one in-process sandbox, answers as (status, JSON)."""

    def __init__(self, sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
        self.sb = sandbox
        self.http = http

    async def __call__(
        self, path: str, body: object = None, *, method: str = "POST", **headers: str
    ) -> tuple[int, Any]:
        assert self.sb.control_url is not None
        sent = {"Content-Type": "application/json"}
        sent.update(headers)
        data = None if body is None else json.dumps(body)
        async with self.http.request(
            method, self.sb.control_url + path, data=data, headers=sent
        ) as resp:
            return resp.status, json.loads(await resp.read())


@pytest.fixture
def clock() -> FakeClock:
    """The sandbox's clock."""
    return FakeClock()


@pytest_asyncio.fixture
async def control(http: aiohttp.ClientSession, clock: FakeClock) -> AsyncIterator[Control]:
    """A sandbox with its control endpoint, on a FakeClock, jobs taking 1 s per step."""
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    async with Sandbox(receipts=20, clock=clock, now=now, job_delay=1, control=True) as sb:
        yield Control(sb, http)


def _article(sb: Sandbox) -> str:
    return str(sb.fixtures.article.id)


@pytest.mark.parametrize(
    ("path", "body", "names"),
    [
        ("items/edit", {"resource": "articles", "fields": {"price": "1.00"}}, "id: required"),
        ("items/edit", {"resource": "articles", "id": 7, "fields": {}}, "id: expected str"),
        ("items/edit", {"resource": "nope", "id": "x", "fields": {"a": 1}}, "no resource 'nope'"),
        ("items/edit", {"resource": "articles", "id": "A", "fields": [1]}, "fields: expected"),
        ("items/edit", {"resource": "articles", "id": "A", "fields": {"updated": "x"}}, "clock"),
        ("items/edit", {"resource": "articles", "id": "A", "fields": {"lag": 1}}, "no field"),
        ("items/edit", {"resource": "articles", "id": "A", "lag": -1}, "lag: expected seconds"),
        ("items/edit", {"resource": "articles", "id": "A", "price": "1.00"}, "unknown field"),
        ("items/insert", {"fields": {}}, "resource: required"),
        ("items/delete", {"resource": "articles", "id": "A", "soft": 1}, "soft: expected bool"),
        ("receipts/upload-late", {"count": 0}, "count must be at least 1"),
        ("receipts/upload-late", {"count": 10**9}, "at most 10000"),
        ("receipts/upload-late", {"count": True}, "count: expected int"),
        ("receipts/upload-late", {"hours_ago": "6"}, "hours_ago: expected hours"),
        ("receipts/upload-late", {"hours_ago": 0}, "hours_ago must be more than 0"),
        ("closings", {}, "sales_point: required"),
        ("commit-lag", {}, "seconds: required"),
        ("commit-lag", {"seconds": float("nan")}, "seconds: expected seconds"),
        ("clock", {}, "exactly one of advance, now, server_offset, got 0"),
        ("clock", {"advance": 1, "server_offset": 1}, "exactly one"),
        ("clock", {"advance": 1e12}, "at most ten years"),
        ("clock", {"now": "2026-07-02T00:00:00"}, "with its offset"),
        ("clock", {"now": "2020-01-01T00:00:00Z"}, "time only moves forward"),
        ("clock", {"server_offset": "30"}, "server_offset: expected seconds"),
    ],
)
async def test_a_bad_control_body_is_a_400_naming_it_and_changes_nothing(
    control: Control, path: str, body: dict[str, Any], names: str
) -> None:
    """Every data and time control checks its body before it acts."""
    sb = control.sb
    body = json.loads(json.dumps(body).replace('"A"', json.dumps(_article(sb))))
    before = {r: sb.items(r) for r in ("articles", "receipts", "reports/closings")}
    clock = (sb.now(), sb.server_offset, sb.commit_lag)
    status, answer = await control(path, body)
    assert status == 400, answer
    assert names in answer["detail"]
    assert {r: sb.items(r) for r in before} == before
    assert (sb.now(), sb.server_offset, sb.commit_lag) == clock


async def test_unknown_items_and_sales_points_are_404s(control: Control) -> None:
    """An id the tenant does not have is a 404 naming it."""
    missing = "00000000-0000-4000-8000-000000000000"
    for path, body in [
        ("items/edit", {"resource": "articles", "id": missing, "fields": {"price": "1.00"}}),
        ("items/delete", {"resource": "articles", "id": missing}),
        ("receipts/upload-late", {"sales_point": missing}),
        ("closings", {"sales_point": missing}),
    ]:
        status, answer = await control(path, body)
        assert status == 404, (path, answer)
        assert missing in answer["detail"]


async def test_the_new_controls_keep_the_endpoints_rules(control: Control) -> None:
    """A web page's request (an Origin, a text/plain body) is refused before anything changes."""
    body = {"resource": "articles", "id": _article(control.sb), "fields": {"price": "9.99"}}
    status, _ = await control("items/edit", body, Origin="http://evil.example")
    assert status == 403
    status, _ = await control("items/edit", body, **{"Content-Type": "text/plain"})
    assert status == 415
    status, _ = await control("clock", {"advance": 60}, Host="evil.example")
    assert status == 403
    [served] = [a for a in control.sb.items("articles") if a["id"] == _article(control.sb)]
    assert served["price"] == "4.90"


async def test_soft_and_hard_delete_whatever_the_sandbox_default(control: Control) -> None:
    """soft: true flags the item (still served), false removes it; absent: the sandbox's way."""
    sb = control.sb
    first, second, third = (str(a["id"]) for a in sb.items("articles")[:3])
    status, flagged = await control(
        "items/delete", {"resource": "articles", "id": first, "soft": True}
    )
    assert status == 200
    assert flagged["deleted"] == flagged["updated"] == sb.now().isoformat().replace("+00:00", "Z")
    assert any(a["id"] == first and a["deleted"] for a in sb.items("articles"))
    for ident, soft in ((second, False), (third, None)):
        body: dict[str, Any] = {"resource": "articles", "id": ident}
        if soft is not None:
            body["soft"] = soft
        assert (await control("items/delete", body))[0] == 200
        assert ident not in {a["id"] for a in sb.items("articles")}


async def test_commit_lag_and_the_clock_map_onto_the_sandbox(
    control: Control, clock: FakeClock
) -> None:
    """commit-lag delays the writes made after it; advancing the clock shows them and moves
    jobs; setting a time advances to it; server_offset sets the offset."""
    sb = control.sb
    status, state = await control("commit-lag", {"seconds": 5})
    assert (status, state["commit_lag"], sb.commit_lag) == (200, 5.0, timedelta(seconds=5))
    body = {"resource": "articles", "id": _article(sb), "fields": {"price": "5.90"}}
    assert (await control("items/edit", body))[0] == 200
    assert sb.pending_writes == 1
    start = clock.now
    assert (await control("clock", {"advance": 5}))[0] == 200
    assert clock.now == start + 5
    assert sb.pending_writes == 0
    target = sb.now() + timedelta(hours=2)
    status, state = await control("clock", {"now": target.isoformat()})
    assert status == 200
    assert sb.now() == target
    assert datetime.fromisoformat(state["now"]) == target
    status, state = await control("clock", {"server_offset": -30})
    assert (status, sb.server_offset) == (200, timedelta(seconds=-30))
    assert sb.now() == target - timedelta(seconds=30)
    status, got = await control("clock", method="GET")
    assert (status, got) == (200, state)


async def test_the_clock_of_an_in_process_sandbox_on_real_time_cannot_be_moved(
    http: aiohttp.ClientSession,
) -> None:
    """A sandbox on time.monotonic says how to get a movable clock, and nothing moves."""
    async with Sandbox(receipts=5, control=True) as sb:
        status, answer = await Control(sb, http)("clock", {"advance": 60})
    assert status == 400
    assert "FakeClock" in answer["detail"]
    with pytest.raises(ValueError, match="FakeClock"):
        sb.advance(1)


async def test_a_closed_day_counts_the_receipts_since_the_last_closing(control: Control) -> None:
    """closings adds a daily closing numbered after the Sales Point's last one, with the
    receipts since it; a sub-terminal is told to close its main Sales Point."""
    sb = control.sb
    point = str(sb.fixtures.sales_point.id)
    [late] = sb.upload_late(sales_point=point, count=1, hours_ago=1)
    status, closing = await control("closings", {"sales_point": point})
    assert status == 200, closing
    previous = [c for c in sb.data.closings if c["sales_point"] == point][-1]
    assert closing["number"] == previous["number"] + 1
    assert closing["start"] == previous["end"]
    assert closing["receipts"] >= 1
    assert sb.items("reports/closings")[-1] == closing
    status, again = await control("closings", {"sales_point": point})
    assert (again["number"], again["receipts"], again["gross"]) == (
        closing["number"] + 1,
        0,
        "0.00",
    )
    assert late["total"] != "0.00"
    sub = next((p for p in sb.data.sales_points if p["main"] is not None), None)
    if sub is not None:
        status, answer = await control("closings", {"sales_point": str(sub["id"])})
        assert status == 400
        assert re.search("sub-terminal: close its main one", answer["detail"])


@pytest.mark.parametrize(
    ("pattern", "path", "taken"),
    [
        ("reports/", "reports/sales/", False),
        ("reports/*", "reports/sales/", True),
        ("reports/*", "reports/closings/", True),
        ("receipts/", "receipts/", True),
        ("receipts/", f"receipts/{uuid.UUID(int=1)}/", False),
        ("requests/orders/*/", f"requests/orders/{uuid.UUID(int=1)}/", True),
        ("requests/orders/*/", "requests/orders/", False),
    ],
)
def test_a_fault_path_is_matched_whole_with_wildcards(pattern: str, path: str, taken: bool) -> None:
    """One rule for inject(path=), --faults and the control endpoint: the whole path, shell
    wildcards with * spanning /."""
    assert path_matches(pattern, path) is taken


def test_the_fault_help_says_what_a_path_pattern_is() -> None:
    """--faults' help names the rule and the way to reach everything under a path."""
    assert "the whole path under /v1/public/" in _SPEC_HELP
    assert "reports/*" in _SPEC_HELP


async def test_a_fault_on_reports_star_reaches_the_sales_report(
    control: Control, http: aiohttp.ClientSession
) -> None:
    """A spec's @PATH follows the rule: reports/ leaves reports/sales/ alone, reports/* fails it."""
    sb = control.sb
    url = sb.url + "reports/sales/?start=2026-06-01&end=2026-06-02"
    headers = {"Authorization": f"Token {sb.token}"}
    for spec, expected in (("503@reports/", 200), ("503@reports/*", 503)):
        sb.clear_faults()
        assert (await control("faults", {"spec": spec}))[0] == 200
        async with http.get(url, headers=headers) as resp:
            assert resp.status == expected, spec
            await resp.read()
