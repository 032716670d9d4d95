# ruff: noqa: RUF002  (the Arabic digits and separators this reads)
"""Digits as documents of the region write them: Arabic-Indic (٠-٩) and Eastern Arabic-Indic (۰-۹) digits,
the Arabic thousands separator (٬) and decimal separator (٫), read as ASCII so one set of patterns reads
both scripts."""

from __future__ import annotations

_DIGITS = {**{0x0660 + d: str(d) for d in range(10)}, **{0x06F0 + d: str(d) for d in range(10)}}
_SEPARATORS = {0x066C: ",", 0x066B: ".", 0x060C: ",", 0x200F: None, 0x200E: None, 0x0640: None}
_TABLE = {**_DIGITS, **_SEPARATORS}


def ascii_digits(text: str) -> str:
    """``text`` with Arabic digits and separators as ASCII; the Arabic comma (،) becomes a comma, the
    direction marks and the tatweel (ـ) are dropped. Everything else is kept."""
    return text.translate(_TABLE)
