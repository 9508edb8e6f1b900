"""The sandbox as a server: DRF-faithful answers over real loopback HTTP, read with raw aiohttp.

These tests do not use the client library, so the sandbox is pinned on its own terms: what a
Django REST Framework deployment of the modelled API would answer, byte for byte where it matters.
"""

from __future__ import annotations

import asyncio
import enum
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, final
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import attrs
import pytest
import pytest_asyncio
from cli_process import standalone_sandbox
from multidict import CIMultiDictProxy
from yarl import URL

from bessa_async import BessaClient
from bessa_async.testing import FakeClock, Fault, Sandbox
from bessa_async.testing._faults import BodyKind

CEST: Final = timezone(timedelta(hours=2))
NO_CREDENTIALS: Final = "Authentication credentials were not provided."
NO_PERMISSION: Final = "You do not have permission to perform this action."
INVALID_DATETIME: Final = "Enter a valid date/time."
LIST_PATHS: Final = (
    "companies/",
    "locations/",
    "sales-points/",
    "tax-rates/",
    "article-groups/",
    "articles/",
    "article-options/",
    "payment-methods/",
    "tables/",
    "users/",
    "receipts/",
    "reports/closings/",
    "stock-levels/",
    "requests/orders/",
    "requests/payments/",
)


class _Default(enum.Enum):
    TOKEN = enum.auto()


TENANT_A: Final = _Default.TOKEN


@final
@attrs.frozen
class Answer:
    """One HTTP answer, read completely."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@final
class Api:
    """Raw HTTP against one sandbox; requests carry tenant A's token unless told otherwise."""

    def __init__(self, sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
        self.sb = sandbox
        self.http = http

    def url(self, target: str) -> URL:
        """The URL as sent, unchanged (``%2B`` stays ``%2B``, ``+`` stays ``+``).

        ``target`` is absolute, a path from the server root (``/...``) or relative to the base.
        """
        if target.startswith("http"):
            absolute = target
        elif target.startswith("/"):
            absolute = str(URL(self.sb.url).origin()) + target
        else:
            absolute = self.sb.url + target
        return URL(absolute, encoded=True)

    async def send(
        self,
        method: str,
        target: str,
        *,
        token: str | _Default | None = TENANT_A,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        body: object = None,
        session: aiohttp.ClientSession | None = None,
    ) -> Answer:
        """Send one request (``body`` as JSON, ``data`` as raw bytes) and read the answer."""
        sent = dict(headers or {})
        chosen = self.sb.token if token is TENANT_A else token
        if isinstance(chosen, str):
            sent["Authorization"] = f"Token {chosen}"
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        async with (session or self.http).request(
            method, self.url(target), headers=sent, data=data, allow_redirects=False
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    async def get(self, target: str, *, token: str | _Default | None = TENANT_A) -> Answer:
        """GET ``target`` (relative to the API base, or absolute)."""
        return await self.send("GET", target, token=token)

    async def page(self, target: str) -> dict[str, Any]:
        """GET a list page that must answer 200."""
        answer = await self.get(target)
        assert answer.status == 200, answer.body
        page: dict[str, Any] = answer.json()
        return page

    async def walk(self, target: str) -> list[dict[str, Any]]:
        """Every item of a list, following ``next`` URLs until null."""
        page = await self.page(target)
        items: list[dict[str, Any]] = list(page["results"])
        while page["next"] is not None:
            page = await self.page(page["next"])
            items.extend(page["results"])
        return items

    async def post(self, target: str, body: object, **headers: str) -> Answer:
        """POST ``body`` as JSON with tenant A's token."""
        return await self.send("POST", target, body=body, headers=headers)


@pytest_asyncio.fixture
async def sb() -> AsyncIterator[Sandbox]:
    """A small seeded sandbox on loopback."""
    async with Sandbox(receipts=300) as sandbox:
        yield sandbox


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(sb: Sandbox, http: aiohttp.ClientSession) -> Api:
    """Raw HTTP against ``sb``."""
    return Api(sb, http)


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _order(sb: Sandbox, **changes: object) -> dict[str, Any]:
    point = next(p for p in sb.data.sales_points if p["status"] == "active")
    article = next(a for a in sb.data.articles if a["active"])
    body: dict[str, Any] = {
        "sales_point": point["id"],
        "reference": "webshop-10045",
        "lines": [{"article": article["id"], "quantity": "2"}],
    }
    body.update(changes)
    return body


def _payment(sb: Sandbox, **changes: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sales_point": sb.data.sales_points[0]["id"],
        "order": str(uuid.uuid4()),
        "payment_method": sb.data.payment_methods[0]["id"],
        "amount": "19.80",
        "tip": "1.20",
        "reference": "psp-7781",
    }
    body.update(changes)
    return body


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# --- authentication and permissions ---------------------------------------------------------


async def test_no_token_is_401_with_the_token_challenge(api: Api) -> None:
    """Without Authorization, DRF's 401 body and 'WWW-Authenticate: Token'."""
    answer = await api.get("articles/", token=None)
    assert answer.status == 401
    assert answer.json() == {"detail": NO_CREDENTIALS}
    assert answer.headers["WWW-Authenticate"] == "Token"
    assert answer.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token wrong-token", "Invalid token."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token abc def", "Invalid token header. Token string should not contain spaces."),
        ("Bearer abc", NO_CREDENTIALS),
        ("token {token}x", "Invalid token."),
    ],
)
async def test_bad_authorization_headers_get_drf_messages(
    api: Api, sb: Sandbox, header: str, detail: str
) -> None:
    """Each malformed or unknown token answers 401 with TokenAuthentication's exact detail."""
    answer = await api.send(
        "GET", "articles/", token=None, headers={"Authorization": header.format(token=sb.token)}
    )
    assert answer.status == 401
    assert answer.json() == {"detail": detail}
    assert answer.headers["WWW-Authenticate"] == "Token"


async def test_keyword_is_case_insensitive(api: Api, sb: Sandbox) -> None:
    """DRF compares the 'Token' keyword case-insensitively."""
    answer = await api.send(
        "GET", "companies/", token=None, headers={"Authorization": f"token {sb.token}"}
    )
    assert answer.status == 200


