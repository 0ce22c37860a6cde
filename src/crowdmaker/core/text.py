"""Cleaning of the text people type, shared by every app's services.

Strips the ends, refuses control characters (a one-line field also refuses line breaks), enforces required and
maximum length, and raises `Invalid` naming the field. Must stay free of any domain's rules.
"""

from __future__ import annotations

import re
import unicodedata

from crowdmaker.core.errors import Invalid

# Unicode's "Other" categories: controls (Cc: NUL, newline, tab, ...), format characters (Cf: bidi overrides,
# zero-width spaces), surrogates (Cs) and private use (Co). A newline in a one-line field would let text break
# out of where it is shown (an e-mail header refuses it outright), and PostgreSQL text cannot hold NUL.
# Not refused: unassigned code points (Cn), because emoji newer than Python's Unicode tables are Cn there.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# One-line fields also refuse Unicode's own line and paragraph separators (U+2028, U+2029).
REFUSED_IN_ONE_LINE = REFUSED_CATEGORIES | {"Zl", "Zp"}
# The zero-width non-joiner and joiner are format characters that ordinary text needs: Persian and Indic words
# are spelt with them, and emoji sequences such as a woman mechanic are joined by them.
JOINERS = frozenset({"\u200c", "\u200d"})
LINE_BREAKS = frozenset({"\n", "\r", "\t"})
# A positive integer as people and pages write one in an address or a form: ASCII digits only ("²" is a digit to
# `str.isdigit` but not to `int`), and short enough for a bigint.
POSITIVE_INT = re.compile(r"[0-9]{1,18}")


def refuse_control_characters(value: str, *, field: str, multiline: bool = False) -> None:
    allowed, refused = (JOINERS | LINE_BREAKS, REFUSED_CATEGORIES) if multiline else (JOINERS, REFUSED_IN_ONE_LINE)
    for char in value:
        if char not in allowed and unicodedata.category(char) in refused:
            what = "control characters" if multiline else "line breaks, tabs or other control characters"
            raise Invalid(f"This text may not contain {what} (found U+{ord(char):04X}).", field=field)


def clean_text(value: str, *, field: str, max_length: int, required: bool = False, multiline: bool = False) -> str:
    """Strip `value` and check it; a one-line field (the default) refuses line breaks and tabs too."""
    value = value.strip()
    refuse_control_characters(value, field=field, multiline=multiline)
    if required and not value:
        raise Invalid("This field is required.", field=field)
    if len(value) > max_length:
        raise Invalid(f"At most {max_length} characters, please.", field=field)
    return value


def positive_int(value: str) -> int | None:
    """`value` as a positive integer (an id, a page cursor) if it is one written in 1 to 18 ASCII digits, else None."""
    if not POSITIVE_INT.fullmatch(value):
        return None
    number = int(value)
    return number if number > 0 else None
