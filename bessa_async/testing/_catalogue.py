"""The catalogue the generator draws from: the tenants' layouts and the tables of master data.

Constants only (names, prices, tax rates, account numbers, opening hours): what is in a tenant,
not how its receipts are drawn. Changing a table changes the generated data of every seed.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "AREAS",
    "CATALOG",
    "GROUPS",
    "LAYOUT_A",
    "LAYOUT_B",
    "OPTIONS",
    "PAYMENT_METHODS",
    "RECIPIENTS",
    "TAX_RATES",
    "USERS",
    "Layout",
    "SalesPointPlan",
]


@attrs.frozen
class SalesPointPlan:
    """One Sales Point of a layout; indexes point into the layout's tuples."""

    name: str
    location: int | None
    main: int | None
    status: str
    day_start: int  # hour
    opening: tuple[float, float]  # local hours; close may exceed 24
    weight: float


@attrs.frozen
class Layout:
    """A tenant's shape: companies (name, UID, address), locations (company, name, address)."""

    companies: tuple[tuple[str, str, str], ...]
    locations: tuple[tuple[int, str, str], ...]
    sales_points: tuple[SalesPointPlan, ...]
    catalog_step: int  # take every n-th article of the catalog

    def main_of(self, sp: int) -> int:
        """The main Sales Point of Sales Point ``sp`` (itself if it is a main one)."""
        main = self.sales_points[sp].main
        return sp if main is None else main


LAYOUT_A: Final = Layout(
    companies=(
        ("Gasthaus Sonne GmbH", "ATU12345675", "Neubaugasse 12, 1070 Wien"),
        ("Bar Mond OG", "ATU87654328", "Praterstraße 40, 1020 Wien"),
    ),
    locations=(
        (0, "Sonne Neubau", "Neubaugasse 12, 1070 Wien"),
        (0, "Sonne Leopoldstadt", "Taborstraße 8, 1020 Wien"),
        (1, "Bar Mond", "Praterstraße 40, 1020 Wien"),
    ),
    sales_points=(
        SalesPointPlan("Neubau Kasse 1", 0, None, "active", 0, (10.0, 23.0), 1.0),
        SalesPointPlan("Neubau Terminal 2", 0, 0, "active", 0, (11.0, 22.5), 0.5),
        SalesPointPlan("Leopoldstadt Kasse", 1, None, "active", 0, (9.0, 22.0), 0.8),
        SalesPointPlan("Bar Mond Kasse", 2, None, "active", 6, (18.0, 26.5), 0.7),
        SalesPointPlan("Mobil (Feste)", None, None, "active", 0, (10.0, 18.0), 0.2),
        SalesPointPlan("Alte Kasse", 1, None, "inactive", 0, (0.0, 0.0), 0.0),
    ),
    catalog_step=1,
)

LAYOUT_B: Final = Layout(
    companies=(("Café Linde KG", "ATU11223344", "Lindengasse 3, 8010 Graz"),),
    locations=(
        (0, "Café Linde", "Lindengasse 3, 8010 Graz"),
        (0, "Linde am Markt", "Kaiser-Josef-Platz 1, 8010 Graz"),
    ),
    sales_points=(
        SalesPointPlan("Linde Kasse", 0, None, "active", 0, (7.0, 19.0), 1.0),
        SalesPointPlan("Markt Kasse", 1, None, "active", 0, (6.0, 13.0), 0.6),
        SalesPointPlan("Linde Mobil", None, None, "active", 0, (9.0, 17.0), 0.2),
    ),
    catalog_step=2,
)

# key, name, account number, rate, discountable, online orders
GROUPS: Final = (
    ("soft", "Alkoholfreie Getränke", "4000", "20.00", True, True),
    ("beer", "Bier & Wein", "4010", "20.00", True, False),
    ("coffee", "Kaffee & Tee", "4020", "20.00", True, True),
    ("food", "Speisen", "4100", "10.00", True, True),
    ("deli", "Feinkost (nach Gewicht)", "4110", "10.00", False, False),
    ("farm", "Ab-Hof-Wein", "4030", "13.00", False, False),
    ("voucher", "Gutscheine", "3600", "0.00", False, True),
    ("deposit", "Pfand", "4900", "20.00", False, False),
)