async def test_the_token_selects_the_tenant(api: Api, sb: Sandbox) -> None:
    """Tenant B's token reads tenant B's companies, which tenant A never sees."""
    ids_a = {c["id"] for c in (await api.page("companies/"))["results"]}
    answer = await api.get("companies/", token=sb.other_token)
    ids_b = {c["id"] for c in answer.json()["results"]}
    assert ids_a == {c["id"] for c in sb.data.companies}
    assert ids_b == {c["id"] for c in sb.other_data.companies}
    assert ids_b
    assert not ids_a & ids_b
    receipts_b = await api.get("receipts/?limit=1", token=sb.other_token)
    assert receipts_b.json()["count"] == len(sb.other_data.receipts) == 30


@pytest.mark.parametrize(
    "path",
    [
        "receipts/",
        "reports/sales/?start=2026-06-01&end=2026-06-02",
        "reports/closings/",
        "requests/orders/",
        "requests/payments/",
    ],
)
async def test_restricted_token_is_403_on_protected_resources(
    api: Api, sb: Sandbox, path: str
) -> None:
    """A valid token without rights gets DRF's 403 detail, not a 401."""
    answer = await api.get(path, token=sb.restricted_token)
    assert answer.status == 403
    assert answer.json() == {"detail": NO_PERMISSION}
    assert "WWW-Authenticate" not in answer.headers


async def test_restricted_token_reads_master_data_and_cannot_post(api: Api, sb: Sandbox) -> None:
    """The restricted token reads articles of tenant A; its POSTs are refused with 403."""
    answer = await api.get("articles/", token=sb.restricted_token)
    assert answer.status == 200
    assert answer.json()["count"] == len(sb.data.articles)
    posted = await api.send("POST", "requests/orders/", token=sb.restricted_token, body=_order(sb))
    assert posted.status == 403
    assert sb.jobs("order") == []


# --- paths, methods, redirects --------------------------------------------------------------


@pytest.mark.parametrize("path", LIST_PATHS)
async def test_every_list_path_answers_a_page_and_details(api: Api, sb: Sandbox, path: str) -> None:
    """Each list is a {count,next,previous,results} page; items with an id have a detail URL."""
    resource = path.rstrip("/")
    if resource == "requests/orders":
        assert (await api.post(path, _order(sb))).status == 202
    elif resource == "requests/payments":
        assert (await api.post(path, _payment(sb))).status == 202
    page = await api.page(path)
    assert list(page) == ["count", "next", "previous", "results"]
    expected: Sequence[object] = sb.data.resources().get(resource, [{}])
    assert page["count"] == len(expected)
    assert len(page["results"]) == min(25, len(expected))
    if not resource.startswith("requests/"):
        assert page["results"] == list(expected[:25]), "the data's own order is the API's"
    assert page["previous"] is None
    assert (page["next"] is None) == (len(expected) <= 25)
    first = page["results"][0]
    if "id" in first:
        detail = await api.get(f"{path}{first['id']}/")
        assert detail.status == 200
        assert detail.json() == first
    else:
        assert resource == "stock-levels"
        assert (await api.get(f"{path}{first['article']}/")).status == 404


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("articles/", "Article"),
        ("receipts/", "Receipt"),
        ("reports/closings/", "Closing"),
        ("requests/orders/", "Job"),
        ("sales-points/", "SalesPoint"),
    ],
)
async def test_unknown_and_malformed_ids_are_404(api: Api, path: str, name: str) -> None:
    """An unknown UUID names the model (get_object_or_404); a malformed id is 'Not found.'."""
    unknown = await api.get(f"{path}{uuid.uuid4()}/")
    assert unknown.status == 404
    assert unknown.json() == {"detail": f"No {name} matches the given query."}
    malformed = await api.get(f"{path}not-a-uuid/")
    assert malformed.status == 404
    assert malformed.json() == {"detail": "Not found."}


async def test_detail_accepts_a_non_canonical_uuid(api: Api, sb: Sandbox) -> None:
    """An upper-case id finds the item, as a UUIDField lookup does."""
    article = sb.data.articles[0]
    answer = await api.get(f"articles/{article['id'].upper()}/")
    assert answer.status == 200
    assert answer.json()["id"] == article["id"]


@pytest.mark.parametrize(
    "target",
    ["nowhere/", "articles/a/b/", "reports/", "reports/sales/x/", "", "/other/", "/v1/public"],
)
async def test_unknown_paths_are_404(api: Api, target: str) -> None:
    """Paths no route serves answer 404 JSON, authenticated or not."""
    for token in (TENANT_A, None):
        answer = await api.get(target, token=token)
        assert answer.status == 404, (target, token)
        assert answer.json() == {"detail": "Not found."}


async def test_missing_slash_redirects_with_the_query_kept(api: Api) -> None:
    """Django's APPEND_SLASH: 301 to the slashed URL, query untouched, before authentication."""
    target = "articles?limit=3&updated__gte=2026-01-01T00:00:00%2B02:00"
    answer = await api.get(target, token=None)
    assert answer.status == 301
    location = answer.headers["Location"]
    assert location == "/v1/public/articles/?limit=3&updated__gte=2026-01-01T00:00:00%2B02:00"
    followed = await api.get(location)
    assert followed.status == 200
    assert len(followed.json()["results"]) == 3
    detail = await api.get(f"receipts/{uuid.uuid4()}", token=None)
    assert detail.status == 301
    assert detail.headers["Location"].endswith("/")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "articles/", "GET, HEAD, OPTIONS"),
        ("POST", "articles/", "GET, HEAD, OPTIONS"),
        ("PUT", "receipts/", "GET, HEAD, OPTIONS"),
        ("PATCH", "requests/orders/", "GET, POST, HEAD, OPTIONS"),
        ("DELETE", "requests/orders/{id}/", "GET, HEAD, OPTIONS"),
        ("POST", "reports/sales/", "GET, HEAD, OPTIONS"),
    ],
)
async def test_other_methods_are_405_with_allow(
    api: Api, sb: Sandbox, method: str, path: str, allow: str
) -> None:
    """A method the view lacks answers 405, DRF's detail and the Allow header."""
    answer = await api.send(method, path.format(id=uuid.uuid4()))
    assert answer.status == 405
    assert answer.json() == {"detail": f'Method "{method}" not allowed.'}
    assert answer.headers["Allow"] == allow


async def test_405_comes_after_authentication(api: Api) -> None:
    """DRF authenticates before it dispatches: DELETE without a token is a 401."""
    answer = await api.send("DELETE", "articles/", token=None)
    assert answer.status == 401


