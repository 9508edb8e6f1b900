"""The envelope of the tokens the library hands out: versioned JSON, pure.

A job handle's token, a sharded listing's resume token, a listing position and a changes
checkpoint are each a JSON object ``{"v": N, ...}`` that a later process reads back. This is the
one writer and the one first check of them: the text is JSON (read without surprises), an
object, with an integer version this library reads. What each token holds inside is checked by
its own module, with this format's :meth:`TokenFormat.bad` so that its errors read alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, final

import attrs

from .errors import BessaError, InvalidTypeError
from .jsontext import parse_json, version_of

__all__ = ["TokenFormat", "shown"]


def shown(value: object) -> str:
    """A token's value for a message: a word or number as written, anything else by its type
    (a list nested thousands deep has no repr worth reading, nor one made without a risk)."""
    if value is None or isinstance(value, str | int | float):
        return repr(value) if not isinstance(value, str) or len(value) <= 80 else "a long string"
    return f"a JSON {'object' if isinstance(value, dict) else 'array'}"


@final
@attrs.frozen(kw_only=True)
class TokenFormat:
    """One kind of token: its name, the version written and read, and how its errors read.

    Attributes:
        name: what the user calls it (``"job token"``), for the version and type errors.
        version: the ``v`` written, and the only one read.
        error: the :class:`BessaError` class every refusal raises.
        template: the message of a damaged or foreign token, with ``{why}`` for the reason
            (say there what to pass instead).
        foreign: the reason given for JSON that is not an object with an integer ``v``.
    """

    name: str
    version: int
    error: Callable[[str], BessaError]
    template: str
    foreign: str = "expected a JSON object with an integer version 'v'"

    def bad(self, why: str) -> BessaError:
        """The error for a token that is damaged or not of this kind, saying ``why``."""
        return self.error(self.template.replace("{why}", why))

    def write(self, fields: Mapping[str, Any]) -> str:
        """``fields`` under this format's version, as compact ASCII JSON."""
        return json.dumps({"v": self.version, **fields}, separators=(",", ":"))

    def read(self, token: object) -> dict[str, Any]:
        """The JSON object of ``token``, checked to be of this format's version.

        Raises:
            InvalidTypeError: ``token`` is not text.
            BessaError: of :attr:`error`'s class: not JSON, not an object with an integer ``v``,
                or another version.
        """
        if not isinstance(token, str | bytes):
            raise InvalidTypeError(f"a {self.name} is a str, got {type(token).__name__}")
        try:
            data = parse_json(token)
        except ValueError:
            raise self.bad("it is not JSON") from None
        if not isinstance(data, dict) or "v" not in data:
            raise self.bad(self.foreign)
        version = version_of(data)
        if version is None:
            raise self.bad(f"its version {shown(data['v'])} is not an integer version 'v'")
        if version != self.version:
            raise self.error(
                f"{self.name} version {version} is not readable by this version of bessa_async "
                f"(it reads version {self.version}); upgrade the library (nothing was sent)"
            )
        data_object: dict[str, Any] = data
        return data_object
