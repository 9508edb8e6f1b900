"""JSON ⇄ models: one cattrs converter with the API's value rules.

- Money and quantities are :class:`~decimal.Decimal`, read from strings (or ints) and written
  back as fixed-point strings with the scale they had (``"19.90"`` stays ``"19.90"``). A ``float``
  is refused: binary floats cannot hold cents exactly, and a float in an API answer means the
  answer is not what we think it is.
- Ids are :class:`uuid.UUID`; timestamps are aware UTC :class:`~datetime.datetime` (``Z`` and
  ``+00:00`` both read; a timestamp without an offset is refused, never guessed).
- Type words with a known vocabulary are open enums: a known word becomes the enum member, an
  unknown one stays a plain ``str`` (the API may grow words; that must not break reading).
- Strings, ints and bools are strict: ``"false"`` is not ``True`` and ``3`` is not ``"3"``.
- Unknown fields are kept in each model's ``extra`` mapping and written back on unstructuring.

Errors surface as :class:`~bessa_async.DecodeError` naming the resource, the field path and the
offending value (see :func:`decode`); cattrs' exception groups never reach the caller.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._base.errors import DecodeError, InvalidTypeError
from .._base.wire_time import InstantError, instant, read_instant
from .readers import reader, unknown_fields

__all__ = [
    "EXTRA",
    "decode",
    "decode_many",
    "encode",
    "from_dict",
    "instant",
    "make_converter",
    "open_enum_of",
    "to_dict",
    "value_problems",
]

T = TypeVar("T")
EXTRA: Final = "extra"
"""The name of the field every model keeps unknown fields in."""


def _decimal(value: object, _: object = None) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"expected a decimal string, got {value!r}")
    if isinstance(value, float):
        raise TypeError(
            f"float {value!r} refused: amounts must be decimal strings like '19.99', "
            "since a float cannot hold cents exactly"
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str | int):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise TypeError(f"expected a decimal string, got {value!r}")
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return number


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


@functools.lru_cache(maxsize=8192)
def _parse_uuid(text: str) -> uuid.UUID:
    # Pages repeat the same references (sales point, location, articles) over and over;
    # parsing a UUID is the costliest step of decoding a receipt, so remember recent ones.
    return uuid.UUID(text)


def _uuid(value: object, _: object = None) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a UUID string, got {value!r}")
    try:
        return _parse_uuid(value)
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None


_INSTANT_WORDS: Final = {
    "not text": "expected an ISO 8601 timestamp, got {value!r}",
    "not ISO 8601": "not an ISO 8601 timestamp: {value!r}",
    "no offset": "timestamp without an offset: {value!r} (the API sends UTC with 'Z')",
    "out of range": "timestamp out of range in UTC: {value!r}",
}


def _datetime(value: object, _: object = None) -> datetime:
    try:
        return read_instant(value)
    except InstantError as error:
        message = _INSTANT_WORDS[error.problem].format(value=value)
        if error.problem == "not text":
            raise TypeError(message) from None
        raise ValueError(message) from None


def _datetime_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _strict(kind: type[T], word: str) -> Callable[[object, object], T]:
    def structure(value: object, _: object) -> T:
        # bool is an int subclass; an API boolean where a number belongs is a wrong type.
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        raise TypeError(f"expected {word}, got {value!r}")

    return structure


def _open_enum_of(tp: object) -> type[enum.Enum] | None:
    """The enum class of ``SomeEnum | str`` (optionally ``| None``), else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = set(typing.get_args(tp)) - {types.NoneType}
    if str not in args or len(args) != 2:
        return None
    (other,) = args - {str}
    if isinstance(other, type) and issubclass(other, enum.Enum):
        return other
    return None


def _optional(hook: Callable[[object, object], T]) -> Callable[[object, object], T | None]:
    def structure(value: object, tp: object) -> T | None:
        return None if value is None else hook(value, tp)

    return structure


def _is_model(tp: object) -> bool:
    # Every model keeps unknown fields in a field named ``extra`` (EXTRA).
    return isinstance(tp, type) and attrs.has(tp) and EXTRA in attrs.fields_dict(tp)


