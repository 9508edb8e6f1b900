"""Compiled readers: one generated Python function per model for reading pages in bulk.

cattrs' generated code calls one hook per field through its dispatch, and each hook checks its
input again; on a page of receipts (~20 fields, nested lines, payments and taxes each) that
bookkeeping costs more than the values themselves. :func:`reader` compiles, once per model, a
function with every field's rule written out inline, in the spirit of cattrs' own code
generation but for the few value rules of this API:

- strings, ints and bools by exact type; ``X | None`` as ``None`` or ``X``;
- decimals from strings, through a small cache: pages repeat the same amounts, rates and
  quantities, and a shared :class:`~decimal.Decimal` is immutable (it also spares the memory of
  thousands of equal objects per page: a buffered receipt model takes ~1.5 KB, its JSON ~4.9);
- UUIDs from strings, cached likewise for references (sales point, location, articles); a
  model's own ``id`` never repeats in a listing, so it is parsed without the cache;
- timestamps with ``datetime.fromisoformat``, accepted only when they come out in UTC;
- open enums through a word → member table; nested models and tuples of them through their own
  compiled readers; anything else through the fast cattrs hook for its type;
- the model built by setting its slots, where attrs' ``__init__`` would do nothing else (no
  validators, converters or init hooks), else by calling the class.

A reader is a fast path, not a second set of rules: it accepts only what
:func:`~bessa_async._models.convert.make_converter`'s converter accepts, returns the same
value, and for anything else raises (any exception).
:func:`~bessa_async._models.convert.decode` then reads the item again with the detailed
converter, which either accepts it (an unusual but valid shape, such as an int for an amount
or ``+01:00`` for a timestamp) or says exactly what is wrong and where. A
property test holds the two to the same answers.
"""

from __future__ import annotations

import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

import attrs
import cattrs

from .._base.jsontext import MAX_NESTING, nests_deeper_than

__all__ = ["Reader", "reader", "unknown_fields"]

T = TypeVar("T")
Reader = Callable[[object], T]

_CACHE_SIZE: Final = 8192
_DECIMALS: dict[str, Decimal] = {}
_UUIDS: dict[str, uuid.UUID] = {}


