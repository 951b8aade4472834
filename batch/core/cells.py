"""One spreadsheet cell -> the text Excel shows for it. Pure: no pandas, no openpyxl.

Rules (README.md, "Values"; a reader hands over the cell's value and its number format):

- None -> "" (a blank cell); text is trimmed (Unicode spaces included).
- Booleans -> `TRUE` / `FALSE`, as Excel shows them.
- Whole numbers -> plain digits, never `.0` or an exponent: 4255551234.0 -> `4255551234`.
- Other numbers -> rounded to the 15 significant digits Excel keeps, then the shortest text
  that reads back the same, in plain positional digits: 0.1 + 0.2 -> `0.3`, 1e-07 -> `0.0000001`
  (Excel's General format would switch to `1E-07` in a narrow column; the digits are the same).
- A digit format is applied as Excel applies it: `0` is a digit that is always shown, `#` one
  shown only when significant, anything quoted, escaped or in `-()/: ` is literal text. So with
  `00000` the number 2134 -> `02134`, with `00000-0000` 980526399 -> `98052-6399`, with
  `(###) ###-####` 4255551234 -> `(425) 555-1234`. The number is rounded half away from zero
  first, as Excel does. Every other format (decimals, `#,##0`, percent, conditions, a separate
  negative section...) renders the plain number as above: those never carry an address.
- Dates and times -> ISO 8601 (`2024-03-01`, `2024-03-01T09:30:00`, `09:30:00`).
- Excel error values arrive as their text (`#N/A`, `#REF!`); `excel_error` recognises them,
  `is_clear` tells the clear token (typed, or as Excel's own error value) from the rest.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

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

_LITERALS = frozenset("-()/: ")
_DIGIT = "0"  # placeholder tokens of a pattern; literal text is carried as "'" + text
_OPTIONAL_DIGIT = "#"
_Pattern = tuple[str, ...]


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
        return _number_text(value, number_format)
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


def _number_text(value: numbers.Real, number_format: str | None) -> str:
    """A number as Excel shows it under `number_format` (see the module's rules)."""
    if isinstance(value, numbers.Integral):
        exact = Decimal(int(value))
    else:
        number = float(value)
        if math.isnan(number):
            return ""  # a reader's placeholder for "no value", never a real cell
        if math.isinf(number):
            return "#NUM!"  # Excel cannot hold infinities; it shows this error instead
        if number.is_integer():
            exact = Decimal(int(number))
        else:
            # Excel keeps 15 significant digits: 0.30000000000000004 is 0.3 there.
            exact = Decimal(repr(float(f"{number:.15g}")))
    pattern = _digit_pattern(number_format) if number_format else None
    if pattern is not None:
        whole = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
        return ("-" if whole < 0 else "") + _fill(pattern, abs(whole))
    if exact == exact.to_integral_value():
        return str(int(exact))
    return format(exact, "f")


@lru_cache(maxsize=256)
def _digit_pattern(number_format: str) -> _Pattern | None:
    """`00-0` -> ("0", "0", "'-", "0"); None for a format this module leaves alone.

    Only a format's sole section is read: with a negative or text section it is not a plain
    digit format any more. Colour and locale tags (`[Red]`, `[$-409]`) are skipped.
    """
    tokens: list[str] = []
    i, n = 0, len(number_format)
    while i < n:
        char = number_format[i]
        if char in (_DIGIT, _OPTIONAL_DIGIT) or char in _LITERALS:
            tokens.append(char if char in (_DIGIT, _OPTIONAL_DIGIT) else f"'{char}")
            i += 1
        elif char == "\\" and i + 1 < n:
            tokens.append(f"'{number_format[i + 1]}")
            i += 2
        elif char == '"':
            end = number_format.find('"', i + 1)
            if end < 0:
                return None
            tokens.append(f"'{number_format[i + 1 : end]}")
            i = end + 1
        elif char == "[":
            end = number_format.find("]", i)
            tag = number_format[i + 1 : end] if end > 0 else ""
            if end < 0 or tag[:1] in ("<", ">", "="):
                return None  # a condition: a choice between formats, not one format
            i = end + 1
        else:
            return None  # decimals, separators, %, exponent, @, ;, fill or padding
    if not any(t in (_DIGIT, _OPTIONAL_DIGIT) for t in tokens):
        return None
    return tuple(tokens)


def _fill(pattern: _Pattern, number: int) -> str:
    """Digits of a non-negative whole number poured into a pattern from the right, as Excel does.

    `0` shows a digit or a zero, `#` a digit or nothing; digits left over go in front of the
    leftmost placeholder. Zero has no significant digits (`#` shows nothing for it).
    """
    digits = str(number) if number else ""
    left = len(digits)
    out: list[str] = []
    first = min(i for i, t in enumerate(pattern) if t in (_DIGIT, _OPTIONAL_DIGIT))
    for index in range(len(pattern) - 1, -1, -1):
        token = pattern[index]
        if token not in (_DIGIT, _OPTIONAL_DIGIT):
            out.append(token[1:])
            continue
        if index == first:
            out.append(digits[:left] or ("0" if token == _DIGIT else ""))
            left = 0
        elif left:
            out.append(digits[left - 1])
            left -= 1
        elif token == _DIGIT:
            out.append("0")
    return "".join(reversed(out))


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