def make_converter(*, detailed_validation: bool = True) -> cattrs.Converter:
    """A converter with the API's value rules (see the module docstring).

    ``detailed_validation=False`` gives the fast converter :func:`decode` tries first; on any
    failure the detailed one reads the item again to say exactly what and where.
    """
    conv = cattrs.Converter(detailed_validation=detailed_validation, forbid_extra_keys=False)
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_unstructure_hook(Decimal, _decimal_text)
    conv.register_structure_hook(uuid.UUID, _uuid)
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_unstructure_hook(datetime, _datetime_text)
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(int, _strict(int, "an integer"))
    conv.register_structure_hook(bool, _strict(bool, "true or false"))
    # Optional scalars are most fields of every model: a direct hook skips cattrs' union dispatch.
    for scalar, hook in (
        (uuid.UUID, _uuid),
        (Decimal, _decimal),
        (datetime, _datetime),
        (str, _strict(str, "a string")),
        (int, _strict(int, "an integer")),
        (bool, _strict(bool, "true or false")),
    ):
        conv.register_structure_hook(scalar | None, _optional(hook))

    def open_enum_hook(tp: Any) -> Callable[[object, object], object]:
        enum_class = _open_enum_of(tp)
        assert enum_class is not None
        optional = types.NoneType in typing.get_args(tp)

        def structure(value: object, _: object) -> object:
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise TypeError(f"expected a type word (string), got {value!r}")
            try:
                return enum_class(value)
            except ValueError:
                return value  # a word the API added later: kept, not an error

        return structure

    conv.register_structure_hook_factory(lambda tp: _open_enum_of(tp) is not None, open_enum_hook)
    conv.register_unstructure_hook_func(
        lambda tp: isinstance(tp, type) and issubclass(tp, enum.Enum), lambda e: e.value
    )

    def model_structure(cls: type[Any]) -> Callable[[object, object], object]:
        names = frozenset(f.name for f in attrs.fields(cls) if f.name != EXTRA)
        # ``extra`` is not read from the answer (an API field named "extra" is an unknown field
        # like any other); it is set below, only when there are unknown fields at all.
        build = make_dict_structure_fn(cls, conv, extra=override(omit=True))

        def structure(value: object, _: object) -> object:
            if not isinstance(value, Mapping):
                raise TypeError(f"expected an object, got {value!r}")
            model = build(value, cls)
            if not names.issuperset(value):
                # The model is frozen; this is its construction, finished.
                object.__setattr__(model, EXTRA, unknown_fields(value, names))
            return model

        return structure

    def model_unstructure(cls: type[Any]) -> Callable[[object], dict[str, Any]]:
        # ``extra`` is the API's JSON as it came, written back as it is: walking it with
        # cattrs would cost a few frames per level, and a value nested as deeply as the JSON
        # reader allows would exhaust the stack.
        dump = make_dict_unstructure_fn(cls, conv, extra=override(omit=True))
        omit_if_none = [f.name for f in attrs.fields(cls) if f.metadata.get("omit_if_none")]

        def unstructure(value: object) -> dict[str, Any]:
            data: dict[str, Any] = dump(value)
            for name in omit_if_none:
                if data.get(name, 0) is None:
                    del data[name]
            extra: Mapping[str, Any] = getattr(value, EXTRA) or {}
            for key, item in extra.items():
                data.setdefault(key, item)
            return data

        return unstructure

    conv.register_structure_hook_factory(_is_model, model_structure)
    conv.register_unstructure_hook_factory(_is_model, model_unstructure)
    if not detailed_validation:
        _add_fast_paths(conv)
    return conv


def _model_tuple(tp: object) -> type[Any] | None:
    """The model of ``tuple[Model, ...]``, else None."""
    if typing.get_origin(tp) is not tuple:
        return None
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis and _is_model(args[0]):
        return typing.cast("type[Any]", args[0])
    return None


