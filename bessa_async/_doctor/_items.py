"""Raw items compared with the model, field by field, and a page's shape (pure)."""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from .._base.errors import DecodeError
from .._base.validate import is_int
from .._listing.pagination import is_url
from .._models.convert import EXTRA, decode, open_enum_of, value_problems
from ._report import Difference, NextForm

__all__ = ["inspect_items", "page_facts"]


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
                broken = self._visit_nested(field, field.nested, value, path) or broken
                continue
            problems = value_problems(field.type, value, path=path)
            if problems:
                broken = True
                self.undecodable(path, value, "; ".join(problems))
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

    def _visit_nested(self, field: _Field, nested: type[Any], value: object, path: str) -> bool:
        if value is None:
            if field.many or _allows_none(field.type):
                return False
            self.undecodable(path, value, "null where an object is required")
            return True
        elements = value if field.many else [value]
        if not isinstance(elements, list) or not all(isinstance(e, Mapping) for e in elements):
            self.undecodable(
                path, value, "expected a list of objects" if field.many else "an object"
            )
            return True
        inner = f"{path}[]." if field.many else f"{path}."
        broken = False
        for element in elements:
            broken = self.visit(nested, element, inner) or broken
        return broken

    def undecodable(self, path: str, value: object, problem: str) -> None:
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
            walk.undecodable(f"results[{index}]", item, "an item is not a JSON object")
            continue
        if not walk.visit(model, item, ""):
            try:
                decode(model, item, resource=resource)
            except DecodeError as exc:  # pragma: no cover - the walk checks every field
                walk.undecodable("$", item, str(exc))
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
    has_count = is_int(count)
    link = body.get("next")
    form: NextForm | None = None
    if isinstance(link, str) and link:
        form = "url" if is_url(link) else "cursor"
    return has_count, form, list(body["results"])


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
