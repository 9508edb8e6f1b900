"""The run: one read at a time through the client, findings collected into a report."""

from __future__ import annotations

import time
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, Protocol, final

import attrs

from .._base.config import USE_CLIENT_DEFAULT, Timeout, TimeoutArg
from .._base.errors import (
    APIError,
    AuthenticationError,
    BessaError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
)
from .._jobs.model import Job
from .._models.convert import instant
from .._models.records import (
    Company,
    SalesReport,
)
from .._registry import DEFAULT_PATHS, TYPED
from .._version import __version__
from ._items import _show, inspect_items, page_facts
from ._job_filters import JOB_FILTERS, filter_probes, honoured
from ._report import (
    Difference,
    DifferenceKind,
    DoctorReport,
    FilterFinding,
    JobsFinding,
    ResourceFinding,
    SchemaFinding,
)
from ._schema import schema_differences

__all__ = ["JOB_PATHS", "SCHEMA_PROBES", "APIReader", "diagnose"]

SAMPLE_LIMIT: Final = 2
_JOB_SAMPLE: Final = SAMPLE_LIMIT
"""Items per page the doctor asks for: enough to compare, gentle on the API."""
TEST_OFFSET: Final = timezone(timedelta(hours=2))
"""The offset the filter check writes its instants with (Vienna in summer)."""
JOB_PATHS: Final = (DEFAULT_PATHS["orders"], DEFAULT_PATHS["payments"])
SCHEMA_PROBES: Final[tuple[tuple[str, Mapping[str, str] | None], ...]] = (
    ("schema/", None),
    ("schema/", {"format": "json"}),
    ("openapi/", None),
    ("openapi.json", None),
    ("swagger.json", None),
    ("docs/", {"format": "openapi"}),
)
"""Where Django REST Framework sites usually serve their schema, relative to the base URL
(DRF's ``get_schema_view``, drf-spectacular, drf-yasg), tried in this order."""

_SAMPLE_FILTERS: Final[Mapping[str, Mapping[str, str]]] = {"receipts": {"type": "invoice"}}
"""Invoices carry lines, payments and taxes: a better sample than a day's start receipt."""
_UPDATED_ANCHORS: Final = ("articles", "users", "tables", "companies")


class APIReader(Protocol):
    """What the doctor uses of a client: its base URL, its resource paths, its time limits,
    and ``GET``.

    :class:`~bessa_async.BessaClient` is one; the doctor needs nothing else of it.
    """

    @property
    def base_url(self) -> str:
        """The API root every path is resolved against."""
        ...

    @property
    def paths(self) -> Mapping[str, str]:
        """Each typed resource's path, by its name in ``paths=``."""
        ...

    @property
    def timeout(self) -> Timeout:
        """The time limits of one request."""
        ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: TimeoutArg = USE_CLIENT_DEFAULT,
    ) -> Any:
        """Send a request and return the decoded JSON answer."""
        ...


@attrs.frozen
class _Answer:
    status: int | None
    body: Any = None
    error: BessaError | None = None
    skipped: bool = False
    """Not sent: the run's deadline had passed (reported once, by :meth:`_Doctor.run`)."""

    @property
    def unchecked(self) -> bool:
        """No verdict on the API's shape: no answer, throttled (429) or a server error."""
        return self.status is None or self.status == 429 or self.status >= 500


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme.lower()}://{rest.partition('/')[0].partition('?')[0].lower()}"


def _is_schema(body: object) -> bool:
    return (
        isinstance(body, Mapping)
        and isinstance(body.get("paths"), Mapping)
        and ("openapi" in body or "swagger" in body)
    )


def _label(path: str, params: Mapping[str, str] | None) -> str:
    return path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


_ORDER: Final[dict[str, int]] = {
    kind: rank
    for rank, kind in enumerate(typing.get_args(DifferenceKind))  # the Literal's own order
}