async def test_options_describes_the_view(api: Api) -> None:
    """OPTIONS answers DRF's metadata and the Allow header; it needs a token too."""
    answer = await api.send("OPTIONS", "articles/")
    assert answer.status == 200
    meta = answer.json()
    assert meta["name"] == "Article List"
    assert meta["renders"] == ["application/json"]
    assert answer.headers["Allow"] == "GET, HEAD, OPTIONS"
    jobs = await api.send("OPTIONS", f"requests/orders/{uuid.uuid4()}/")
    assert jobs.json()["name"] == "Job Instance"
    assert (await api.send("OPTIONS", "requests/orders/")).headers["Allow"] == (
        "GET, POST, HEAD, OPTIONS"
    )
    assert (await api.send("OPTIONS", "articles/", token=None)).status == 401


async def test_head_answers_headers_without_body(api: Api) -> None:
    """HEAD gets the GET's status and length, no body."""
    answer = await api.send("HEAD", "articles/")
    full = await api.get("articles/")
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers["Content-Length"] == str(len(full.body))


# --- pagination -----------------------------------------------------------------------------


async def test_default_page_size_is_25_and_limit_sets_it(api: Api) -> None:
    """25 items by default, 'limit' items when asked."""
    assert len((await api.page("receipts/"))["results"]) == 25
    assert len((await api.page("receipts/?limit=40"))["results"]) == 40
    assert len((await api.page("receipts/?limit=1"))["results"]) == 1


async def test_limit_is_clamped_to_max_limit(http: aiohttp.ClientSession) -> None:
    """A limit above max_limit gives max_limit items; below it, exactly limit."""
    async with Sandbox(receipts=120, max_limit=50) as sandbox:
        clamped = Api(sandbox, http)
        assert len((await clamped.page("receipts/?limit=1000"))["results"]) == 50
        assert len((await clamped.page("receipts/?limit=50"))["results"]) == 50
        assert len((await clamped.page("receipts/?limit=30"))["results"]) == 30


@pytest.mark.parametrize("limit", ["abc", "0", "-3", "", "2.5", "1e3"])
async def test_invalid_limit_falls_back_to_the_default(api: Api, limit: str) -> None:
    """DRF's CursorPagination ignores an unusable page size instead of answering 400."""
    page = await api.page(f"receipts/?limit={limit}")
    assert len(page["results"]) == 25


async def test_last_limit_wins(api: Api) -> None:
    """A repeated parameter is read as Django's QueryDict does: the last value."""
    assert len((await api.page("receipts/?limit=3&limit=7"))["results"]) == 7


async def test_following_next_yields_every_receipt_once_in_order(api: Api, sb: Sandbox) -> None:
    """Receipts come once each, by timestamp then id, and previous walks the same pages back."""
    pages = [await api.page("receipts/?limit=37")]
    while pages[-1]["next"] is not None:
        assert pages[-1]["next"].startswith(sb.url + "receipts/?")
        pages.append(await api.page(pages[-1]["next"]))
    receipts = [r for page in pages for r in page["results"]]
    assert len(pages) == 9
    assert len(receipts) == len({r["id"] for r in receipts}) == 300
    assert all(page["count"] == 300 for page in pages)
    keys = [(_stamp(r["timestamp"]), r["id"]) for r in receipts]
    assert keys == sorted(keys)
    assert [r["id"] for r in receipts] == [r["id"] for r in sb.data.receipts]
    back = [pages[-1]]
    while back[-1]["previous"] is not None:
        back.append(await api.page(back[-1]["previous"]))
    assert [p["results"] for p in reversed(back)] == [p["results"] for p in pages]
    assert back[-1]["next"] == pages[0]["next"]


async def test_filtered_walk_keeps_filters_in_next(api: Api, sb: Sandbox) -> None:
    """next repeats every other parameter, so a filtered walk stays filtered."""
    page = await api.page("receipts/?type=invoice&limit=10&colour=blue")
    assert page["next"] is not None
    assert _query(page["next"]).keys() == {"type", "limit", "colour", "cursor"}
    assert _query(page["next"])["type"] == "invoice"
    invoices = await api.walk("receipts/?type=invoice&limit=10&colour=blue")
    expected = [r["id"] for r in sb.data.receipts if r["type"] == "invoice"]
    assert [r["id"] for r in invoices] == expected


async def test_next_query_is_built_like_drf(api: Api) -> None:
    """DRF's replace_query_param: names sorted, a repeated name's values in their own order."""
    page = await api.page("articles/?zeta=2&limit=5&zeta=1&alpha=x&cursor=")
    assert page["next"] is not None
    pairs = parse_qsl(urlsplit(page["next"]).query, keep_blank_values=True)
    assert [name for name, _ in pairs] == ["alpha", "cursor", "limit", "zeta", "zeta"]
    assert [value for name, value in pairs if name == "zeta"] == ["2", "1"]


async def test_next_keeps_an_offset_encoded(api: Api, sb: Sandbox) -> None:
    """A '+02:00' filter travels on in next as %2B, so the window does not change."""
    page = await api.page("receipts/?timestamp__gte=2026-06-10T00:00:00%2B02:00&limit=5")
    assert "%2B02%3A00" in page["next"]
    second = await api.get(page["next"])
    assert second.status == 200
    assert sb.requests[-1].query[0] == ("cursor", _query(page["next"])["cursor"])
    assert ("timestamp__gte", "2026-06-10T00:00:00+02:00") in sb.requests[-1].query


async def test_cursor_style_emits_bare_cursors(http: aiohttp.ClientSession) -> None:
    """With next_style='cursor', next/previous are opaque tokens sent back as 'cursor='."""
    async with Sandbox(receipts=60, next_style="cursor") as sandbox:
        bare = Api(sandbox, http)
        page = await bare.page("receipts/?limit=25")
        seen = [r["id"] for r in page["results"]]
        while page["next"] is not None:
            token = page["next"]
            assert "/" not in token
            assert "?" not in token
            page = await bare.page(f"receipts/?limit=25&cursor={token}")
            seen.extend(r["id"] for r in page["results"])
        assert seen == [r["id"] for r in sandbox.data.receipts]
        assert page["previous"] is not None
        before = await bare.page(f"receipts/?limit=25&cursor={page['previous']}")
        assert [r["id"] for r in before["results"]] == seen[25:50]


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjpudWxsfQ", "%25%25", "AAAA"])
async def test_garbage_cursor_is_404_invalid_cursor(api: Api, cursor: str) -> None:
    """An unreadable cursor is DRF's 404 'Invalid cursor', not a 400."""
    answer = await api.get(f"receipts/?cursor={cursor}")
    assert answer.status == 404
    assert answer.json() == {"detail": "Invalid cursor"}