def unknown_fields(item: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The fields of ``item`` not in ``names``, kept as they came for a model's ``extra``.

    Raises:
        ValueError: one of them nests more than :data:`MAX_NESTING` levels deep.
    """
    kept = {key: item[key] for key in item if key not in names}
    for key, value in kept.items():
        if nests_deeper_than(value):
            raise ValueError(  # read as a DecodeError by decode()
                f"the unknown field {key!r} nests more than {MAX_NESTING} levels deep"
            )
    return kept


class _NotFast(Exception):
    """The value needs the detailed converter (raised inside readers only)."""


def _new_decimal(value: object) -> Decimal:
    if type(value) is not str:
        raise _NotFast
    number = Decimal(value)
    if not number.is_finite():
        raise _NotFast
    if len(_DECIMALS) >= _CACHE_SIZE:
        _DECIMALS.clear()  # a new page's values are as good as the old ones; no LRU needed
    _DECIMALS[value] = number
    return number


_NEW: Final = object.__new__
_SET_INT: Final = uuid.UUID.__dict__["int"].__set__
_SET_SAFE: Final = uuid.UUID.__dict__["is_safe"].__set__
_UNKNOWN_SAFETY: Final = uuid.SafeUUID.unknown


def _parse_uuid(value: object) -> uuid.UUID:
    """``uuid.UUID(value)`` for a string, without its general-purpose argument handling."""
    if type(value) is not str:
        raise _NotFast
    digits = value.replace("-", "")
    if len(digits) != 32:
        return uuid.UUID(value)  # braces, "urn:uuid:" or wrong: the real thing decides
    # Exactly what UUID.__init__ does with these digits (the same int() call, so the same
    # spellings are accepted), then sets the same two slots.
    ident: uuid.UUID = _NEW(uuid.UUID)
    _SET_INT(ident, int(digits, 16))
    _SET_SAFE(ident, _UNKNOWN_SAFETY)
    return ident


def _new_uuid(value: object) -> uuid.UUID:
    ident = _parse_uuid(value)  # raises unless value is a str
    if len(_UUIDS) >= _CACHE_SIZE:
        _UUIDS.clear()
    _UUIDS[typing.cast("str", value)] = ident
    return ident


def _uuids(value: object) -> tuple[uuid.UUID, ...]:
    if type(value) is not list:
        raise _NotFast
    get = _UUIDS.get
    return tuple([get(v) or _new_uuid(v) for v in value])


class _Compiler:
    """Writes one model's reader; nested models get theirs through :func:`reader`."""

    def __init__(self, cls: type[Any], converter: cattrs.Converter, extra: str) -> None:
        self.cls = cls
        self.converter = converter
        self.extra = extra
        self.namespace: dict[str, Any] = {
            "_NotFast": _NotFast,
            "_cls": cls,
            "_Dget": _DECIMALS.get,
            "_new_decimal": _new_decimal,
            "_Uget": _UUIDS.get,
            "_new_uuid": _new_uuid,
            "_parse_uuid": _parse_uuid,
            "_uuids": _uuids,
            "_fromiso": datetime.fromisoformat,
            "_UTC": UTC,
            "_setattr": object.__setattr__,
            "_new": _NEW,
            "_unknown": unknown_fields,
        }

    def name(self, prefix: str, value: object) -> str:
        key = f"_{prefix}{len(self.namespace)}"
        self.namespace[key] = value
        return key

    def value(self, tp: Any, field: str, indent: str) -> list[str]:
        """Lines that read ``v`` as ``tp`` into ``a`` (or raise)."""
        if tp is str or tp is int or tp is bool:
            return [f"{indent}if type(v) is not {tp.__name__}: raise _NotFast", f"{indent}a = v"]
        if tp is Decimal:
            return [f"{indent}a = _Dget(v)", f"{indent}if a is None: a = _new_decimal(v)"]
        if tp is uuid.UUID:
            if field == "id":
                # A listing's own ids never repeat: caching them would only evict the others.
                return [f"{indent}a = _parse_uuid(v)"]
            return [f"{indent}a = _Uget(v)", f"{indent}if a is None: a = _new_uuid(v)"]
        if tp is datetime:
            return [
                f"{indent}a = _fromiso(v)",
                f"{indent}if a.tzinfo is not _UTC: raise _NotFast",
            ]
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            rest = tuple(arg for arg in args if arg is not types.NoneType)
            if len(rest) < len(args):
                inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
                return [
                    f"{indent}if v is None: a = None",
                    f"{indent}else:",
                    *self.value(inner, field, indent + "    "),
                ]
            words = _open_enum_words(rest)
            if words is not None:
                table = self.name("words", words)
                return [
                    f"{indent}if type(v) is not str: raise _NotFast",
                    f"{indent}a = {table}.get(v, v)",
                ]
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            if args[0] is uuid.UUID:
                return [f"{indent}a = _uuids(v)"]
            if _compilable(args[0], self.extra):
                item = self.name("read", reader(args[0], self.converter, self.extra))
                return [
                    f"{indent}if type(v) is not list: raise _NotFast",
                    f"{indent}a = tuple([{item}(x) for x in v]) if v else ()",
                ]
        if _compilable(tp, self.extra):
            return [f"{indent}a = {self.name('read', reader(tp, self.converter, self.extra))}(v)"]
        hook = self.name("hook", self.converter.get_structure_hook(tp))
        return [f"{indent}a = {hook}(v, {self.name('type', tp)})"]

    def compile(self) -> Reader[Any]:
        fields = [f for f in attrs.fields(self.cls) if f.name != self.extra]
        names = frozenset(f.name for f in fields)
        self.namespace["_names"] = names
        self.namespace["_known"] = names.issuperset
        body = [
            f"def read_{self.cls.__name__}(o):",
            "    if type(o) is not dict: raise _NotFast",
            "    g = o.get",
        ]
        arguments = []
        for number, field in enumerate(fields):
            target = f"f{number}"
            if field.default is attrs.NOTHING:
                body.append(f"    v = o[{field.name!r}]")
                body += self.value(field.type, field.name, "    ")
            elif field.default is None:
                # Absent and null read the same way: the default.
                body.append(f"    v = g({field.name!r})")
                body += self.value(field.type, field.name, "    ")
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                raise _NotCompilable(f"{field.name} has a factory default")
            else:
                default = self.name("default", field.default)
                body += [
                    f"    v = g({field.name!r}, _NotFast)",
                    f"    if v is _NotFast: a = {default}",
                    "    else:",
                    *self.value(field.type, field.name, "        "),
                ]
            body.append(f"    {target} = a")
            arguments.append(f"{field.alias}={target}")
        unknown = "_unknown(o, _names)"
        setters = _slot_setters(self.cls)
        if setters is None:
            body += [
                f"    model = _cls({', '.join(arguments)})",
                "    if not _known(o):",
                # The model is frozen; this is its construction, finished.
                f"        _setattr(model, {self.extra!r}, {unknown})",
                "    return model",
            ]
        else:
            # What attrs' __init__ would do (set each slot), minus the keyword call and the
            # name lookups; _slot_setters only allows it where __init__ does nothing else.
            body.append("    model = _new(_cls)")
            for number, field in enumerate(fields):
                body.append(f"    {self.name('set', setters[field.name])}(model, f{number})")
            extra_setter = self.name("set", setters[self.extra])
            default = self.name("default", attrs.fields_dict(self.cls)[self.extra].default)
            body += [
                f"    {extra_setter}(model, {default} if _known(o) else {unknown})",
                "    return model",
            ]
        source = "\n".join(body)
        code = compile(source, f"<bessa_async reader {self.cls.__qualname__}>", "exec")
        exec(code, self.namespace)  # our own generated source, as cattrs does
        function: Reader[Any] = self.namespace[f"read_{self.cls.__name__}"]
        return function


class _NotCompilable(Exception):
    pass


def _slot_setters(cls: type[Any]) -> dict[str, Callable[[object, object], None]] | None:
    """Each field's slot setter, where attrs' ``__init__`` does nothing but set the slots:
    all fields its own and in ``__init__``, no validators, converters, factory defaults or
    init hooks, no slot other than the fields'. None otherwise (the reader calls the class)."""
    fields = attrs.fields(cls)
    if (
        hasattr(cls, "__attrs_pre_init__")
        or hasattr(cls, "__attrs_post_init__")
        or set(cls.__dict__.get("__slots__", ())) - {f.name for f in fields} - {"__weakref__"}
    ):
        return None
    setters = {}
    for field in fields:
        slot = cls.__dict__.get(field.name)
        if (
            not field.init
            or field.validator is not None
            or field.converter is not None
            or isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            or not isinstance(slot, types.MemberDescriptorType)
        ):
            return None
        setters[field.name] = slot.__set__
    return setters


def _open_enum_words(args: tuple[Any, ...]) -> Mapping[str, enum.Enum] | None:
    if len(args) != 2 or str not in args:
        return None
    (other,) = [arg for arg in args if arg is not str]
    if isinstance(other, type) and issubclass(other, enum.Enum):
        return types.MappingProxyType({member.value: member for member in other})
    return None


def _compilable(tp: object, extra: str) -> bool:
    return isinstance(tp, type) and attrs.has(tp) and extra in attrs.fields_dict(tp)


_COMPILING: set[type[Any]] = set()


def _hooked(model: type[T], converter: cattrs.Converter) -> Reader[T]:
    hook = converter.get_structure_hook(model)

    def read(data: object) -> T:
        result: T = hook(data, model)
        return result

    return read


_READERS: dict[tuple[type[Any], cattrs.Converter, str], Reader[Any]] = {}


def reader(model: type[T], converter: cattrs.Converter, extra: str) -> Reader[T]:
    """The compiled reader of ``model`` (models keeping unknown fields in ``extra``), or the
    converter's own hook for anything else; nested models fall back to ``converter``'s hooks.

    Either raises on anything unusual; see the module docstring for what to do then.
    """
    key = (model, converter, extra)
    found = _READERS.get(key)
    if found is not None:
        return found
    if not _compilable(model, extra) or model in _COMPILING:
        return _hooked(model, converter)  # not remembered: a recursive model's inner use
    _COMPILING.add(model)
    try:
        attrs.resolve_types(model)  # type: ignore[type-var]
        made: Reader[T] = _Compiler(model, converter, extra).compile()
    except _NotCompilable:
        made = _hooked(model, converter)
    finally:
        _COMPILING.discard(model)
    _READERS[key] = made
    return made