# name, type, price, group, explicit tax rate?, stock managed, active, bottled (EAN), options
CATALOG: Final = (
    ("Cola 0.5", "standard", "4.50", "soft", False, True, True, True, ()),
    ("Cola 0.33", "standard", "3.60", "soft", True, True, True, True, ()),
    ("Almdudler 0.5", "standard", "4.50", "soft", False, True, True, True, ()),
    ("Mineral 0.5", "standard", "3.20", "soft", False, True, True, True, ()),
    ("Apfelsaft gespritzt 0.5", "standard", "4.20", "soft", True, False, True, False, ()),
    ("Orangensaft 0.25", "standard", "3.90", "soft", False, True, True, True, ()),
    ("Eistee 0.5", "standard", "4.30", "soft", False, True, True, True, ()),
    ("Energy Drink 0.25", "standard", "4.90", "soft", False, True, False, True, ()),
    ("Soda Zitron 0.5", "standard", "3.40", "soft", False, False, True, False, ()),
    ("Märzen 0.5", "standard", "5.20", "beer", True, True, True, False, ()),
    ("Goldbräu 0.3", "standard", "4.10", "beer", False, True, True, False, ()),
    ("Radler 0.5", "standard", "4.90", "beer", False, True, True, False, ()),
    ("Grüner Veltliner 1/8", "standard", "3.90", "beer", False, True, True, False, ()),
    ("Zweigelt 1/8", "standard", "4.20", "beer", True, True, True, False, ()),
    ("Spritzer weiß 0.25", "standard", "3.60", "beer", False, False, True, False, ()),
    ("Aperol Spritz", "standard", "7.50", "beer", False, False, True, False, ()),
    ("Melange", "standard", "4.20", "coffee", False, False, True, False, ("milk",)),
    ("Espresso", "standard", "2.90", "coffee", True, False, True, False, ()),
    ("Verlängerter", "standard", "3.80", "coffee", False, False, True, False, ("milk",)),
    ("Cappuccino", "standard", "4.30", "coffee", False, False, True, False, ("milk",)),
    ("Tee", "standard", "3.50", "coffee", False, False, True, False, ()),
    ("Heiße Schokolade", "standard", "4.40", "coffee", False, False, True, False, ("milk",)),
    ("Wiener Schnitzel", "standard", "16.90", "food", True, False, True, False, ("side", "extra")),
    ("Gulasch", "standard", "12.50", "food", False, False, True, False, ()),
    ("Käsespätzle", "standard", "13.90", "food", False, False, True, False, ()),
    ("Kaiserschmarrn", "standard", "11.50", "food", False, False, True, False, ()),
    ("Apfelstrudel", "standard", "5.90", "food", False, False, True, False, ()),
    ("Frankfurter", "standard", "6.20", "food", False, False, True, False, ()),
    ("Tagessuppe", "standard", "4.90", "food", True, False, True, False, ()),
    ("Salatteller", "standard", "10.90", "food", False, False, False, False, ()),
    ("Sachertorte", "standard", "5.50", "food", False, False, True, False, ()),
    ("Bergkäse per kg", "weight", "32.90", "deli", False, True, True, False, ()),
    ("Beinschinken per kg", "weight", "39.90", "deli", True, True, True, False, ()),
    ("Oliven per kg", "weight", "24.00", "deli", False, True, True, False, ()),
    ("Veltliner Ab-Hof 0.75", "standard", "12.00", "farm", True, True, True, True, ()),
    ("Diverses Speisen", "open_price", "0.00", "food", False, False, True, False, ()),
    ("Diverses Getränke", "open_price", "0.00", "soft", False, False, True, False, ()),
    ("Gutschein 10", "voucher", "10.00", "voucher", False, False, True, False, ()),
    ("Wertgutschein 25", "voucher", "25.00", "voucher", True, False, True, False, ()),
    ("Pfand Flasche", "deposit", "0.25", "deposit", False, False, True, False, ()),
    ("Pfand Becher", "deposit", "2.00", "deposit", False, False, False, False, ()),
)

OPTIONS: Final = (
    ("milk", "Milch", (("Kuhmilch", "0.00"), ("Hafermilch", "0.50"), ("Sojamilch", "0.50")), 0, 1),
    ("side", "Beilage", (("Pommes", "0.00"), ("Reis", "0.00"), ("Erdäpfelsalat", "1.00")), 1, 1),
    ("extra", "Extras", (("Preiselbeeren", "0.80"), ("Sauce", "1.20")), 0, 2),
)

PAYMENT_METHODS: Final = (
    ("Bar", "cash", True),
    ("Karte", "card", True),
    ("Gutschein", "voucher", True),
    ("Online", "online", True),
    ("Rechnung", "invoice", True),
    ("Hauskonto", "other", False),
)

TAX_RATES: Final = (
    ("Normal", "20.00"),
    ("Ermäßigt 1", "10.00"),
    ("Ermäßigt 2", "13.00"),
    ("Null", "0.00"),
)

USERS: Final = (("Anna", "manager"), ("Ben", "waiter"), ("Clara", "waiter"), ("Doris", "admin"))
AREAS: Final = ("Gastgarten", "Stube", "Bar")
RECIPIENTS: Final = (
    ("Kraus Consulting GmbH", "Mariahilfer Straße 1, 1060 Wien", "ATU55667788"),
    ("Wien Events e.U.", "Ringstraße 9, 1010 Wien", "ATU99887766"),
)
