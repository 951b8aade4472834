"""A number and its Excel number format -> the text Excel shows. Pure: no openpyxl, no xlrd.

Rules (README.md, "Values"; cells.cell_text hands every number of a cell here):

- Whole numbers -> plain digits, never `.0` or an exponent: 4255551234.0 -> `4255551234`.
- Other numbers -> rounded to the 15 significant digits Excel keeps, then the shortest text
  that reads back the same, in plain positional digits: 0.1 + 0.2 -> `0.3`, 1e-07 -> `0.0000001`
  (Excel's General format would switch to `1E-07` in a narrow column; the digits are the same).
- A number format is applied as Excel applies it: `0` is a digit that is always shown, `#` one
  shown only when significant, `?` one shown as a space when not; anything quoted, escaped
  (`\\x`), or one of the characters Excel shows without quotes (`$ + - ( ) : ! ^ & ' ~ { } < >
  = / space`) is literal text, `_x` is a space, `%` multiplies by 100, `General` is the plain
  number, colours and locales (`[Red]`, `[$-409]`) show nothing and `[$€-407]` shows `€`. Up to
  four sections (`positive;negative;zero;text`) and conditions (`[<=9999999]###-####;(###)
  ###-####`, Excel's "Phone Number") choose the section. So with `00000` the number 2134 ->
  `02134`, with `+00 00 000 0000` 31205550188 -> `+31 20 555 0188`. The number is rounded half
  away from zero first, as Excel does. A format whose text depends on the reader's language
  or the column's width (decimal and thousands separators, exponents, fractions, `*` fills),
  or that is not a number format, cannot be rendered exactly: `number_shown` gives None, and
  the readers mark such a cell so that validate.py refuses it, naming the format.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

# Characters Excel shows without quotes in a number format (Microsoft, "Number format codes").
_LITERALS = frozenset("$+-()/:!^&'~{}<>= ")
_DIGIT = "0"  # placeholder tokens of a section; literal text is carried as "'" + text
_OPTIONAL_DIGIT = "#"
_SPACE_DIGIT = "?"
_PLACEHOLDERS = frozenset((_DIGIT, _OPTIONAL_DIGIT, _SPACE_DIGIT))
_GENERAL = "G"  # the General token inside a section
_CONDITION = re.compile(r"\[(<=|>=|<>|<|>|=)(-?[0-9]+(?:\.[0-9]+)?)\]")
_COLOUR = re.compile(r"(?i)(black|blue|cyan|green|magenta|red|white|yellow|color\s*[0-9]+)")


@dataclass(frozen=True, slots=True)
class _Section:
    """One section of a number format: its tokens, its condition, whether it shows a percent."""

    tokens: tuple[str, ...]
    condition: tuple[str, Decimal] | None = None
    percent: bool = False


def number_text(value: numbers.Real, number_format: str | None) -> str:
    """A number as Excel shows it, or as General when the format cannot be rendered exactly."""
    shown = number_shown(value, number_format)
    if shown is not None:
        return shown
    exact = _exact(value)
    return exact if isinstance(exact, str) else _plain(exact)


def number_shown(value: numbers.Real, number_format: str | None = None) -> str | None:
    """The text Excel shows for a number under `number_format` (see the module's rules), or
    None when this format cannot be rendered exactly (the caller marks the cell)."""
    exact = _exact(value)
    if isinstance(exact, str):
        return exact
    if not number_format or number_format.strip().lower() in ("general", "@"):
        return _plain(exact)
    sections = _sections(number_format)
    if sections is None:
        return None
    section, signed = _choose(sections, exact)
    if section is None:
        return None
    number = exact * 100 if section.percent else exact
    whole = int(number.to_integral_value(rounding=ROUND_HALF_UP))
    text = _fill(section.tokens, abs(whole), _plain(abs(number)))
    return (("-" if signed and whole < 0 else "") + text).strip()


def format_renderable(number_format: str | None) -> bool:
    """True when `number_shown` renders every number under this format exactly."""
    if not number_format or number_format.strip().lower() in ("general", "@"):
        return True
    return _sections(number_format) is not None


def _exact(value: numbers.Real) -> Decimal | str:
    """The number as Excel holds it (15 significant digits), or the text of NaN and infinity."""
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    number = float(value)
    if math.isnan(number):
        return ""  # a reader's placeholder for "no value", never a real cell
    if math.isinf(number):
        return "#NUM!"  # Excel cannot hold infinities; it shows this error instead
    if number.is_integer():
        return Decimal(int(number))
    # Excel keeps 15 significant digits: 0.30000000000000004 is 0.3 there.
    return Decimal(repr(float(f"{number:.15g}")))


def _plain(exact: Decimal) -> str:
    """General: plain digits, no exponent."""
    if exact == exact.to_integral_value():
        return str(int(exact))
    return format(exact, "f")


def _choose(sections: tuple[_Section, ...], number: Decimal) -> tuple[_Section | None, bool]:
    """(the section Excel uses for the number, whether a minus sign goes in front).

    Without conditions: one section for all (minus in front of negatives); two: positive and
    zero, negative (no minus: the section shows it); three: positive, negative, zero. A fourth
    section is for text. With conditions: the first section whose condition holds, else the
    next section without one (Excel's "Phone Number": `[<=9999999]###-####;(###) ###-####`);
    a negative number then is not rendered (Excel's sign rules there are not documented).
    """
    numeric = sections[:3]
    if any(s.condition for s in numeric):
        if number < 0:
            return None, False
        for section in numeric:
            if section.condition is None or _holds(section.condition, number):
                return section, False
        return None, False
    if len(numeric) == 1:
        return numeric[0], True
    if number < 0:
        return numeric[1], False
    if number == 0 and len(numeric) == 3:
        return numeric[2], False
    return numeric[0], False


def _holds(condition: tuple[str, Decimal], number: Decimal) -> bool:
    operator, bound = condition
    return {
        "<": number < bound,
        "<=": number <= bound,
        ">": number > bound,
        ">=": number >= bound,
        "=": number == bound,
        "<>": number != bound,
    }[operator]


@lru_cache(maxsize=256)
def _sections(number_format: str) -> tuple[_Section, ...] | None:
    """A format's sections, parsed; None when any numeric section cannot be rendered exactly."""
    parts = _split_sections(number_format)
    if parts is None:
        return None
    found: list[_Section] = []
    for part in parts[:3]:
        section = _section(part)
        if section is None:
            return None
        found.append(section)
    return tuple(found)


def _split_sections(number_format: str) -> list[str] | None:
    """`0;(0)` -> [`0`, `(0)`]: split at `;` outside quotes, escapes and brackets."""
    parts: list[str] = []
    start = i = 0
    n = len(number_format)
    while i < n:
        char = number_format[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            end = number_format.find('"', i + 1)
            if end < 0:
                return None
            i = end + 1
            continue
        if char == "[":
            end = number_format.find("]", i)
            if end < 0:
                return None
            i = end + 1
            continue
        if char == ";":
            parts.append(number_format[start:i])
            start = i + 1
        i += 1
    parts.append(number_format[start:])
    return parts if len(parts) <= 4 else None


def _section(part: str) -> _Section | None:
    """One section's tokens: `+00 00` -> ("'+", "0", "0", "' ", "0", "0"); None when it holds
    what cannot be rendered exactly (see the module's rules)."""
    tokens: list[str] = []
    condition: tuple[str, Decimal] | None = None
    percent = False
    i, n = 0, len(part)
    while i < n:
        char = part[i]
        if char in _PLACEHOLDERS:
            tokens.append(char)
            i += 1
        elif char in _LITERALS:
            tokens.append(f"'{char}")
            i += 1
        elif char == "%":
            tokens.append("'%")
            percent = True
            i += 1
        elif char == "\\" and i + 1 < n:
            tokens.append(f"'{part[i + 1]}")
            i += 2
        elif char == "_" and i + 1 < n:
            tokens.append("' ")  # a space as wide as the next character
            i += 2
        elif char == '"':
            end = part.find('"', i + 1)
            tokens.append(f"'{part[i + 1 : end]}")
            i = end + 1
        elif char == "[":
            end = part.find("]", i)
            tag = part[i + 1 : end]
            match = _CONDITION.fullmatch(part[i : end + 1])
            if match is not None:
                condition = (match.group(1), Decimal(match.group(2)))
            elif tag.startswith("$"):
                symbol = tag[1:].partition("-")[0]  # [$€-407]: the symbol; [$-409]: nothing
                if symbol:
                    tokens.append(f"'{symbol}")
            elif not _COLOUR.fullmatch(tag):
                return None  # elapsed time ([h]), or a tag Excel added after this was written
            i = end + 1
        elif part[i : i + 7].lower() == "general":
            tokens.append(_GENERAL)
            i += 7
        else:
            return None  # decimals, separators, exponent, fraction, @, fill, date letters
    for before, slash, after in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if slash == "'/" and before in _PLACEHOLDERS and after in _PLACEHOLDERS:
            return None  # a fraction (`# ?/?`, `0/0`): its digits are not the number's
    if not any(t in _PLACEHOLDERS or t == _GENERAL for t in tokens):
        if tokens:
            return _Section(tuple(tokens), condition, percent)  # text only: `"none"`
        return None
    return _Section(tuple(tokens), condition, percent)


def _fill(pattern: tuple[str, ...], number: int, general: str) -> str:
    """Digits of a non-negative whole number poured into a pattern from the right, as Excel does.

    `0` shows a digit or a zero, `#` a digit or nothing, `?` a digit or a space; digits left
    over go in front of the leftmost placeholder. Zero has no significant digits (`#` shows
    nothing for it). `General` shows `general`, the plain number.
    """
    digits = str(number) if number else ""
    left = len(digits)
    out: list[str] = []
    places = [i for i, t in enumerate(pattern) if t in _PLACEHOLDERS]
    first = places[0] if places else -1
    for index in range(len(pattern) - 1, -1, -1):
        token = pattern[index]
        if token == _GENERAL:
            out.append(general)
        elif token not in _PLACEHOLDERS:
            out.append(token[1:])
        elif index == first:
            shown = digits[:left]
            out.append(shown or {"0": "0", "#": "", "?": " "}[token])
            left = 0
        elif left:
            out.append(digits[left - 1])
            left -= 1
        else:
            out.append({"0": "0", "#": "", "?": " "}[token])
    return "".join(reversed(out))
