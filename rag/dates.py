"""The one date validator: article headers, JSON Lines records, query filters and stored metadata all
read dates through :func:`iso_date`, so that they accept and refuse the same things."""

from __future__ import annotations

import datetime as dt

__all__ = ["iso_date"]


def iso_date(value: object, what: str = "date") -> dt.date | None:
    """``None`` for a missing value (None or ""), a :class:`datetime.date` for a date or a ``YYYY-MM-DD``
    string (a time after the date, as in ``2026-03-04T10:00``, is ignored). Anything else raises
    :class:`ValueError` whose message names ``what`` and the value, for the caller to re-raise as its own
    error (a ParseError naming the file and line, a QueryError naming the filter)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} is not a string; use YYYY-MM-DD")
    text = value.strip()
    try:
        if len(text) < 10 or (len(text) > 10 and text[10] not in "T "):
            raise ValueError
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a real YYYY-MM-DD date") from None
