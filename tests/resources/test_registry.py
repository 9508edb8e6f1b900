"""The registry: every typed resource once, and everything else computed from it."""

from __future__ import annotations

from bessa_async import DEFAULT_PATHS, BessaClient
from bessa_async._models.records import Company, StockLevel
from bessa_async._registry import RESOURCES, TYPED, TYPED_RESOURCES

_URL = "http://127.0.0.1:1/v1/public/"


def test_default_paths_keep_their_names_and_order() -> None:
    """The doctor reports in this order, and ``paths=`` accepts exactly these names."""
    assert list(DEFAULT_PATHS) == [
        "companies",
        "locations",
        "sales_points",
        "tax_rates",
        "article_groups",
        "articles",
        "article_options",
        "payment_methods",
        "tables",
        "users",
        "receipts",
        "closings",
        "stock_levels",
        "sales_report",
        "orders",
        "payments",
    ]
    assert DEFAULT_PATHS["closings"] == "reports/closings/"
    assert DEFAULT_PATHS["sales_report"] == "reports/sales/"
    assert DEFAULT_PATHS["orders"] == "requests/orders/"
    assert DEFAULT_PATHS["payments"] == "requests/payments/"
    assert len({cls.name for cls in RESOURCES}) == len(RESOURCES)


def test_models_come_from_the_type_argument() -> None:
    """``Companies(_MasterData[Company])`` decodes Companies; each model appears once."""
    assert TYPED[0] == ("companies", Company)
    assert TYPED[-1] == ("stock_levels", StockLevel)
    assert [name for name, _ in TYPED] == [cls.name for cls in TYPED_RESOURCES]
    assert len({model for _, model in TYPED}) == len(TYPED)


def test_client_builds_each_registered_resource_at_its_path() -> None:
    """Each client attribute is its class, at the path the registry (or ``paths=``) gives."""
    overrides = {cls.name: f"moved/{cls.name}/" for cls in RESOURCES}
    client = BessaClient("t0ken", base_url=_URL, paths=overrides)
    for cls in TYPED_RESOURCES:
        resource = getattr(client, cls.name)
        assert type(resource) is cls
        assert resource.path == f"moved/{cls.name}/"
    assert repr(client.reports) == "<Reports 'moved/sales_report/'>"
    assert client.orders.path == "moved/orders/"
    assert client.payments.path == "moved/payments/"
    assert client.paths == overrides
