"""An OpenAPI (or Swagger 2) document compared with the library's model (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._models.convert import open_enum_of
from ._items import _accessor, _Field, _fields, _unknown_word
from ._report import Difference

__all__ = ["schema_differences", "schema_paths"]

_NEAR_NAME: Final = 0.5
"""How alike (difflib's ratio) a schema path's name must be to a 404 path's to be suggested."""


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
