"""``await client.doctor()`` and ``bessa doctor``: where the live API differs from our model.

The library models the documented conventions plus inferred paths, fields and job states
(``spec/``). The doctor tells a token holder, in one run, where the API they reach differs:

- auth: whether the token is accepted, and the tenant's company names (never the token);
- every typed resource: reachable or not (200, 404, 403, ...), the page's shape (``count``
  present? ``next`` a bare cursor or a URL?), and one small page of items compared with the model
  field by field: fields the API sent that the model does not know, fields the model expects that
  were absent, values that do not decode (with their field path), type words the open enums do
  not know;
- filters: a ``timestamp__gte``/``updated__gte`` window written with a ``+02:00`` offset must
  select the item it was built around, and only items inside it;
- the OpenAPI schema, if one is served near ``docs/`` (the common DRF schema paths are tried;
  404 is quiet): paths and fields the library does not model, and a ``paths=`` suggestion for a
  resource that answered 404 when the schema has a path with a near name;
- jobs: ``GET requests/orders/?limit=1`` only, to see the list's shape and status words.

It only reads, one request at a time, two items per page (``limit=2``); the client's retry policy
honours 429 and ``Retry-After``. The pure part (:func:`inspect_items`, :func:`page_facts`,
:func:`schema_differences`) works on decoded JSON and is tested without a server; only
:func:`diagnose` sends requests.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final, Literal, final

import attrs

from ._convert import EXTRA, decode, instant, open_enum_of, value_problems
from ._errors import (
    APIError,
    AuthenticationError,
    BessaError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    TransportError,
)
from ._jobs import Job
from ._models import (
    Article,
    ArticleGroup,
    ArticleOption,
    Closing,
    Company,
    Location,
    PaymentMethod,
    Receipt,
    SalesPoint,
    SalesReport,
    StockLevel,
    Table,
    TaxRate,
    User,
)
from ._pagination import is_url
from ._version import __version__

if TYPE_CHECKING:
    from ._client import BessaClient

__all__ = [
    "JOB_PATHS",
    "SCHEMA_PROBES",
    "Difference",
    "DoctorReport",
    "FilterFinding",
    "JobsFinding",
    "ResourceFinding",
    "SchemaFinding",
    "diagnose",
    "inspect_items",
    "page_facts",
    "schema_differences",
]

DifferenceKind = Literal[
    "path",
    "page",
    "next_form",
    "unknown_field",
    "missing_field",
    "bad_value",
    "unknown_word",
    "filter",
    "schema_path",
    "schema_field",
]
NextForm = Literal["url", "cursor"]

SAMPLE_LIMIT: Final = 2
"""Items per page the doctor asks for: enough to compare, gentle on the API."""
TEST_OFFSET: Final = timezone(timedelta(hours=2))
"""The offset the filter check writes its instants with (Vienna in summer)."""
JOB_PATHS: Final = ("requests/orders/", "requests/payments/")
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

_TYPED: Final[tuple[tuple[str, type[Any]], ...]] = (
    ("companies", Company),
    ("locations", Location),
    ("sales_points", SalesPoint),
    ("tax_rates", TaxRate),
    ("article_groups", ArticleGroup),
    ("articles", Article),
    ("article_options", ArticleOption),
    ("payment_methods", PaymentMethod),
    ("tables", Table),
    ("users", User),
    ("receipts", Receipt),
    ("closings", Closing),
    ("stock_levels", StockLevel),
)
_SAMPLE_FILTERS: Final[Mapping[str, Mapping[str, str]]] = {"receipts": {"type": "invoice"}}
"""Invoices carry lines, payments and taxes: a better sample than a day's start receipt."""
_UPDATED_ANCHORS: Final = ("articles", "users", "tables", "companies")
_NEAR_NAME: Final = 0.5