# --- filters --------------------------------------------------------------------------------


async def test_timestamp_window_with_offsets(api: Api, sb: Sandbox) -> None:
    """%2B02:00 bounds select exactly the receipts in the intended UTC window."""
    pivot = sb.data.receipts[150]
    lo = _stamp(pivot["timestamp"]).astimezone(CEST)
    hi = lo + timedelta(days=2)
    encoded = [moment.isoformat().replace("+", "%2B") for moment in (lo, hi)]
    assert all("%2B02:00" in value for value in encoded)
    found = await api.walk(
        f"receipts/?timestamp__gte={encoded[0]}&timestamp__lt={encoded[1]}&limit=100"
    )
    expected = [r["id"] for r in sb.data.receipts if lo <= _stamp(r["timestamp"]) < hi]
    assert [r["id"] for r in found] == expected
    assert found[0]["id"] == pivot["id"], "read as UTC, the window would start 2 h later"
    utc_end = hi.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    same = await api.walk(f"receipts/?timestamp__gte={encoded[0]}&timestamp__lt={utc_end}")
    assert [r["id"] for r in same] == expected


async def test_bare_date_and_naive_timestamps_are_utc(api: Api, sb: Sandbox) -> None:
    """A bare date is UTC midnight and a value without offset is UTC."""
    bare = await api.walk("receipts/?timestamp__gte=2026-06-20&limit=500")
    naive = await api.walk("receipts/?timestamp__gte=2026-06-20T00:00:00&limit=500")
    start = datetime(2026, 6, 20, tzinfo=UTC)
    expected = [r["id"] for r in sb.data.receipts if _stamp(r["timestamp"]) >= start]
    assert [r["id"] for r in bare] == [r["id"] for r in naive] == expected


async def test_unencoded_plus_is_read_as_space_and_rejected(api: Api, sb: Sandbox) -> None:
    """A literal '+' in the query is a space to Django: 400 with the field map."""
    answer = await api.get("receipts/?timestamp__gte=2026-06-15T00:00:00+02:00")
    assert answer.status == 400
    assert answer.json() == {"timestamp__gte": [INVALID_DATETIME]}
    assert sb.requests[-1].query == (("timestamp__gte", "2026-06-15T00:00:00 02:00"),)


@pytest.mark.parametrize(
    ("target", "errors"),
    [
        (
            "receipts/?sales_point=nope",
            {"sales_point": ["\u201cnope\u201d is not a valid UUID."]},
        ),
        ("articles/?active=maybe", {"active": ["Must be a valid boolean."]}),
        (
            "receipts/?type=foo",
            {"type": ["Select a valid choice. foo is not one of the available choices."]},
        ),
        (
            "reports/closings/?type=weekly",
            {"type": ["Select a valid choice. weekly is not one of the available choices."]},
        ),
        (
            "requests/orders/?status=done",
            {"status": ["Select a valid choice. done is not one of the available choices."]},
        ),
        ("companies/?updated__gte=yesterday", {"updated__gte": [INVALID_DATETIME]}),
        ("receipts/?timestamp__lt=2026-02-30", {"timestamp__lt": [INVALID_DATETIME]}),
        (
            "receipts/?type=foo&location=bar&updated__lt=x",
            {
                "updated__lt": [INVALID_DATETIME],
                "location": ["\u201cbar\u201d is not a valid UUID."],
                "type": ["Select a valid choice. foo is not one of the available choices."],
            },
        ),
    ],
)
async def test_invalid_filter_values_are_400_field_maps(
    api: Api, target: str, errors: dict[str, list[str]]
) -> None:
    """A bad value for a known filter answers 400 naming every bad field with its message."""
    answer = await api.get(target)
    assert answer.status == 400
    assert answer.json() == errors


async def test_unknown_and_empty_parameters_are_ignored(api: Api) -> None:
    """Parameters no filter knows, and empty filter values, change nothing (DRF, django-filter)."""
    plain = await api.page("articles/?limit=50")
    noisy = await api.page("articles/?limit=50&colour=blue&active=&timestamp__gte=x&format=")
    assert noisy == plain


async def test_updated_gte_selects_recently_changed_items(api: Api, sb: Sandbox) -> None:
    """updated__gte keeps the items changed at or after the instant."""
    stamps = sorted(_stamp(a["updated"]) for a in sb.data.articles)
    pivot = stamps[len(stamps) // 2]
    value = pivot.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    found = await api.walk(f"articles/?updated__gte={value}&limit=100")
    expected = {a["id"] for a in sb.data.articles if _stamp(a["updated"]) >= pivot}
    assert {a["id"] for a in found} == expected
    assert 0 < len(expected) < len(sb.data.articles)


@pytest.mark.parametrize(("value", "active"), [("true", True), ("False", False), ("1", True)])
async def test_articles_active_filter(api: Api, sb: Sandbox, value: str, active: bool) -> None:
    """active=<boolean word> keeps the articles with that flag."""
    found = await api.walk(f"articles/?active={value}&limit=100")
    expected = [a["id"] for a in sb.data.articles if a["active"] is active]
    assert [a["id"] for a in found] == expected
    assert expected


async def test_equality_filters_on_receipts(api: Api, sb: Sandbox) -> None:
    """sales_point and type select the matching receipts, in any UUID spelling."""
    point = sb.data.receipts[0]["sales_point"]
    found = await api.walk(f"receipts/?sales_point={point.upper().replace('-', '')}&limit=100")
    assert [r["id"] for r in found] == [
        r["id"] for r in sb.data.receipts if r["sales_point"] == point
    ]
    training = await api.walk("receipts/?type=training")
    assert [r["type"] for r in training] == ["training"] * 2


# --- reports/sales/ -------------------------------------------------------------------------


async def test_sales_report_needs_start_and_end(api: Api) -> None:
    """Without start and end, 400 with both fields required; bad values are named too."""
    missing = await api.get("reports/sales/")
    assert missing.status == 400
    assert missing.json() == {
        "start": ["This field is required."],
        "end": ["This field is required."],
    }
    bad = await api.get("reports/sales/?start=2026-06-01&end=soon&location=x")
    assert bad.json() == {
        "end": [INVALID_DATETIME],
        "location": ["\u201cx\u201d is not a valid UUID."],
    }
    backwards = await api.get("reports/sales/?start=2026-06-02&end=2026-06-01")
    assert backwards.status == 400
    assert list(backwards.json()) == ["non_field_errors"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-05-01T00:00:00Z", "2026-08-01T00:00:00Z"),
        ("2026-06-10T06:00:00%2B02:00", "2026-06-17T06:00:00%2B02:00"),
    ],
)
async def test_sales_report_adds_up_the_listed_receipts(api: Api, start: str, end: str) -> None:
    """gross and tip are the invoice and cancellation sums of the window; training never counts."""
    listed = await api.walk(f"receipts/?timestamp__gte={start}&timestamp__lt={end}&limit=500")
    revenue = [r for r in listed if r["type"] in ("invoice", "cancellation")]
    assert any(r["type"] == "cancellation" for r in revenue)
    answer = await api.get(f"reports/sales/?start={start}&end={end}")
    assert answer.status == 200
    report = answer.json()
    assert report["receipts"] == len(revenue)
    assert Decimal(report["gross"]) == sum(Decimal(r["total"]) for r in revenue)
    assert Decimal(report["tip"]) == sum(Decimal(r["tip"]) for r in revenue)
    assert sum(Decimal(t["gross"]) for t in report["by_tax_rate"]) == Decimal(report["gross"])
    assert sum(Decimal(t["net"]) for t in report["by_tax_rate"]) == Decimal(report["net"])
    paid = sum(Decimal(m["amount"]) for m in report["by_payment_method"])
    assert paid == Decimal(report["gross"]) + Decimal(report["tip"])
    assert report["start"].endswith("Z")
    with_training = sum(Decimal(r["total"]) for r in listed if r["type"] != "cancellation")
    assert start.startswith("2026-06-10") or with_training > Decimal(report["gross"])


