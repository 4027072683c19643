"""Values as sources write them: numbers (a number, or text such as "1,234.5"), years, amounts in
dollars and ISO dates.

Each reader returns None for an empty value and raises TypeError or ValueError, naming the field
and quoting an excerpt of the value, for one it cannot read: the record carrying it is then set
aside (``dsrwatch.validation.set_aside_on_error``) and the rest of the run loads. NaN and infinity
pass, for the rules a table declares (``Range``) to refuse with the column named.
"""

from __future__ import annotations

from datetime import date, datetime

from dsrwatch.validation import excerpt


def shown(value: object) -> str:
    """A value as a message quotes it: repr, cut short."""
    return excerpt(repr(value)) or ""


def number(value: object, what: str) -> int | float | None:
    """A number as a source holds it (a number, or text with optional thousands commas); empty
    is None, anything else (a date, a list, "about 175 million") is unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{what} {shown(value)} is not a number ({type(value).__name__})")
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            raise ValueError(f"{what} {shown(value)} is not a number") from None
    return value


def year(value: object, what: str) -> int | None:
    """A year: a whole number (2010, 2010.0, "2010"); 2010.5 is unreadable."""
    found = number(value, what)
    if found is None:
        return None
    if isinstance(found, float) and not found.is_integer():
        raise ValueError(f"{what} {shown(value)} is not a year")
    return int(found)


def amount(value: object, what: str) -> float | None:
    """An amount of money, to the cent."""
    found = number(value, what)
    return None if found is None else round(float(found), 2)


def iso_date(value: str | None, what: str) -> date | None:
    """The date of an ISO date or timestamp ("2021-03-28", Socrata's floating
    "2021-03-28T00:00:00.000", a trailing Z); empty is None."""
    if not value:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} {shown(value)} is not an ISO date ({type(value).__name__})")
    try:
        return datetime.fromisoformat(value.replace("Z", "")).date()
    except ValueError:
        raise ValueError(f"{what} {shown(value)} is not an ISO date") from None