# --- the report ------------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class Difference:
    """One way the API differs from the library's model.

    Attributes:
        kind: ``path`` (not 200), ``page`` (page shape), ``next_form``, ``unknown_field``,
            ``missing_field``, ``bad_value``, ``unknown_word``, ``filter``, ``schema_path`` or
            ``schema_field``.
        resource: the typed resource (``"receipts"``), ``"jobs"``, ``"pages"`` (all lists) or
            ``"schema"``.
        detail: one sentence for a human.
        field: the field path (``"lines[].course"``), where there is one.
        value: the offending value, word, status or path, as text.
        handled: whether the library already copes (e.g. unknown fields are kept in ``extra``);
            False when reading fails or gives wrong answers until something is changed.
        fix: what to do now, e.g. ``paths={"tables": "table-plans/"}``.
    """

    kind: DifferenceKind
    resource: str
    detail: str
    field: str | None = None
    value: str | None = None
    handled: bool = False
    fix: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None, str | None]:
        """What makes two findings the same difference (a schema field seen in items, too)."""
        kind = "unknown_field" if self.kind == "schema_field" else self.kind
        value = self.value if self.kind in ("unknown_word", "schema_path") else None
        return kind, self.resource, self.field, value


@final
@attrs.frozen(kw_only=True)
class ResourceFinding:
    """What one typed resource looked like.

    Attributes:
        name: the resource's name in ``paths=`` (``"receipts"``, ``"sales_report"``).
        path: the path asked.
        status: the answer's status, None when no answer came.
        shape: ``"page"`` for lists, ``"object"`` for the sales report.
        count: whether the page carried an integer ``count`` (None: no page).
        next_form: ``"url"`` or ``"cursor"``, None when ``next`` was null or there was no page.
        items: items compared with the model.
        differences: this resource's differences (also in :attr:`DoctorReport.differences`).
    """

    name: str
    path: str
    status: int | None
    shape: Literal["page", "object"] = "page"
    count: bool | None = None
    next_form: NextForm | None = None
    items: int = 0
    differences: tuple[Difference, ...] = ()


@final
@attrs.frozen(kw_only=True)
class FilterFinding:
    """A time filter sent with a ``+02:00`` offset, and whether the answer's window matched.

    Attributes:
        resource: the resource filtered.
        filter: ``"timestamp"`` or ``"updated"`` (``__gte`` and ``__lt`` were sent).
        sent: the ``__gte`` instant as sent, e.g. ``"2026-06-01T10:54:00+02:00"``.
        ok: True when the answer held the item the window was built around and only items
            inside the window; None when not checked.
        items: items in the answer.
        detail: one sentence for a human.
    """

    resource: str
    filter: str
    sent: str | None
    ok: bool | None
    items: int = 0
    detail: str = ""


@final
@attrs.frozen(kw_only=True)
class SchemaFinding:
    """The OpenAPI schema, if the API serves one.

    Attributes:
        found_at: the path (and query) it was found at, None when none was found.
        tried: every path tried, in order.
        paths: the list paths the schema names, relative to the base URL.
    """

    found_at: str | None
    tried: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


@final
@attrs.frozen(kw_only=True)
class JobsFinding:
    """The job list (``GET requests/orders/?limit=1``; nothing is ever submitted).

    Attributes:
        path: the path asked.
        status: the answer's status, None when no answer came.
        count: whether the page carried an integer ``count``.
        next_form: ``"url"`` or ``"cursor"``, None when ``next`` was null.
        statuses: the status words seen.
    """

    path: str
    status: int | None
    count: bool | None = None
    next_form: NextForm | None = None
    statuses: tuple[str, ...] = ()