async def test_sales_report_by_sales_point(api: Api, sb: Sandbox) -> None:
    """sales_point narrows the report to that Sales Point's receipts."""
    point = sb.data.receipts[0]["sales_point"]
    report = (
        await api.get(f"reports/sales/?start=2026-06-01&end=2026-08-01&sales_point={point}")
    ).json()
    mine = [
        r
        for r in sb.data.receipts
        if r["sales_point"] == point and r["type"] in ("invoice", "cancellation")
    ]
    assert report["receipts"] == len(mine)
    assert Decimal(report["gross"]) == sum(Decimal(r["total"]) for r in mine)


# --- jobs -----------------------------------------------------------------------------------


async def test_order_submission_is_202_with_location(api: Api, sb: Sandbox) -> None:
    """A valid order answers 202 with the pending job and a Location that reads it back."""
    answer = await api.post("requests/orders/", _order(sb))
    assert answer.status == 202
    job = answer.json()
    assert set(job) == {
        "id",
        "type",
        "status",
        "reference",
        "sales_point",
        "created",
        "updated",
        "result",
        "error",
    }
    assert (job["type"], job["status"], job["reference"]) == ("order", "pending", "webshop-10045")
    assert (job["result"], job["error"]) == (None, None)
    location = answer.headers["Location"]
    assert location == f"/v1/public/requests/orders/{job['id']}/"
    again = await api.get(location.removeprefix("/v1/public/"))
    assert again.status == 200
    assert again.json()["id"] == job["id"]


async def test_job_moves_pending_processing_completed(http: aiohttp.ClientSession) -> None:
    """On the sandbox clock, a job is picked up after job_delay and finished after another."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sandbox:
        jobs = Api(sandbox, http)
        job = (await jobs.post("requests/orders/", _order(sandbox))).json()
        path = f"requests/orders/{job['id']}/"
        clock.advance(0.5)
        assert (await jobs.get(path)).json()["status"] == "pending"
        clock.advance(0.5)
        assert (await jobs.get(path)).json()["status"] == "processing"
        clock.advance(1)
        done = (await jobs.get(path)).json()
        assert done["status"] == "completed"
        assert done["error"] is None
        uuid.UUID(done["result"]["order"])
        listed = await jobs.page("requests/orders/?status=completed")
        assert [j["id"] for j in listed["results"]] == [job["id"]]
        assert (await jobs.page("requests/orders/?status=pending"))["count"] == 0


async def test_offline_sales_point_keeps_jobs_pending_until_expiry(
    http: aiohttp.ClientSession,
) -> None:
    """While every Sales Point is offline, jobs stay pending, then end expired after job_expiry."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1, job_expiry=60) as sandbox:
        jobs = Api(sandbox, http)
        sandbox.set_sales_point_online(None, False)
        job = (await jobs.post("requests/orders/", _order(sandbox))).json()
        path = f"requests/orders/{job['id']}/"
        clock.advance(59)
        assert (await jobs.get(path)).json()["status"] == "pending"
        clock.advance(1)
        expired = (await jobs.get(path)).json()
        assert expired["status"] == "expired"
        assert expired["error"]["code"] == "expired"
        sandbox.set_sales_point_online(None, True)
        clock.advance(10)
        assert (await jobs.get(path)).json()["status"] == "expired"