def _optional_model(tp: object) -> type[Any] | None:
    """The model of ``Model | None``, else None."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return None
    args = set(typing.get_args(tp)) - {types.NoneType}
    if len(args) == 1 and types.NoneType in typing.get_args(tp):
        (model,) = args
        return model if _is_model(model) else None
    return None


def _add_fast_paths(conv: cattrs.Converter) -> None:
    """Hooks that skip cattrs' generic dispatch for the shapes every page is made of.

    Their errors are plain (any exception means "read it again, in detail").
    """

    def decimal(value: object, _: object) -> Decimal:
        if type(value) is str:
            number = Decimal(value)
            if number.is_finite():
                return number
        return _decimal(value)

    def moment(value: object, _: object) -> datetime:
        if type(value) is str:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is UTC:
                return parsed
        return _datetime(value)

    def maybe_decimal(value: object, _: object) -> Decimal | None:
        if value is None:
            return None
        if type(value) is str:
            number = Decimal(value)
            if number.is_finite():
                return number
        return _decimal(value)

    def maybe_moment(value: object, _: object) -> datetime | None:
        if value is None:
            return None
        return moment(value, _)

    def ident(value: object, _: object) -> uuid.UUID:
        return _parse_uuid(value) if type(value) is str else _uuid(value)

    def maybe_ident(value: object, _: object) -> uuid.UUID | None:
        if value is None:
            return None
        return _parse_uuid(value) if type(value) is str else _uuid(value)

    def idents(value: object, _: object) -> tuple[uuid.UUID, ...]:
        if type(value) is not list:
            raise TypeError(f"expected a list, got {value!r}")
        return tuple([_parse_uuid(v) if type(v) is str else _uuid(v) for v in value])

    def maybe_text(value: object, _: object) -> str | None:
        if value is None or type(value) is str:
            return value
        raise TypeError(f"expected a string, got {value!r}")

    conv.register_structure_hook(Decimal, decimal)
    conv.register_structure_hook(Decimal | None, maybe_decimal)
    conv.register_structure_hook(datetime, moment)
    conv.register_structure_hook(datetime | None, maybe_moment)
    conv.register_structure_hook(uuid.UUID, ident)
    conv.register_structure_hook(uuid.UUID | None, maybe_ident)
    conv.register_structure_hook_func(lambda tp: tp == tuple[uuid.UUID, ...], idents)
    conv.register_structure_hook(str | None, maybe_text)

    def tuple_hook(tp: Any) -> Callable[[object, object], tuple[Any, ...]]:
        model = _model_tuple(tp)
        hook = conv.get_structure_hook(model)

        def structure(value: object, _: object) -> tuple[Any, ...]:
            if type(value) is not list:
                raise TypeError(f"expected a list, got {value!r}")
            return tuple([hook(item, model) for item in value])

        return structure

    def optional_model_hook(tp: Any) -> Callable[[object, object], object]:
        model = _optional_model(tp)
        hook = conv.get_structure_hook(model)

        def structure(value: object, _: object) -> object:
            return None if value is None else hook(value, model)

        return structure

    conv.register_structure_hook_factory(lambda tp: _model_tuple(tp) is not None, tuple_hook)
    conv.register_structure_hook_factory(
        lambda tp: _optional_model(tp) is not None, optional_model_hook
    )


_CONVERTER: Final = make_converter()
_FAST: Final = make_converter(detailed_validation=False)


def _messages(exc: BaseException, path: str) -> list[str]:
    def describe(error: BaseException, type_: Any) -> str:
        if isinstance(error, KeyError):
            return "required field missing"
        if isinstance(error, TypeError | ValueError) and str(error):
            return str(error)
        return cattrs.v.format_exception(error, type_)

    return cattrs.transform_error(exc, path, format_exception=describe)


def decode(model: type[T], data: object, *, resource: str, path: str = "$") -> T:
    """Structure one answer item into ``model``.

    Raises:
        DecodeError: naming ``resource``, each field path and its offending value.
    """
    try:
        return reader(model, _FAST, EXTRA)(data)
    except Exception:
        pass  # the detailed converter reads it again: it accepts it, or says what is wrong
    try:
        return _CONVERTER.structure(data, model)
    except (cattrs.BaseValidationError, TypeError, ValueError, ArithmeticError) as exc:
        problems = _messages(exc, path)
        raise DecodeError(
            f"could not read {resource} as {model.__name__}: " + "; ".join(problems)
        ) from exc


def value_problems(tp: Any, value: object, *, path: str) -> list[str]:
    """Why ``value`` cannot be read as ``tp`` (one field's type), each naming its path; empty
    when it can. Used by the doctor to point at the field instead of the whole item."""
    try:
        _CONVERTER.structure(value, tp)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        return _messages(exc, path)
    return []


def open_enum_of(tp: object) -> type[enum.Enum] | None:
    """The enum of an open-enum field type (``SomeEnum | str``, optionally ``| None``)."""
    return _open_enum_of(tp)


def decode_many(model: type[T], items: list[object], *, resource: str) -> list[T]:
    """Structure a page's ``results``; paths in errors read ``$.results[i].field``."""
    read = reader(model, _FAST, EXTRA)
    try:
        return [read(item) for item in items]
    except Exception:
        pass  # some item is unusual or wrong: read each again, with its path in any error
    return [
        decode(model, item, resource=resource, path=f"$.results[{i}]")
        for i, item in enumerate(items)
    ]


def encode(value: object) -> Any:
    """Unstructure a model back to the API's JSON shape (unknown fields included)."""
    return _CONVERTER.unstructure(value)


def from_dict(model: type[T], data: object) -> T:
    """Build a model from the API's JSON shape (unknown fields go to ``extra``).

    Raises:
        DecodeError: naming each field path and its offending value.
    """
    return decode(model, data, resource=model.__name__)


def to_dict(value: object) -> dict[str, Any]:
    """A model as the API's JSON shape, unknown fields included: the inverse of from_dict."""
    data = encode(value)
    if not isinstance(data, dict):
        raise InvalidTypeError(f"to_dict() takes a model, got {type(value).__name__}")
    return data
