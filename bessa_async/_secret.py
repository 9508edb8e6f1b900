"""The API token: checked once before any request, and never shown."""

from __future__ import annotations

import re
from typing import Final, final

from ._errors import ConfigurationError

__all__ = ["Secret", "check_token"]

_TOKEN_OK: Final = re.compile(r"[\x21-\x7e]+")  # visible ASCII: no spaces, newlines or controls


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
    """Validate an API token before any request is made.

    Raises:
        ConfigurationError: no token, a blank one, or one with characters that cannot travel
            in a header (spaces, newlines: a header-injection attempt or a copy-paste slip).
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
    if stripped.lower().startswith("token "):
        raise ConfigurationError("pass the token alone, without the 'Token ' prefix")
    if not _TOKEN_OK.fullmatch(stripped):
        raise ConfigurationError(
            "the API token contains spaces, line breaks or non-ASCII characters and cannot be "
            "sent in a header; check that it was copied whole and alone"
        )
    return Secret(stripped)