@final
@attrs.frozen(kw_only=True)
class DoctorReport:
    """What ``client.doctor()`` found: read it, fix with ``paths=``/``BESSA_PATHS``, report it.

    Attributes:
        base_url: the API root checked.
        version: the bessa_async version that checked it.
        token_accepted: whether the API accepted the token (it is never shown).
        companies: the tenant's company names (first page), to confirm the token's tenant.
        resources: one finding per typed resource, in the order checked.
        filters: the time-filter checks.
        schema: the OpenAPI schema probe.
        jobs: the job list check, None when not reached.
        differences: every difference found, most important first.
        notes: facts that are not differences (a resource the token may not read, ...).
        errors: what could not be checked (token refused, unreachable, server errors).
    """

    base_url: str
    version: str
    token_accepted: bool
    companies: tuple[str, ...] = ()
    resources: tuple[ResourceFinding, ...] = ()
    filters: tuple[FilterFinding, ...] = ()
    schema: SchemaFinding = SchemaFinding(found_at=None)
    jobs: JobsFinding | None = None
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Everything was checked and matched the library's model."""
        return not self.differences and not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (for ``bessa doctor --json`` and bug reports)."""
        data: dict[str, Any] = json.loads(json.dumps(attrs.asdict(self)))  # tuples as lists
        data["ok"] = self.ok
        return data


# --- the pure part -----------------------------------------------------------------------------


@attrs.frozen
class _Field:
    type: Any
    required: bool
    may_be_absent: bool
    nested: type[Any] | None
    many: bool


_FIELDS: Final[dict[type[Any], dict[str, _Field]]] = {}


def _fields(model: type[Any]) -> dict[str, _Field]:
    """A model's fields (``extra`` aside) with their resolved types, remembered per model."""
    if model in _FIELDS:
        return _FIELDS[model]
    hints = typing.get_type_hints(model)
    fields: dict[str, _Field] = {}
    for field in attrs.fields(model):
        if field.name == EXTRA:
            continue
        tp = hints[field.name]
        nested, many = _nested(tp)
        fields[field.name] = _Field(
            type=tp,
            required=field.default is attrs.NOTHING,
            may_be_absent=bool(field.metadata.get("omit_if_none")),
            nested=nested,
            many=many,
        )
    _FIELDS[model] = fields
    return fields


def _is_model(tp: object) -> bool:
    return isinstance(tp, type) and attrs.has(tp) and EXTRA in attrs.fields_dict(tp)


