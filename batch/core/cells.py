"""One spreadsheet cell -> the text Excel shows for it. Pure: no pandas, no openpyxl.

Rules (README.md, "Values"; a reader hands over the cell's value and its number format):

- None -> "" (a blank cell); text is trimmed (Unicode spaces included).
- Booleans -> `TRUE` / `FALSE`, as Excel shows them.
- Numbers -> the text Excel shows under the cell's number format, by number_format.py's rules
  (as General when the format cannot be rendered exactly).
- Dates and times -> ISO 8601 (`2024-03-01`, `2024-03-01T09:30:00`, `09:30:00`).
- Excel error values arrive as their text (`#N/A`, `#REF!`); `excel_error` recognises them,
  `is_clear` tells the clear token (typed, or as Excel's own error value) from the rest.
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
import unicodedata

from batch.core.number_format import number_text

# The default clear token: a cell holding it clears the field (--clear-token sets another).
CLEAR_TOKEN = "#N/A"

# Every error value Excel can show, including the newer dynamic-array and data-type ones.
EXCEL_ERRORS: frozenset[str] = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#PYTHON!",
        "#EXTERNAL!",
    }
)


def cell_text(value: object, number_format: str | None = None) -> str:
    """The text Excel shows for a cell's value; `number_format` is the cell's format code.

    Default format: None, which is Excel's `General`. Never returns NaN, numpy or None.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, numbers.Real):
        return number_text(value, number_format)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def excel_error(text: str) -> str | None:
    """`#n/a` -> `#N/A`: the Excel error value the text spells (any case), else None."""
    if not text.startswith("#"):
        return None
    upper = text.upper()
    return upper if upper in EXCEL_ERRORS else None


def is_clear(text: str, clear_token: str) -> bool:
    """True when a cell's text is the clear token: the same text, or the same Excel error value.

    Plain tokens match exactly (`NULL` is not `null`); error values in any case (`#n/a`).
    """
    if text == clear_token:
        return True
    error = excel_error(text)
    return error is not None and error == excel_error(clear_token)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def runs_as_formula(text: str) -> bool:
    """True when a spreadsheet could take the text for a formula (the guard's one check).

    Tab or CR first, or, once NFKC has folded full-width and small forms (`＝＋－＠`, `﹦`) and
    leading whitespace and newlines are stripped, `=`, `+`, `-` or `@` first. A leading `'`
    is Excel's text prefix: `'=1` does not run.
    """
    if text.startswith(FORMULA_START):
        return True
    return unicodedata.normalize("NFKC", text).lstrip().startswith(FORMULA_START)


def neutralise(text: str) -> str:
    """`=HYPERLINK(...)` -> `'=HYPERLINK(...)`: text a spreadsheet would run stays text.

    A `'` is added when the text, past any leading `'`, runs_as_formula (`＝1`, ` =1` and
    `\n@x` too); so `'=x` becomes `''=x` and `unneutralise` gives back exactly what came in,
    always.
    """
    return "'" + text if runs_as_formula(text.lstrip("'")) else text


def unneutralise(text: str) -> str:
    """The inverse of `neutralise`, for the loader of pcbatch's own csv files.

    Drops one leading `'` when what follows the `'`s runs_as_formula: `'+1 425` -> `+1 425`,
    `'＝1` -> `＝1`, while `'s-Hertogenbosch` stays as it is. Trap: a cell typed as `'=x` by a
    person (not written by pcbatch) also loses its `'`.
    """
    if text.startswith("'") and runs_as_formula(text.lstrip("'")):
        return text[1:]
    return text


# Characters a person cannot see in a cell: removed, or made a plain space, in every value.
ZERO_WIDTH: dict[str, str] = {
    "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner",
    "\u200d": "zero-width joiner",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space (byte-order mark)",
    "\u00ad": "soft hyphen",
}
NO_BREAK_SPACES: dict[str, str] = {
    "\u00a0": "no-break space",
    "\u202f": "narrow no-break space",
    "\u2007": "figure space",
}
_INVISIBLE = str.maketrans(
    {**dict.fromkeys(ZERO_WIDTH, None), **dict.fromkeys(NO_BREAK_SPACES, " ")}
)


def clean_invisible(text: str) -> tuple[str, str | None]:
    """(text without zero-width characters and with plain spaces, what was done or None).

    `Main\u200bSt` -> (`MainSt`, "removed a zero-width space (U+200B)"); trimmed again after.
    ASCII text (the common case) costs one check.
    """
    if text.isascii():
        return text, None
    found = sorted({c for c in text if c in ZERO_WIDTH or c in NO_BREAK_SPACES})
    if not found:
        return text, None
    cleaned = text.translate(_INVISIBLE).strip()
    parts = [
        f"removed {ZERO_WIDTH[c]} (U+{ord(c):04X})"
        if c in ZERO_WIDTH
        else f"made {NO_BREAK_SPACES[c]} (U+{ord(c):04X}) a plain space"
        for c in found
    ]
    return cleaned, "; ".join(parts)


def describe_char(char: str) -> str:
    """`–` -> `"–" (U+2013 EN DASH)`: a character named so a person can find it."""
    name = unicodedata.name(char, "")
    shown = char if char.isprintable() and not char.isspace() else ""
    return f'"{shown}" (U+{ord(char):04X}{" " + name if name else ""})'


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_escapes(text: str) -> str:
    """`Line 1_x000D_\nLine 2` -> `Line 1\r\nLine 2`: the `_xHHHH_` escapes of Office Open XML.

    Excel writes control characters so (and a `_` before such text as `_x005F_`); a csv saved
    by a program that copied an xlsx's raw strings carries them too (ECMA-376 Part 1, 22.9.2.19
    ST_Xstring).
    """
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text
