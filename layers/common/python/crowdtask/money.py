"""Money: exact decimals in USD, shown the way the API shows balances ("42 USD")."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

ZERO = Decimal("0")
_MICRO = Decimal("0.000001")


def amount(value: Decimal | int | float | str) -> Decimal:
    """A Decimal rounded to micro-dollars (sub-cent payments and commissions stay exact)."""
    try:
        number = Decimal(str(value))
        if not number.is_finite():  # quantize refuses infinities, but would let NaN through
            raise InvalidOperation
        return number.quantize(_MICRO, rounding=ROUND_HALF_EVEN)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def usd(value: Decimal | int | float) -> str:
    """42 -> '42 USD', 0.5 -> '0.5 USD', 0.002 -> '0.002 USD'."""
    number = Decimal(str(value)).normalize()
    if number == number.to_integral():
        number = number.quantize(Decimal(1))
    return f"{number:f} USD"
