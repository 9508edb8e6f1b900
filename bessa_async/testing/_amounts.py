"""Amounts as the API writes them: Decimal arithmetic, half-up cents, per-rate tax groups."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

__all__ = ["CENT", "ZERO", "money", "net_of", "quantity_text", "taxes_by_rate"]

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")


def money(value: Decimal) -> str:
    """Two-decimal string of an amount, rounded half-up."""
    return f"{value.quantize(CENT, ROUND_HALF_UP):.2f}"


def quantity_text(value: Decimal) -> str:
    """A quantity as the API writes it: no trailing zeros (``"2"``, ``"0.425"``, ``"-1"``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def net_of(gross: Decimal, rate: Decimal) -> Decimal:
    """Net amount of a gross amount at ``rate`` percent, rounded half-up to cents."""
    return (gross / (1 + rate / 100)).quantize(CENT, ROUND_HALF_UP)


def taxes_by_rate(by_rate: Mapping[Decimal, Decimal]) -> list[dict[str, str]]:
    """A receipt's ``taxes``: per rate (highest first) the gross line sum, net half-up, tax."""
    taxes = []
    for rate in sorted(by_rate, reverse=True):
        gross = by_rate[rate]
        net = net_of(gross, rate)
        taxes.append(
            {
                "rate": money(rate),
                "net": money(net),
                "tax": money(gross - net),
                "gross": money(gross),
            }
        )
    return taxes