async def test_sales_point_back_online_processes_the_job(http: aiohttp.ClientSession) -> None:
    """A job waiting for an offline Sales Point is processed once it comes back, afresh."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sandbox:
        jobs = Api(sandbox, http)
        body = _order(sandbox)
        sandbox.set_sales_point_online(body["sales_point"], False)
        job = (await jobs.post("requests/orders/", body)).json()
        clock.advance(30)
        assert sandbox.jobs("order")[0]["status"] == "pending"
        sandbox.set_sales_point_online(body["sales_point"], True)
        answer = await jobs.get(f"requests/orders/{job['id']}/")
        assert answer.json()["status"] == "pending"
        clock.advance(2)
        answer = await jobs.get(f"requests/orders/{job['id']}/")
        assert answer.json()["status"] == "completed"


async def test_inactive_article_fails_the_job(http: aiohttp.ClientSession) -> None:
    """The till refuses an inactive article: failed with code article_inactive."""
    clock = FakeClock()
    async with Sandbox(receipts=20, clock=clock, job_delay=1) as sandbox:
        jobs = Api(sandbox, http)
        article = next(a for a in sandbox.data.articles if not a["active"])
        body = _order(sandbox, lines=[{"article": article["id"], "quantity": "1"}])
        answer = await jobs.post("requests/orders/", body)
        assert answer.status == 202
        clock.advance(2)
        failed = (await jobs.get(f"requests/orders/{answer.json()['id']}/")).json()
        assert failed["status"] == "failed"
        assert failed["result"] is None
        assert failed["error"] == {
            "code": "article_inactive",
            "detail": f"Article '{article['name']}' is not available.",
        }


async def test_order_validation_errors_are_field_maps(api: Api, sb: Sandbox) -> None:
    """Empty lines, bad lines and unknown references answer 400 with DRF's nested map."""
    empty = await api.post("requests/orders/", _order(sb, lines=[]))
    assert empty.status == 400
    assert empty.json() == {"lines": ["This list may not be empty."]}
    unknown = str(uuid.uuid4())
    good = _order(sb)["lines"][0]
    nested = await api.post(
        "requests/orders/",
        _order(sb, lines=[good, {"article": unknown, "quantity": "0"}]),
    )
    assert nested.json() == {
        "lines": [
            {},
            {
                "article": [f'Invalid pk "{unknown}" - object does not exist.'],
                "quantity": ["Ensure this value is greater than 0."],
            },
        ]
    }
    point = await api.post("requests/orders/", _order(sb, sales_point=unknown))
    assert point.json() == {"sales_point": [f'Invalid pk "{unknown}" - object does not exist.']}
    missing = await api.post("requests/orders/", {"reference": "x"})
    assert missing.json() == {
        "sales_point": ["This field is required."],
        "lines": ["This field is required."],
    }
    assert sb.jobs("order") == []


async def test_idempotency_key_replays_or_conflicts(api: Api, sb: Sandbox) -> None:
    """The same key and body answer the same job; the same key with another body is a 409."""
    key = str(uuid.uuid4())
    first = await api.post("requests/orders/", _order(sb), **{"Idempotency-Key": key})
    again = await api.post("requests/orders/", _order(sb), **{"Idempotency-Key": key})
    assert first.status == again.status == 202
    assert first.json()["id"] == again.json()["id"]
    assert len(sb.jobs("order")) == 1
    changed = await api.post("requests/orders/", _order(sb, note="x"), **{"Idempotency-Key": key})
    assert changed.status == 409
    assert "Idempotency-Key" in changed.json()["detail"]
    other = await api.post("requests/orders/", _order(sb), **{"Idempotency-Key": str(uuid.uuid4())})
    assert other.json()["id"] != first.json()["id"]
    unkeyed = await api.post("requests/orders/", _order(sb))
    assert unkeyed.json()["id"] not in (first.json()["id"], other.json()["id"])
    assert len(sb.jobs("order")) == 3


async def test_jobs_list_filters_by_reference_and_status(api: Api, sb: Sandbox) -> None:
    """reference= finds a submission again (reconciliation); status= narrows by state."""
    mine = (await api.post("requests/orders/", _order(sb, reference="shop-1"))).json()
    await api.post("requests/orders/", _order(sb, reference="shop-2"))
    found = await api.page("requests/orders/?reference=shop-1")
    assert found["count"] == 1
    assert found["results"][0]["id"] == mine["id"]
    assert "request" not in found["results"][0]
    assert (await api.page("requests/orders/?status=pending"))["count"] == 2
    assert (await api.page("requests/orders/?reference=nope"))["count"] == 0
    assert (await api.page("requests/payments/"))["count"] == 0


async def test_job_without_reference_gets_one(api: Api, sb: Sandbox) -> None:
    """A job always has a reference to reconcile by, minted when the body had none."""
    body = _order(sb)
    del body["reference"]
    job = (await api.post("requests/orders/", body)).json()
    assert job["reference"].startswith("sandbox-")


@pytest.mark.parametrize(
    ("data", "content_type", "status", "detail"),
    [
        (b"{not json", "application/json", 400, "JSON parse error - "),
        (b"\xff\xfe", "application/json", 400, "JSON parse error - "),
        (
            b'{"lines": NaN}',
            "application/json",
            400,
            "JSON parse error - Out of range float values are not JSON compliant: 'NaN'",
        ),
        (b"sales_point=x", "application/x-www-form-urlencoded", 415, "Unsupported media type"),
        (b"{}", "text/plain", 415, 'Unsupported media type "text/plain" in request.'),
    ],
)
async def test_unreadable_bodies(
    api: Api, data: bytes, content_type: str, status: int, detail: str
) -> None:
    """Broken JSON is DRF's 400 parse error; another media type is DRF's 415."""
    answer = await api.send(
        "POST", "requests/orders/", data=data, headers={"Content-Type": content_type}
    )
    assert answer.status == status
    assert answer.json()["detail"].startswith(detail)


async def test_empty_body_is_empty_data(api: Api) -> None:
    """DRF does not parse an empty body: it is validated as {} whatever its media type."""
    for headers in ({}, {"Content-Type": "application/json"}, {"Content-Type": "text/plain"}):
        answer = await api.send("POST", "requests/orders/", data=b"", headers=headers)
        assert answer.status == 400
        assert answer.json() == {
            "sales_point": ["This field is required."],
            "lines": ["This field is required."],
        }


async def test_payment_submission(api: Api, sb: Sandbox) -> None:
    """A valid payment is a 202 payment job; an invalid one a 400 field map."""
    answer = await api.post("requests/payments/", _payment(sb))
    assert answer.status == 202
    job = answer.json()
    assert (job["type"], job["reference"]) == ("payment", "psp-7781")
    assert answer.headers["Location"] == f"/v1/public/requests/payments/{job['id']}/"
    assert (await api.get(f"requests/payments/{job['id']}/")).json()["id"] == job["id"]
    assert (await api.get(f"requests/orders/{job['id']}/")).status == 404
    bad = await api.post(
        "requests/payments/", _payment(sb, amount="-1", order="nope", payment_method=None)
    )
    assert bad.status == 400
    assert bad.json() == {
        "payment_method": ["This field may not be null."],
        "order": ["Must be a valid UUID."],
        "amount": ["Ensure this value is greater than 0."],
    }


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "body", "content_type", "text"),
    [
        (503, "json", "application/json", '{"detail":"Service temporarily unavailable'),
        (500, "json", "application/json", '{"detail":"A server error occurred."}'),
        (502, "html", "text/html", "<title>502 Bad Gateway</title>"),
        (504, "empty", None, ""),
    ],
)
async def test_status_faults(
    api: Api, sb: Sandbox, code: int, body: BodyKind, content_type: str | None, text: str
) -> None:
    """Fault.status answers the code with a DRF, proxy or empty body and Retry-After."""
    rule = sb.inject(Fault.status(code, body=body, retry_after=5), path="articles/")
    answer = await api.get("articles/")
    assert answer.status == code
    assert answer.headers["Retry-After"] == "5"
    assert text in answer.body.decode()
    if content_type is None:
        assert answer.body == b""
    else:
        assert answer.headers["Content-Type"].startswith(content_type)
    assert rule.hits == 1
    assert (await api.get("companies/")).status == 200


