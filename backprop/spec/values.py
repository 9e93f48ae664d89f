"""Checks for the values of a spec: each returns the value in canonical form or raises a :class:`SpecError`
naming the field, the allowed values and what was given."""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from ..errors import SpecError

DTYPES = ("float32", "float64")


def check_number(field_name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = True, integer: bool = False,
                 error: type[Exception] = SpecError) -> float | int:
    """Return ``value`` as a Python number inside the given bounds, or raise ``error`` naming ``field_name``.

    Accepted: Python and NumPy real scalars (``int``, ``float``, ``np.integer``, ``np.floating``) and other
    ``numbers.Real``. Rejected, as their Python equivalents are: bools (Python or NumPy), complex numbers, strings,
    arrays of any shape, and values that do not fit a float (``10**400``).
    """
    kind = "an integer" if integer else "a number"
    lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
    bounds = " and ".join(b for b in (lo, hi) if b)
    wanted = f"{kind}{' ' + bounds if bounds else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(f"{field_name}: expected {wanted}, got {shown(value)} ({type(value).__name__})")
    if integer:
        if not isinstance(value, numbers.Integral):
            raise error(f"{field_name}: expected {wanted}, got {shown(value)}")
        number: float | int = int(value)
    else:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise error(f"{field_name}: expected a finite number{' ' + bounds if bounds else ''}, "
                        f"got {shown(value)}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise error(f"{field_name}: expected {wanted}, got {shown(value)}")
    return number


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 400-digit integer stays readable in a message)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def canonical_dtype(value: Any, field_name: str = "dtype") -> str:
    """The name (``float32`` or ``float64``) of the dtype ``value`` names: a name such as ``"float32"``, ``"f4"``
    or ``"double"``, a NumPy scalar type such as ``np.float32``, or an ``np.dtype``. Anything else is a
    :class:`SpecError`."""
    wanted = f"{field_name}: expected one of {', '.join(DTYPES)} (or a NumPy dtype naming one)"
    if value is None or isinstance(value, (bool, numbers.Number)):
        raise SpecError(f"{wanted}; got {value!r}")
    try:
        name = np.dtype(value).name
    except (TypeError, ValueError):
        raise SpecError(f"{wanted}; got {shown(value)}") from None
    if name not in DTYPES:
        raise SpecError(f"{wanted}; got {shown(value)} ({name})")
    return name


def check_choice(field_name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the field and listing the choices."""
    if not isinstance(value, str) or value not in choices:
        raise SpecError(f"{field_name}: expected one of {', '.join(choices)}; got {value!r}")
    return value


def check_keys(field_name: str, given: Mapping, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
    """Reject unknown or missing keys of a dict, naming them and listing the allowed ones."""
    if not isinstance(given, Mapping):
        raise SpecError(f"{field_name}: expected a dict, got {type(given).__name__}")
    unknown = [k for k in given if k not in allowed]
    if unknown:
        raise SpecError(f"{field_name}: unknown key(s) {', '.join(map(repr, unknown))}; "
                        f"allowed keys are {', '.join(allowed)}")
    missing = [k for k in required if k not in given]
    if missing:
        raise SpecError(f"{field_name}: missing required key(s) {', '.join(missing)}")


