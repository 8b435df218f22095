"""Strict number parsing for request parameters (Image API 3.0 sections 4 and 4.7).

Only ASCII digits and ``.`` are accepted: no sign, no exponent, no NaN or infinity, no
whitespace, no non-ASCII digits. Lengths are bounded before conversion, so absurd input
is refused cheaply.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

from iiif.image.errors import BadRequest, echo

_INTEGER = re.compile(r"[0-9]{1,12}")
_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,16})?|\.[0-9]{1,16}")
_HALF = Fraction(1, 2)


def parse_int(text: str, parameter: str, what: str, maximum: int) -> int:
    """Parse a non-negative integer no larger than ``maximum``."""
    if not _INTEGER.fullmatch(text):
        raise BadRequest(parameter, f"{what} must be a non-negative integer, got {echo(text)}")
    value = int(text)
    if value > maximum:
        raise BadRequest(parameter, f"{what} {value} is larger than the allowed {maximum}")
    return value


def parse_decimal(text: str, parameter: str, what: str, maximum: Decimal) -> Decimal:
    """Parse a non-negative decimal number (digits and ".") no larger than ``maximum``."""
    if not _DECIMAL.fullmatch(text):
        raise BadRequest(
            parameter, f"{what} must be a non-negative decimal number, got {echo(text)}"
        )
    value = Decimal(text)
    if value > maximum:
        raise BadRequest(parameter, f"{what} {text} is larger than the allowed {maximum}")
    return value


def format_number(value: float | Decimal) -> str:
    """Canonical number text: an integer if possible, else no trailing zeros, leading 0."""
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if number == number.to_integral_value():
        return str(int(number))
    text = format(number, "f")
    return text.rstrip("0").rstrip(".")


def round_half_up(value: Fraction) -> int:
    """Round an exact fraction to the nearest integer, halves upwards."""
    return math.floor(value + _HALF)