@final
class _Doctor:
    """One run: sequential reads, findings collected as they come."""

    def __init__(
        self, client: APIReader, *, timeout: float | None, clock: Callable[[], float]
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        self.skipped: list[str] = []
        self.accepted = False
        """Whether an answer showed the token was accepted (not 401, 429, 5xx or none)."""
        self.paths = client.paths
        self.differences: list[Difference] = []
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.not_found: list[str] = []
        self.without_count: list[str] = []
        self.cursor_pages: list[str] = []
        self.foreign_next: dict[str, str] = {}
        self.samples: dict[str, list[Mapping[str, Any]]] = {}

    def job_paths(self) -> tuple[str, str]:
        """Where orders and payments are submitted (``paths=`` may name them)."""
        return (
            self.paths.get("orders", JOB_PATHS[0]),
            self.paths.get("payments", JOB_PATHS[1]),
        )

    def limits(self, path: str) -> Timeout | RequestTimeout:
        """One request's limits: the client's, its total cut to what is left of the run's
        deadline; or the error to record when nothing is left."""
        limits = self.client.timeout
        if self.deadline is None:
            return limits
        left = self.deadline - self.clock()
        if left <= 0:
            return RequestTimeout(
                f"GET {path}: not sent, the doctor's deadline of {self.timeout:g} s had passed",
                method="GET",
                path=path,
                request_sent=False,
            )
        return attrs.evolve(limits, total=left if limits.total is None else min(left, limits.total))

    async def get(self, path: str, params: Mapping[str, Any] | None) -> _Answer:
        limits = self.limits(path)
        if isinstance(limits, RequestTimeout):
            self.skipped.append(path)
            return _Answer(None, None, limits, skipped=True)
        try:
            got = _Answer(
                200, await self.client.request("GET", path, params=params, timeout=limits)
            )
        except APIError as exc:
            got = _Answer(exc.status, None, exc)
        except DecodeError as exc:
            got = _Answer(exc.status, None, exc)
        except BessaError as exc:
            got = _Answer(None, None, exc)
        self.accepted = self.accepted or not (got.unchecked or got.status == 401)
        return got

    def failed(self, name: str, path: str, answer: _Answer) -> None:
        """Record why ``path`` gave no usable answer."""
        error = answer.error
        if answer.skipped:
            return
        if isinstance(error, NotFoundError):
            self.not_found.append(name)
        elif isinstance(error, PermissionDeniedError):
            self.notes.append(
                f"{name}: {path} answered 403: the token may not read it (ask the tenant's "
                "admin if you need it); not checked"
            )
        elif isinstance(error, AuthenticationError):
            self.errors.append(f"{name}: {path} answered 401: the token was refused")
        elif isinstance(error, ServerError | TransportError | RateLimitError):
            self.errors.append(f"{name}: {path}: {error}; not checked, try again later")
        elif isinstance(error, DecodeError):
            self.errors.append(f"{name}: {path} answered, but not with JSON: {error}")
        else:
            self.differences.append(
                Difference(
                    kind="path",
                    resource=name,
                    value=str(answer.status),
                    detail=f"{path} answered {answer.status}: {error}",
                    fix="please report it (bessa doctor --json)",
                )
            )

    def page(self, name: str, path: str, body: object) -> tuple[ResourceFinding, list[Any]]:
        """Check a list answer's shape; returns the finding's shape facts and the raw items."""
        count, form, items = page_facts(body)
        if items is None:
            self.differences.append(
                Difference(
                    kind="page",
                    resource=name,
                    detail=f"{path} did not answer a page with a 'results' list: {_show(body)}",
                    fix=f"read it with client.request('GET', {path!r})",
                )
            )
            return ResourceFinding(name=name, path=path, status=200), []
        if not count:
            self.without_count.append(name)
        if form == "cursor":
            self.cursor_pages.append(name)
        link = body.get("next") if isinstance(body, Mapping) else None
        if (
            form == "url"
            and isinstance(link, str)
            and "://" in link
            and _origin(link) != _origin(self.client.base_url)
        ):
            self.foreign_next[name] = _origin(link)
        finding = ResourceFinding(name=name, path=path, status=200, count=count, next_form=form)
        return finding, items

    async def resource(
        self, name: str, model: type[Any], answer: _Answer | None = None
    ) -> ResourceFinding:
        path = self.paths[name]
        if answer is None:
            params = {"limit": SAMPLE_LIMIT, **_SAMPLE_FILTERS.get(name, {})}
            answer = await self.get(path, params)
        if answer.status != 200:
            self.failed(name, path, answer)
            return ResourceFinding(name=name, path=path, status=answer.status)
        finding, items = self.page(name, path, answer.body)
        self.samples[name] = [item for item in items if isinstance(item, Mapping)]
        self.differences += inspect_items(model, items, resource=name, path=path)
        return attrs.evolve(finding, items=len(items))

    async def sales_report(self) -> ResourceFinding:
        name, path = "sales_report", self.paths["sales_report"]
        anchor = next(
            (
                t
                for item in self.samples.get("receipts", [])
                if (t := instant(item.get("timestamp")))
            ),
            None,
        )
        start = anchor or datetime.now(UTC) - timedelta(days=1)
        params = {
            "start": start.astimezone(TEST_OFFSET),
            "end": (start + timedelta(days=1)).astimezone(TEST_OFFSET),
        }
        answer = await self.get(path, params)
        if answer.status != 200:
            self.failed(name, path, answer)
            return ResourceFinding(name=name, path=path, status=answer.status, shape="object")
        if not isinstance(answer.body, Mapping):
            self.differences.append(
                Difference(
                    kind="page",
                    resource=name,
                    detail=f"{path} did not answer one object: {_show(answer.body)}",
                    fix=f"read it with client.request('GET', {path!r}, params=...)",
                )
            )
            return ResourceFinding(name=name, path=path, status=200, shape="object")
        self.differences += inspect_items(SalesReport, [answer.body], resource=name, path=path)
        return ResourceFinding(name=name, path=path, status=200, shape="object", items=1)

    async def time_filter(self, name: str, field: str) -> FilterFinding:
        path = self.paths[name]
        items = self.samples.get(name, [])
        found = next(
            ((item, moment) for item in items if (moment := instant(item.get(field)))), None
        )
        if found is None:
            return FilterFinding(
                resource=name,
                filter=field,
                sent=None,
                ok=None,
                detail=f"{path} was not read before the run's deadline"
                if path in self.skipped
                else f"no {name} item with a readable {field!r} to build a window around",
            )
        anchor, moment = found
        start, end = moment.astimezone(TEST_OFFSET), (moment + timedelta(seconds=1))
        sent = start.isoformat()
        params = {
            f"{field}__gte": start,
            f"{field}__lt": end.astimezone(TEST_OFFSET),
            "limit": SAMPLE_LIMIT,
            **_SAMPLE_FILTERS.get(name, {}),
        }
        answer = await self.get(path, params)
        if answer.status != 200:
            problem = (
                str(answer.error) if answer.skipped else f"answered {answer.status}: {answer.error}"
            )
            ok, count_ok, got = False, False, []
        else:
            _, _, raw = page_facts(answer.body)
            got = [item for item in raw or [] if isinstance(item, Mapping)]
            times = [instant(item.get(field)) for item in got]
            inside = all(t is not None and moment <= t < end for t in times)
            total = answer.body.get("count") if isinstance(answer.body, Mapping) else None
            count_ok = isinstance(total, int) and total > len(got)
            has_anchor = any(item.get("id") == anchor.get("id") for item in got) or count_ok
            ok = bool(got) and inside and has_anchor
            problem = (
                "the answer was empty"
                if not got
                else "items outside the window came back"
                if not inside
                else "the item the window was built around was missing"
            )
        window = f"{field}__gte={sent} (and __lt one second later)"
        if ok:
            return FilterFinding(
                resource=name,
                filter=field,
                sent=sent,
                ok=True,
                items=len(got),
                detail=f"{window}: the answer matched",
            )
        if answer.unchecked:
            if not answer.skipped:
                self.errors.append(
                    f"{name}: the {field} filter check got no answer: {answer.error}"
                )
            return FilterFinding(resource=name, filter=field, sent=sent, ok=None, detail=problem)
        self.differences.append(
            Difference(
                kind="filter",
                resource=name,
                field=f"{field}__gte",
                value=sent,
                detail=f"{window}: {problem}; the offset may be misread",
                fix="pass UTC datetimes (dt.astimezone(UTC)) until it is fixed; please report it",
            )
        )
        return FilterFinding(
            resource=name, filter=field, sent=sent, ok=False, items=len(got), detail=problem
        )

    async def schema(self) -> tuple[SchemaFinding, list[Difference]]:
        tried: list[str] = []
        for path, params in SCHEMA_PROBES:
            label = _label(path, params)
            tried.append(label)
            answer = await self.get(path, params)
            if answer.skipped:
                return SchemaFinding(found_at=None, tried=tuple(tried[:-1])), []
            if answer.status == 200 and _is_schema(answer.body):
                break
        else:
            self.notes.append(
                "no OpenAPI schema found (tried " + ", ".join(tried) + "): compare by hand with "
                "the reference at docs/"
            )
            return SchemaFinding(found_at=None, tried=tuple(tried)), []
        modelled: dict[str, tuple[str, type[Any] | None]] = {
            self.paths[name]: (name, model) for name, model in TYPED
        }
        modelled[self.paths["sales_report"]] = ("sales_report", SalesReport)
        modelled |= dict.fromkeys(self.job_paths(), ("jobs", Job))
        base_path = "/" + self.client.base_url.partition("://")[2].partition("/")[2]
        found, paths = schema_differences(
            answer.body,
            base_path=base_path,
            modelled=modelled,
            not_found=self.not_found,
            ignore=tuple(path for path, _ in SCHEMA_PROBES),
        )
        return SchemaFinding(found_at=label, tried=tuple(tried), paths=paths), found

    async def jobs(self) -> JobsFinding:
        path = self.job_paths()[0]
        answer = await self.get(path, {"limit": 1})
        if answer.status != 200:
            if isinstance(answer.error, PermissionDeniedError):
                self.notes.append(f"jobs: {path} answered 403: the token may not list jobs")
            else:
                self.failed("jobs", path, answer)
            return JobsFinding(path=path, status=answer.status)
        finding, items = self.page("jobs", path, answer.body)
        words = tuple(str(item.get("status")) for item in items if isinstance(item, Mapping))
        self.differences += inspect_items(Job, items, resource="jobs", path=path)
        return JobsFinding(
            path=path,
            status=200,
            count=finding.count,
            next_form=finding.next_form,
            statuses=words,
            filters=await self.job_filters(path) if items else (),
        )

    async def job_filters(self, path: str) -> tuple[tuple[str, bool | None], ...]:
        """Send each job-list filter with a listed job's value; judge the answers."""
        sample = await self.job_items(path, {"limit": _JOB_SAMPLE})
        probes = filter_probes(sample)
        found: list[tuple[str, bool | None]] = []
        for name in JOB_FILTERS:
            if name not in probes:
                found.append((name, None))
                continue
            answered = await self.job_items(path, {name: probes[name], "limit": _JOB_SAMPLE})
            verdict = honoured(name, probes[name], sample, answered) if answered else None
            found.append((name, verdict))
            if verdict is False:
                self.notes.append(
                    f"jobs: the API ignores the {name} filter on {path}; waiting for many jobs "
                    "falls back to other filters or to one GET per job"
                )
        return tuple(found)

    async def job_items(self, path: str, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        answer = await self.get(path, params)
        if answer.status != 200:
            return []
        _, _, raw = page_facts(answer.body)
        return [item for item in raw or [] if isinstance(item, Mapping)]

    def pages(self) -> list[Difference]:
        found: list[Difference] = []
        if self.without_count:
            found.append(
                Difference(
                    kind="page",
                    resource="pages",
                    field="count",
                    handled=True,
                    detail="pages carry no integer count: " + ", ".join(self.without_count),
                    fix="listing works; Paginator.count() and progress totals are unavailable",
                )
            )
        if self.cursor_pages:
            found.append(
                Difference(
                    kind="next_form",
                    resource="pages",
                    field="next",
                    value="cursor",
                    handled=True,
                    detail="next is a bare cursor, not a URL: " + ", ".join(self.cursor_pages),
                    fix="nothing to do: the library sends it back as cursor=",
                )
            )
        for name, origin in self.foreign_next.items():
            found.append(
                Difference(
                    kind="next_form",
                    resource=name,
                    field="next",
                    value=origin,
                    detail=f"next URLs point at {origin}, not at the base URL's origin: the "
                    "library refuses to send the token there, so listing stops after page 1",
                    fix=f"if {origin} is bessa's API, use it as base_url",
                )
            )
        return found

    async def run(self) -> DoctorReport:
        base = DoctorReport(
            base_url=self.client.base_url, version=__version__, token_accepted=False
        )
        first = await self.get(self.paths["companies"], {"limit": SAMPLE_LIMIT})
        if first.status is None or first.status in (401, 429):
            why = (
                "the token was refused (401): check BESSA_TOKEN or --token"
                if first.status == 401
                else f"the API throttled the first read even after waiting as told (429): "
                f"{first.error}; nothing checked, try again later"
                if first.status == 429
                else f"no answer from {self.client.base_url}: {first.error}"
            )
            return attrs.evolve(base, errors=(why,))
        resources = [await self.resource("companies", Company, first)]
        companies = tuple(
            str(item["name"])
            for item in self.samples.get("companies", [])
            if isinstance(item.get("name"), str)
        )
        for name, model in TYPED[1:]:
            resources.append(await self.resource(name, model))
        resources.append(await self.sales_report())
        filters = [await self.time_filter("receipts", "timestamp")]
        updated = next((n for n in _UPDATED_ANCHORS if self.samples.get(n)), "articles")
        filters.append(await self.time_filter(updated, "updated"))
        for check in filters:
            if check.ok is None:
                self.notes.append(
                    f"filters: {check.resource} {check.filter} not checked: {check.detail}"
                )
        schema, from_schema = await self.schema()
        jobs = await self.jobs()
        suggested = {d.resource for d in from_schema if d.kind == "path"}
        for name in self.not_found:
            if name not in suggested:
                path = self.paths[name]
                self.differences.append(
                    Difference(
                        kind="path",
                        resource=name,
                        value="404",
                        detail=f"{path} answered 404",
                        fix=f"find its path in the API reference (docs/) and set "
                        f'paths={{"{name}": "..."}} or BESSA_PATHS={name}=...',
                    )
                )
        if self.skipped:
            self.errors.append(
                f"the run's deadline of {self.timeout:g} s passed: {len(self.skipped)} reads "
                f"not sent ({', '.join(self.skipped)}); run it again with a longer timeout"
            )
        unique: dict[tuple[str, str, str | None, str | None], Difference] = {}
        for difference in [*self.differences, *self.pages(), *from_schema]:
            unique.setdefault(difference.key, difference)
        ordered = sorted(unique.values(), key=lambda d: (d.handled, _ORDER[d.kind]))
        by_resource = {
            finding.name: tuple(d for d in ordered if d.resource == finding.name)
            for finding in resources
        }
        return attrs.evolve(
            base,
            token_accepted=self.accepted,
            companies=companies,
            resources=tuple(
                attrs.evolve(finding, differences=by_resource[finding.name])
                for finding in resources
            ),
            filters=tuple(filters),
            schema=schema,
            jobs=jobs,
            differences=tuple(ordered),
            notes=tuple(self.notes),
            errors=tuple(self.errors),
        )


async def diagnose(
    client: APIReader,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DoctorReport:
    """Check the API ``client`` reaches against the library's model (read-only, gentle).

    ``timeout`` is one deadline in seconds (on ``clock``) for the whole run: a check it leaves
    no time for is not sent and is reported as not checked. Never raises for what the API
    answers: a refused token, a 404 or a server error become the report's ``errors`` and
    ``differences``.
    """
    return await _Doctor(client, timeout=timeout, clock=clock).run()
