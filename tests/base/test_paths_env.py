"""BESSA_PATHS: typed resources' paths from the environment, and clear errors for bad values."""

from __future__ import annotations

import pytest

from bessa_async import BessaClient, ConfigurationError
from bessa_async._registry import parse_paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("  ", {}),
        ("articles=products/", {"articles": "products/"}),
        (" articles = products/ , users=staff/,", {"articles": "products/", "users": "staff/"}),
        ("sales-points=tills/", {"sales_points": "tills/"}),
        ('{"tables": "table-plans/"}', {"tables": "table-plans/"}),
    ],
)
def test_bessa_paths_forms(text: str, expected: dict[str, str]) -> None:
    """NAME=PATH pairs or a JSON object; hyphenated names; blanks and trailing commas ignored."""
    assert parse_paths(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("articles", "expected NAME=PATH pairs"),
        ("=products/", "expected NAME=PATH pairs"),
        ("articles=", "expected NAME=PATH pairs"),
        ("products=articles/", "unknown resource 'products'"),
        ("articles=https://evil.example/", "must be a path relative to the base URL"),
        ('{"articles": 1}', "the path of 'articles' must be a string"),
        ('{"articles": ', "not valid JSON"),
        ('{"articles": ' + "[" * 100_000, "not valid JSON"),
    ],
)
def test_bad_bessa_paths_are_clear_configuration_errors(text: str, message: str) -> None:
    """Each bad value names BESSA_PATHS and what is wrong."""
    with pytest.raises(ConfigurationError, match=message) as info:
        parse_paths(text)
    assert str(info.value).startswith("BESSA_PATHS")


def test_client_reads_bessa_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """BESSA_PATHS applies when paths= is not given; paths= wins; a bad value fails early."""
    url = "http://127.0.0.1:1/v1/public/"
    monkeypatch.setenv("BESSA_PATHS", "tables=table-plans/,users=staff")
    client = BessaClient("t0ken", base_url=url)
    assert client.tables.path == "table-plans/"
    assert client.paths["users"] == "staff/"
    assert BessaClient("t0ken", base_url=url, paths={}).tables.path == "tables/"
    monkeypatch.setenv("BESSA_PATHS", "tabels=x/")
    with pytest.raises(ConfigurationError, match="BESSA_PATHS: unknown resource 'tabels'"):
        BessaClient("t0ken", base_url=url)
