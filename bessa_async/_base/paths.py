"""Resource paths: the rules a path must follow, and overrides read from code or ``BESSA_PATHS``.

Pure: the defaults (the registry's) are a parameter, so this module knows no resource.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .config import PATHS_ENV
from .errors import ConfigurationError
from .jsontext import parse_json

__all__ = ["check_path", "parse_paths", "paths_from_env", "resolve_paths"]


def check_path(path: object, *, label: str) -> str:
    """``path`` as a relative path ending in ``/``; ``label`` names it in the error.

    Raises:
        ConfigurationError: not a non-empty string, absolute, or climbing up with ``..``.
    """
    if not isinstance(path, str) or not path or "://" in path or ".." in path.split("/"):
        raise ConfigurationError(
            f"{label} must be a path relative to the base URL, like 'articles/'; got {path!r}"
        )
    return path.lstrip("/") if path.endswith("/") else path.lstrip("/") + "/"


def resolve_paths(
    overrides: Mapping[str, str] | None, defaults: Mapping[str, str], *, source: str = "paths"
) -> dict[str, str]:
    """``defaults`` with ``overrides`` applied, each checked.

    Args:
        overrides: resource name to path, e.g. ``{"articles": "products/"}``.
        defaults: every resource's default path; its names are the only ones accepted.
        source: where the overrides came from, for error messages.

    Raises:
        ConfigurationError: an unknown resource name, or a path that is not relative.
    """
    paths = dict(defaults)
    for name, path in (overrides or {}).items():
        if name not in defaults:
            known = ", ".join(sorted(defaults))
            raise ConfigurationError(f"{source}: unknown resource {name!r}; known: {known}")
        paths[name] = check_path(path, label=f"{source}[{name!r}]")
    return paths


def parse_paths(
    text: str, defaults: Mapping[str, str], *, source: str = PATHS_ENV
) -> dict[str, str]:
    """Read path overrides from text: ``articles=products/,users=staff/`` or a JSON object.

    Names may be written as in ``defaults`` (``sales_points``) or as in a path
    (``sales-points``). Blank text means no overrides.

    Raises:
        ConfigurationError: text that is neither form, or a name or path ``resolve_paths``
            refuses; the message names ``source`` and the offending part.
    """
    text = text.strip()
    pairs: list[tuple[object, object]] = []
    if text.startswith("{"):
        try:
            data = parse_json(text)
        except ValueError as exc:
            raise ConfigurationError(f"{source}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):  # pragma: no cover - a "{" text decodes to a dict
            raise ConfigurationError(f"{source}: expected a JSON object")
        pairs = list(data.items())
    elif text:
        for part in text.split(","):
            if not part.strip():
                continue  # a trailing comma is harmless
            name, sep, path = part.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise ConfigurationError(
                    f"{source}: expected NAME=PATH pairs separated by commas "
                    f"(e.g. 'articles=products/,users=staff/'), got {part.strip()!r}"
                )
            pairs.append((name.strip(), path.strip()))
    overrides: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(value, str):
            raise ConfigurationError(f"{source}: the path of {key!r} must be a string")
        overrides[str(key).replace("-", "_")] = value
    resolve_paths(overrides, defaults, source=source)  # refuse unknown names and bad paths here
    return overrides


def paths_from_env(defaults: Mapping[str, str]) -> dict[str, str]:
    """The overrides in the ``BESSA_PATHS`` environment variable (none when it is unset).

    Raises:
        ConfigurationError: the variable is set to something :func:`parse_paths` refuses.
    """
    return parse_paths(os.environ.get(PATHS_ENV, ""), defaults)