def _nested(tp: Any) -> tuple[type[Any] | None, bool]:
    """The model a field holds (and whether a tuple of them), or None for a plain value."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(tp) if arg is not types.NoneType]
        return _nested(args[0]) if len(args) == 1 else (None, False)
    if typing.get_origin(tp) is tuple:
        first = typing.get_args(tp)[:1]
        return (first[0], True) if first and _is_model(first[0]) else (None, False)
    return (tp, False) if _is_model(tp) else (None, False)


def _allows_none(tp: Any) -> bool:
    return types.NoneType in typing.get_args(tp)


def _show(value: object, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _accessor(model: type[Any], location: str) -> str:
    """How a user reaches an object at ``location`` (``"lines[]."``) of a ``model`` item."""
    return _snake(model.__name__) + "".join(
        f".{part[:-2]}[i]" if part.endswith("[]") else f".{part}"
        for part in location.rstrip(".").split(".")
        if part
    )


@attrs.define
class _Tally:
    """The objects seen at one place of the items (``""``, ``"lines[]."``) and their keys."""

    model: type[Any]
    objects: int = 0
    keys: dict[str, int] = attrs.field(factory=dict)


@attrs.define
class _Walk:
    resource: str
    tallies: dict[str, _Tally] = attrs.field(factory=dict)
    bad: dict[str, Difference] = attrs.field(factory=dict)
    words: dict[tuple[str, str], Difference] = attrs.field(factory=dict)

    def visit(self, model: type[Any], obj: Mapping[str, Any], location: str) -> bool:
        """Tally one object; returns whether a value of it (or of its children) is unreadable."""
        tally = self.tallies.setdefault(location, _Tally(model))
        tally.objects += 1
        for key in obj:
            tally.keys[key] = tally.keys.get(key, 0) + 1
        broken = False
        for name, field in _fields(model).items():
            path = f"{location}{name}"
            if name not in obj:
                broken = broken or field.required
                continue
            value = obj[name]
            if field.nested is not None:
                broken = self._visit_nested(field, value, path) or broken
                continue
            problems = value_problems(field.type, value, path=path)
            if problems:
                broken = True
                self._bad(path, value, "; ".join(problems))
                continue
            vocabulary = open_enum_of(field.type)
            if vocabulary is not None and isinstance(value, str):
                known = {member.value for member in vocabulary}
                if value not in known:
                    self.words.setdefault(
                        (path, value),
                        _unknown_word(self.resource, path, value, known, f"{path} is"),
                    )
        return broken

    def _visit_nested(self, field: _Field, value: object, path: str) -> bool:
        assert field.nested is not None
        if value is None:
            if field.many or _allows_none(field.type):
                return False
            self._bad(path, value, "null where an object is required")
            return True
        elements = value if field.many else [value]
        if not isinstance(elements, list) or not all(isinstance(e, Mapping) for e in elements):
            self._bad(path, value, "expected a list of objects" if field.many else "an object")
            return True
        inner = f"{path}[]." if field.many else f"{path}."
        broken = False
        for element in elements:
            broken = self.visit(field.nested, element, inner) or broken
        return broken

    def _bad(self, path: str, value: object, problem: str) -> None:
        self.bad.setdefault(
            path,
            Difference(
                kind="bad_value",
                resource=self.resource,
                field=path,
                value=_show(value),
                detail=f"{path} = {_show(value)} does not decode: {problem}",
            ),
        )


def _renamed_to(missing: str, unknown: Sequence[str]) -> str | None:
    """The unknown field that looks like ``missing`` renamed (``total`` -> ``total_gross``)."""
    best, score = None, 0.0
    for name in unknown:
        ratio = difflib.SequenceMatcher(None, missing, name).ratio()
        if name.startswith(missing) or name.endswith(missing) or missing.startswith(name):
            ratio += 0.5
        if ratio > score:
            best, score = name, ratio
    return best if score >= 0.75 else None


def inspect_items(
    model: type[Any], items: Sequence[object], *, resource: str, path: str
) -> list[Difference]:
    """Compare a page's raw items with ``model``, field by field (nested models included).

    Reports each unknown field (sent, not modelled), missing field (modelled, absent from every
    item; a required one absent from any), value that does not decode (field path and value)
    and type word an open enum does not know, once per field path.
    """
    walk = _Walk(resource)
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            walk._bad(f"results[{index}]", item, "an item is not a JSON object")
            continue
        if not walk.visit(model, item, ""):
            try:
                decode(model, item, resource=resource)
            except DecodeError as exc:  # pragma: no cover - the walk checks every field
                walk._bad("$", item, str(exc))
    found: list[Difference] = []
    for location, tally in walk.tallies.items():
        fields = _fields(tally.model)
        unknown = [key for key in tally.keys if key not in fields and key != EXTRA]
        renamed_from: dict[str, str] = {}
        for name, field in fields.items():
            seen = tally.keys.get(name, 0)
            if seen == tally.objects or field.may_be_absent:
                continue
            if seen and not field.required:
                continue
            full = f"{location}{name}"
            renamed = _renamed_to(name, unknown) if not seen else None
            if renamed is not None:
                renamed_from[renamed] = name
            hint = f" (perhaps renamed to {renamed!r})" if renamed else ""
            absent = "every item" if not seen else f"{tally.objects - seen} of {tally.objects}"
            if field.required:
                fix = (
                    f"{tally.model.__name__} needs {name!r}: until the library follows the "
                    f"change, read them as dicts with client.resource({path!r}).list()"
                )
            else:
                fix = f"reads as None; the data may be under another name{hint}"
            found.append(
                Difference(
                    kind="missing_field",
                    resource=resource,
                    field=full,
                    handled=not field.required,
                    detail=f"{full} is absent from {absent}{hint}",
                    fix=fix,
                )
            )
        for name in unknown:
            full = f"{location}{name}"
            was = renamed_from.get(name)
            hint = f" (perhaps the new name of {was!r})" if was else ""
            found.append(
                Difference(
                    kind="unknown_field",
                    resource=resource,
                    field=full,
                    handled=True,
                    detail=f"{full} is sent but not modelled{hint}",
                    fix=f"kept: {_accessor(model, location)}.extra[{name!r}]",
                )
            )
    return [*found, *walk.bad.values(), *walk.words.values()]


def page_facts(body: object) -> tuple[bool | None, NextForm | None, list[object] | None]:
    """A list answer's ``count`` presence, ``next`` form and items; items None: not a page."""
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        return None, None, None
    count = body.get("count")
    has_count = isinstance(count, int) and not isinstance(count, bool)
    link = body.get("next")
    form: NextForm | None = None
    if isinstance(link, str) and link:
        form = "url" if is_url(link) else "cursor"
    return has_count, form, list(body["results"])