async def test_rate_limit_is_drf_throttling(api: Api, sb: Sandbox) -> None:
    """Fault.rate_limit answers 429, Retry-After and DRF's throttle detail."""
    sb.inject(Fault.rate_limit(7), times=1)
    answer = await api.get("receipts/")
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json() == {"detail": "Request was throttled. Expected available in 7 seconds."}
    assert (await api.get("receipts/")).status == 200


async def test_times_limits_the_firings(api: Api, sb: Sandbox) -> None:
    """A rule with times=2 fires twice, counts its hits, then lets requests through."""
    rule = sb.inject(Fault.status(500), path="articles/", times=2)
    statuses = [(await api.get("articles/")).status for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert rule.hits == 2
    assert rule.exhausted


async def test_method_and_wildcard_path_matching(api: Api, sb: Sandbox) -> None:
    """method= and a 'requests/*' pattern select only POSTs under requests/."""
    rule = sb.inject(Fault.status(503), path="requests/*", method="post")
    assert (await api.get("requests/orders/")).status == 200
    assert (await api.post("requests/orders/", _order(sb))).status == 503
    assert (await api.post("requests/payments/", _payment(sb))).status == 503
    assert (await api.get("articles/")).status == 200
    assert rule.hits == 2
    assert sb.jobs("order") == []


async def test_first_matching_rule_decides(api: Api, sb: Sandbox) -> None:
    """Rules are tried in order; a later rule is not even counted once one has decided."""
    first = sb.inject(Fault.status(502), path="articles/")
    second = sb.inject(Fault.status(503))
    assert (await api.get("articles/")).status == 502
    assert (await api.get("companies/")).status == 503
    assert (first.hits, second.hits) == (1, 1)


async def _statuses_with_rate(http: aiohttp.ClientSession, seed: int) -> list[int]:
    async with Sandbox(receipts=10, seed=seed) as sandbox:
        rated = Api(sandbox, http)
        rule = sandbox.inject(Fault.status(503), path="tax-rates/", rate=0.5)
        statuses = [(await rated.get("tax-rates/")).status for _ in range(40)]
        assert rule.hits == statuses.count(503)
        return statuses


async def test_rate_fires_about_half_and_is_reproducible(http: aiohttp.ClientSession) -> None:
    """rate=0.5 fires on roughly half the requests, the same ones for the same seed."""
    first = await _statuses_with_rate(http, seed=3)
    again = await _statuses_with_rate(http, seed=3)
    other = await _statuses_with_rate(http, seed=4)
    assert 10 <= first.count(503) <= 30
    assert set(first) == {200, 503}
    assert first == again
    assert other != first


async def test_latency_delays_the_answer(http: aiohttp.ClientSession) -> None:
    """Fault.latency adds its seconds before the (normal) answer; latency rules add up."""
    clock = FakeClock()
    async with Sandbox(receipts=10, latency=0.01, clock=clock, sleep=clock.sleep) as sandbox:
        sandbox.inject(Fault.latency(0.03), path="articles/")
        sandbox.inject(Fault.latency(0.02))
        api = Api(sandbox, http)
        assert (await api.get("articles/")).status == 200
        assert (await api.get("companies/")).status == 200
    assert clock.sleeps == pytest.approx([0.06, 0.03])
    with pytest.raises(ValueError, match="negative"):
        Fault.latency(-1)


async def test_drop_before_the_handler(api: Api, sb: Sandbox) -> None:
    """Fault.drop closes the connection unanswered; the request is logged, nothing happens."""
    rule = sb.inject(Fault.drop(), method="POST", times=1)
    async with aiohttp.ClientSession() as fresh:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await api.send("POST", "requests/orders/", body=_order(sb), session=fresh)
    assert rule.hits == 1
    assert [r.method for r in sb.requests] == ["POST"]
    assert sb.jobs("order") == []
    assert (await api.page("requests/orders/"))["count"] == 0


async def test_drop_after_the_handler_leaves_the_job(api: Api, sb: Sandbox) -> None:
    """Fault.drop(after_handler=True) on a POST: no answer, yet the job exists afterwards."""
    sb.inject(Fault.drop(after_handler=True), method="POST", times=1)
    async with aiohttp.ClientSession() as fresh:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await api.send(
                "POST", "requests/orders/", body=_order(sb, reference="lost-1"), session=fresh
            )
    found = await api.page("requests/orders/?reference=lost-1")
    assert found["count"] == 1
    assert found["results"][0]["status"] == "pending"


async def test_truncate_breaks_the_body(api: Api, sb: Sandbox) -> None:
    """Fault.truncate sends headers and half the body: reading it is a ClientPayloadError."""
    sb.inject(Fault.truncate(), path="articles/", times=1)
    async with api.http.get(
        api.url("articles/"), headers={"Authorization": f"Token {sb.token}"}
    ) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert (await api.get("articles/")).status == 200


async def test_malformed_json_and_non_json_bodies(api: Api, sb: Sandbox) -> None:
    """malformed_json claims JSON it is not; non_json is a 200 HTML page."""
    sb.inject(Fault.malformed_json(), path="articles/", times=1)
    sb.inject(Fault.non_json(), path="companies/", times=1)
    sb.inject(Fault.non_json("text/plain"), path="users/", times=1)
    broken = await api.get("articles/")
    assert broken.status == 200
    assert broken.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    html = await api.get("companies/")
    assert html.status == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert html.body.startswith(b"<html>")
    plain = await api.get("users/")
    assert plain.headers["Content-Type"].startswith("text/plain")


async def test_cycle_next_names_the_same_page(api: Api, sb: Sandbox) -> None:
    """cycle_next makes next point at the page just served, so a naive loop never ends."""
    sb.inject(Fault.cycle_next(), path="articles/")
    first = await api.page("articles/?limit=5")
    second = await api.page(first["next"])
    third = await api.page(second["next"])
    assert first["results"] == second["results"] == third["results"]
    assert second["next"] == third["next"]
    sb.clear_faults()
    honest = await api.page(first["next"])
    assert honest["results"] == first["results"]
    assert (await api.page(honest["next"]))["results"] != first["results"]


async def test_clear_faults_restores_normal_answers(api: Api, sb: Sandbox) -> None:
    """After clear_faults every request is served normally again."""
    sb.inject(Fault.status(500))
    assert (await api.get("articles/")).status == 500
    sb.clear_faults()
    assert (await api.get("articles/")).status == 200


def test_inject_validates_rate(sb: Sandbox) -> None:
    """A rate outside [0, 1] is refused when the rule is made."""
    with pytest.raises(ValueError, match="probability"):
        sb.inject(Fault.status(500), rate=1.5)


# --- request log, connections, request ids ---------------------------------------------------


async def test_request_log_records_what_arrived(api: Api, sb: Sandbox) -> None:
    """Method, relative path, decoded pairs, raw query with %2B, headers without Authorization."""
    target = "receipts/?timestamp__gte=2026-06-15T00:00:00%2B02:00&type=invoice&note=a+b"
    await api.send("GET", target, headers={"X-Trace": "t-1"})
    (seen,) = sb.requests
    assert seen.method == "GET"
    assert seen.path == "receipts/"
    assert seen.raw_path == "/v1/public/receipts/"
    assert seen.query == (
        ("timestamp__gte", "2026-06-15T00:00:00+02:00"),
        ("type", "invoice"),
        ("note", "a b"),
    )
    assert seen.raw_query == "timestamp__gte=2026-06-15T00:00:00%2B02:00&type=invoice&note=a+b"
    assert seen.headers["X-Trace"] == "t-1"
    assert all(name.lower() != "authorization" for name in seen.headers)
    assert sb.token not in repr(seen)
    assert seen.authenticated_as == "tenant-a"
    assert seen.body == b""


async def test_request_log_names_who_asked(api: Api, sb: Sandbox) -> None:
    """authenticated_as tells the tenants, a wrong token and no token apart."""
    for token in (sb.token, sb.other_token, sb.restricted_token, "wrong", None):
        await api.get("companies/", token=token)
    await api.send("GET", "companies/", token=None, headers={"Authorization": "Token"})
    assert [r.authenticated_as for r in sb.requests] == [
        "tenant-a",
        "tenant-b",
        "tenant-a",
        "invalid",
        None,
        "invalid",
    ]


async def test_request_log_keeps_bodies_and_clears(api: Api, sb: Sandbox) -> None:
    """A POST's body is kept; clear_requests empties the log."""
    body = _order(sb)
    await api.post("requests/orders/", body, **{"Idempotency-Key": "k-1"})
    (seen,) = sb.requests
    assert json.loads(seen.body) == body
    assert seen.headers["Idempotency-Key"] == "k-1"
    sb.clear_requests()
    assert sb.requests == []
    await api.get("articles/")
    assert [r.path for r in sb.requests] == ["articles/"]


async def test_connections_opened_counts_tcp_connections(sb: Sandbox, api: Api) -> None:
    """One keep-alive session doing five requests opens one connection; a new session another."""
    before = sb.connections_opened
    async with aiohttp.ClientSession() as keep_alive:
        for _ in range(5):
            assert (await api.send("GET", "articles/", session=keep_alive)).status == 200
    assert sb.connections_opened - before == 1
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as once:
        for _ in range(3):
            await api.send("GET", "articles/", session=once)
    assert sb.connections_opened - before == 4


async def test_every_response_carries_a_request_id(api: Api, sb: Sandbox) -> None:
    """Successes, redirects, errors and injected faults all carry a fresh X-Request-ID."""
    sb.inject(Fault.status(502, body="html"), path="users/")
    sb.inject(Fault.non_json(), path="tables/")
    sb.inject(Fault.malformed_json(), path="tax-rates/")
    sb.inject(Fault.rate_limit(), path="locations/")
    answers = [
        await api.get("articles/"),
        await api.get("articles"),
        await api.get("articles/", token=None),
        await api.get("receipts/", token=sb.restricted_token),
        await api.get("nowhere/"),
        await api.send("DELETE", "articles/"),
        await api.get("receipts/?type=x"),
        await api.post("requests/orders/", _order(sb)),
        await api.send("POST", "requests/orders/", data=b"x", headers={"Content-Type": "a/b"}),
        await api.get("users/"),
        await api.get("tables/"),
        await api.get("tax-rates/"),
        await api.get("locations/"),
    ]
    assert [a.status for a in answers] == [
        200,
        301,
        401,
        403,
        404,
        405,
        400,
        202,
        415,
        502,
        200,
        200,
        429,
    ]
    ids = [a.headers.get("X-Request-ID") for a in answers]
    assert all(ids)
    assert len(set(ids)) == len(ids)


# --- standalone and plugin ------------------------------------------------------------------


async def test_standalone_module_serves_until_terminated(http: aiohttp.ClientSession) -> None:
    """'python -m bessa_async.testing --port 0' prints its URL and tokens and serves them."""
    async with standalone_sandbox("--receipts", "20") as (process, printed):
        url = printed["bessa sandbox listening on"]
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1/public/")
        headers = {"Authorization": f"Token {printed['token (tenant A)']}"}
        async with http.get(url + "articles/", headers=headers) as response:
            assert response.status == 200
            page = await response.json()
        assert page["count"] > 0
        process.terminate()
        async with asyncio.timeout(10):
            assert await process.wait() != 0


async def test_pytest_plugin_fixtures(bessa_client: BessaClient, bessa_sandbox: Sandbox) -> None:
    """The pytest11 plugin provides a running sandbox and a client wired to it."""
    page = await bessa_client.request("GET", "articles/")
    assert page["count"] == len(bessa_sandbox.data.articles)
    assert [r.authenticated_as for r in bessa_sandbox.requests] == ["tenant-a"]


async def test_wait_for_requests_returns_once_they_arrived(api: Api, sb: Sandbox) -> None:
    """wait_for_requests(n) returns when the n-th request is recorded, not before."""
    sb.inject(Fault.latency(0.01), path="articles/")
    calls = asyncio.gather(*(api.get("articles/") for _ in range(3)))
    await sb.wait_for_requests(3)
    assert [r.path for r in sb.requests] == ["articles/"] * 3
    await calls
    await sb.wait_for_requests(2)  # already there: returns at once
    assert len(sb.requests) == 3
