"""The API token: checked once before any request, and never shown."""

from __future__ import annotations

import re
from typing import Final, final

from .._base.errors import ConfigurationError

__all__ = ["Secret", "check_token"]

#: Far beyond any token scheme, and more than servers take in one header line.
MAX_TOKEN_LENGTH: Final = 4096
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_SCHEMES: Final = frozenset({"token", "bearer", "authorization:"})


@final
class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def check_token(token: str | None) -> Secret:
    """Refuse before any request what cannot be an API token, and hide the rest.

    The token's format is not public, so only what no token can be is refused; a token of the
    right shape that the API does not know is answered with a 401. Surrounding whitespace (a
    line end read from a file) is dropped. No message shows the token.

    Raises:
        ConfigurationError: no token, a blank one, a scheme prefix (``Token ``, ``Bearer ``),
            whitespace, control or non-ASCII characters inside (they cannot travel in a header,
            or are a header-injection attempt or a copy-paste slip), or an absurd length.
    """
    if token is None:
        raise ConfigurationError(
            "no API token: pass BessaClient(token=...) or set the BESSA_TOKEN environment "
            "variable (for a token-free try, run `bessa sandbox` and use its token)"
        )
    if not isinstance(token, str):
        raise ConfigurationError(f"token must be a str, got {type(token).__name__}")
    stripped = token.strip()
    if not stripped:
        raise ConfigurationError("the API token is blank; pass the token from bessa's Manager")
    words = stripped.split(None, 1)
    if len(words) == 2 and words[0].lower() in _SCHEMES:
        raise ConfigurationError(
            f"pass the token alone, without the '{words[0].capitalize()} ' prefix: the client "
            "sends it as 'Authorization: Token <token>' itself"
        )
    if len(stripped) > MAX_TOKEN_LENGTH:
        raise ConfigurationError(
            f"the API token has {len(stripped)} characters, more than the {MAX_TOKEN_LENGTH} "
            "any token could have; check that the token, not another value, was passed"
        )
    if len(words) == 2:
        raise ConfigurationError(
            "the API token contains whitespace (spaces, tabs or line breaks) and cannot be sent "
            "in a header; check that it was copied whole and alone"
        )
    if _CONTROL.search(stripped):
        raise ConfigurationError(
            "the API token contains a control character and cannot be sent in a header; check "
            "that it was copied whole and alone"
        )
    if not stripped.isascii():
        raise ConfigurationError(
            "the API token contains non-ASCII characters and cannot be sent in a header; check "
            "that it was copied whole and alone"
        )
    return Secret(stripped)