# --- the schema --------------------------------------------------------------------------------


def _resolve(doc: Mapping[str, Any], schema: object, depth: int = 0) -> Mapping[str, Any]:
    """A schema with ``$ref`` and single ``allOf`` wrappers resolved (``{}`` when unreadable)."""
    if not isinstance(schema, Mapping) or depth > 20:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: object = doc
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        return _resolve(doc, target, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {"properties": {}}
        for part in all_of:
            resolved = _resolve(doc, part, depth + 1)
            merged["properties"].update(resolved.get("properties") or {})
            for key, value in resolved.items():
                merged.setdefault(key, value)
        return merged
    return schema


def _answer_schema(doc: Mapping[str, Any], operation: object) -> Mapping[str, Any]:
    if not isinstance(operation, Mapping):
        return {}
    responses = operation.get("responses")
    if not isinstance(responses, Mapping):
        return {}
    answer = responses.get("200") or responses.get(200)
    if not isinstance(answer, Mapping):
        return {}
    if "schema" in answer:  # Swagger 2 (drf-yasg)
        return _resolve(doc, answer["schema"])
    content = answer.get("content")
    if isinstance(content, Mapping):
        for media in content.values():
            if isinstance(media, Mapping) and "schema" in media:
                return _resolve(doc, media["schema"])
    return {}


def _item_schema(doc: Mapping[str, Any], answer: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of one item of a list answer (a DRF page or a bare array), or the object."""
    properties = answer.get("properties")
    if isinstance(properties, Mapping) and "results" in properties:
        return _resolve(doc, _resolve(doc, properties["results"]).get("items"))
    if answer.get("type") == "array":
        return _resolve(doc, answer.get("items"))
    return answer


def schema_paths(doc: Mapping[str, Any], base_path: str) -> dict[str, Mapping[str, Any]]:
    """The schema's list paths relative to the base URL, each with its item schema.

    A detail path (``articles/{id}/``) counts as its list path; other paths stay as they are.
    """
    paths = doc.get("paths")
    if not isinstance(paths, Mapping):
        return {}
    prefixes = [base_path.rstrip("/") + "/"]
    if isinstance(doc.get("basePath"), str):
        prefixes.append(str(doc["basePath"]).rstrip("/") + "/")
    found: dict[str, Mapping[str, Any]] = {}
    for raw, operations in paths.items():
        text = str(raw)
        for prefix in prefixes:
            if prefix != "/" and text.startswith(prefix):
                text = text[len(prefix) :]
                break
        text = text.lstrip("/")
        head, _, last = text.rstrip("/").rpartition("/")
        if head and last.startswith("{") and last.endswith("}"):
            found.setdefault(head + "/", {})
            continue
        operation = operations.get("get") if isinstance(operations, Mapping) else None
        found[text] = _item_schema(doc, _answer_schema(doc, operation))
    return found


def _schema_fields(
    doc: Mapping[str, Any], model: type[Any], schema: Mapping[str, Any], location: str
) -> list[tuple[str, Mapping[str, Any], _Field | None]]:
    """Every property of ``schema`` with its path and the model field it maps to (recursive)."""
    found: list[tuple[str, Mapping[str, Any], _Field | None]] = []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return found
    fields = _fields(model)
    for name, raw in properties.items():
        sub = _resolve(doc, raw)
        field = fields.get(str(name))
        found.append((f"{location}{name}", sub, field))
        if field is not None and field.nested is not None:
            inner = _resolve(doc, sub.get("items")) if field.many else sub
            suffix = "[]." if field.many else "."
            found += _schema_fields(doc, field.nested, inner, f"{location}{name}{suffix}")
    return found


def _model_field_names(model: type[Any]) -> set[str]:
    return set(_fields(model))


def _suggest(
    name: str, model: type[Any] | None, path: str, candidates: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """The unmodelled schema path most like ``path`` by name (fields break ties), if near."""
    best, score = None, 0.0
    stem = path.strip("/").rpartition("/")[2]
    for candidate, item in candidates.items():
        other = candidate.strip("/").rpartition("/")[2]
        ratio = difflib.SequenceMatcher(None, stem, other).ratio()
        if ratio < _NEAR_NAME:
            continue
        overlap = 0.0
        properties = item.get("properties")
        if model is not None and isinstance(properties, Mapping) and properties:
            ours = _model_field_names(model)
            overlap = len(ours & set(properties)) / len(ours | set(properties))
        if ratio + overlap > score:
            best, score = candidate, ratio + overlap
    return best


def schema_differences(
    doc: Mapping[str, Any],
    *,
    base_path: str,
    modelled: Mapping[str, tuple[str, type[Any] | None]],
    not_found: Sequence[str],
    ignore: Sequence[str] = (),
) -> tuple[list[Difference], tuple[str, ...]]:
    """Compare a schema with the library's model.

    Args:
        doc: the OpenAPI (or Swagger 2) document.
        base_path: the base URL's path, e.g. ``"/v1/public/"``.
        modelled: each path the library reads, with its resource name and model (None: no
            model to compare fields with).
        not_found: names of resources whose path answered 404 (a near path is suggested).
        ignore: paths that are not resources (the schema's own).

    Returns:
        The differences (suggestions on the 404s, unmodelled paths, unmodelled fields and
        type words), and the schema's list paths.
    """
    paths = schema_paths(doc, base_path)
    found: list[Difference] = []
    unmodelled = {
        path: item
        for path, item in paths.items()
        if path not in modelled and path.partition("?")[0] not in ignore
    }
    by_name = {name: (path, model) for path, (name, model) in modelled.items()}
    for name in not_found:
        path, model = by_name[name]
        suggestion = _suggest(name, model, path, unmodelled)
        if suggestion is None:
            continue
        unmodelled.pop(suggestion)
        found.append(
            Difference(
                kind="path",
                resource=name,
                field=None,
                value=suggestion,
                detail=f"{path} answered 404; the schema has {suggestion}",
                fix=f'paths={{"{name}": "{suggestion}"}} or BESSA_PATHS={name}={suggestion}',
            )
        )
    for path in sorted(unmodelled):
        found.append(
            Difference(
                kind="schema_path",
                resource="schema",
                value=path,
                handled=True,
                detail=f"the schema has {path}, which the library does not model",
                fix=f"read it with client.resource({path!r}).list()",
            )
        )
    for path, (name, model) in modelled.items():
        item = paths.get(path)
        if not item:
            continue
        if model is None:
            continue
        for field_path, sub, field in _schema_fields(doc, model, item, ""):
            if field is None:
                location, _, last = field_path.rpartition(".")
                found.append(
                    Difference(
                        kind="schema_field",
                        resource=name,
                        field=field_path,
                        handled=True,
                        detail=f"the schema has {field_path}, which the library does not model",
                        fix=f"kept: {_accessor(model, location)}.extra[{last!r}]",
                    )
                )
                continue
            vocabulary = open_enum_of(field.type)
            words = sub.get("enum")
            if vocabulary is None or not isinstance(words, list):
                continue
            known = {member.value for member in vocabulary}
            for word in words:
                if isinstance(word, str) and word not in known:
                    source = f"the schema allows {field_path} ="
                    found.append(_unknown_word(name, field_path, word, known, source))
    return found, tuple(sorted(paths))


def _unknown_word(
    resource: str, field_path: str, word: str, known: set[str], source: str
) -> Difference:
    fix = "kept as a plain str; compare with the string, not the enum"
    if resource == "jobs" and field_path == "status":
        fix = "waited on as not finished (never success) until your deadline; please report "
        fix += "what it means"
    return Difference(
        kind="unknown_word",
        resource=resource,
        field=field_path,
        value=word,
        handled=True,
        detail=f"{source} {word!r}, not one of {sorted(known)}",
        fix=fix,
    )


# --- the run -----------------------------------------------------------------------------------


@attrs.frozen
class _Answer:
    status: int | None
    body: Any = None
    error: BessaError | None = None


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

    def __init__(self, client: BessaClient) -> None:
        self.client = client
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

    async def get(self, path: str, params: Mapping[str, Any] | None) -> _Answer:
        try:
            return _Answer(200, await self.client.request("GET", path, params=params))
        except APIError as exc:
            return _Answer(exc.status, None, exc)
        except DecodeError as exc:
            return _Answer(exc.status, None, exc)
        except BessaError as exc:
            return _Answer(None, None, exc)

    def failed(self, name: str, path: str, answer: _Answer) -> None:
        """Record why ``path`` gave no usable answer."""
        error = answer.error
        if isinstance(error, NotFoundError):
            self.not_found.append(name)
        elif isinstance(error, PermissionDeniedError):
            self.notes.append(
                f"{name}: {path} answered 403: the token may not read it (ask the tenant's "
                "admin if you need it); not checked"
            )
        elif isinstance(error, AuthenticationError):
            self.errors.append(f"{name}: {path} answered 401: the token was refused")
        elif isinstance(error, ServerError | TransportError):
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
        anchor = next((item for item in items if instant(item.get(field))), None)
        if anchor is None:
            return FilterFinding(
                resource=name,
                filter=field,
                sent=None,
                ok=None,
                detail=f"no {name} item with a readable {field!r} to build a window around",
            )
        moment = instant(anchor[field])
        assert moment is not None
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
            problem = f"answered {answer.status}: {answer.error}"
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
        if answer.status is None or (answer.status or 0) >= 500:
            self.errors.append(f"{name}: the {field} filter check got no answer: {answer.error}")
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
            if answer.status == 200 and _is_schema(answer.body):
                break
        else:
            self.notes.append(
                "no OpenAPI schema found (tried " + ", ".join(tried) + "): compare by hand with "
                "the reference at docs/"
            )
            return SchemaFinding(found_at=None, tried=tuple(tried)), []
        modelled: dict[str, tuple[str, type[Any] | None]] = {
            self.paths[name]: (name, model) for name, model in _TYPED
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
        )

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
        if first.status is None or first.status == 401:
            why = (
                "the token was refused (401): check BESSA_TOKEN or --token"
                if first.status == 401
                else f"no answer from {self.client.base_url}: {first.error}"
            )
            return attrs.evolve(base, errors=(why,))
        resources = [await self.resource("companies", Company, first)]
        companies = tuple(
            str(item["name"])
            for item in self.samples.get("companies", [])
            if isinstance(item.get("name"), str)
        )
        for name, model in _TYPED[1:]:
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
            token_accepted=True,
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


async def diagnose(client: BessaClient) -> DoctorReport:
    """Check the API ``client`` reaches against the library's model (read-only, gentle).

    Never raises for what the API answers: a refused token, a 404 or a server error become
    the report's ``errors`` and ``differences``.
    """
    return await _Doctor(client).run()
