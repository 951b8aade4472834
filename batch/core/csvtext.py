"""A csv file's bytes -> its text and its separator, as Excel and ERP exports write them. Pure.

Encodings, decided from the bytes alone:
- a byte-order mark says it: UTF-8 (Excel's "CSV UTF-8"), UTF-16 little or big endian (Excel's
  "Unicode Text"), UTF-32;
- no mark: UTF-8 when the bytes are valid UTF-8 (plain ASCII is);
- otherwise Windows-1252 (Excel's plain "CSV" in Western Europe), but only when the text reads
  as Western European text: every byte defined in Windows-1252, every non-ASCII character a
  letter or a common sign (`€ £ § ° « » ’ – …`), no sign between two letters but an
  apostrophe, no low quote right after one, no capital after a small letter (`MontrÃ©al` is
  UTF-8 read wrongly), no three non-ASCII letters in a row (Cyrillic or Greek code pages read
  wrongly). Anything else is refused
  (CsvTextError): a wrong guess would send silently different text.

Separator: a first line `sep=;` (Excel's own hint) names it, and is not a row. Otherwise the one
of `,` `;` tab `|` found most often outside quotes in the first lines; a tie is refused.
"""

from __future__ import annotations

import codecs
import re

from batch.core.cells import describe_char

SEPARATORS = (",", ";", "\t", "|")
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SEP_LINE = re.compile(r'"?sep=(.)"?[ \t]*\r?\n?')
_LINES_LOOKED_AT = 20
_SIGNS = frozenset("€£¥¢§¶°«»‘’‚“”„–—…•·´¨²³¹½¼¾µ×÷©®™¿¡ªº†‡‰‹›\u00a0")
_APOSTROPHES = frozenset("’´·")  # l’adresse, l·l: signs that sit between letters
_OPENING = frozenset("‚„")  # low quotes open a quotation: never right after a letter
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAVE_AS = 'in Excel, save it as "CSV UTF-8 (Comma delimited)"'


class CsvTextError(ValueError):
    """The bytes cannot be read as text for sure; the message says why and what to do."""


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name as a person knows it) of a csv file's bytes; raises CsvTextError."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise CsvTextError(f"not {_name(codec)} text ({exc.reason}); {_SAVE_AS}") from exc
            return text.removeprefix("\ufeff"), _name(codec)
    if b"\x00" in data:
        raise CsvTextError(
            f"holds NUL bytes: UTF-16 without a byte-order mark, or not text; {_SAVE_AS}"
        )
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        utf8_problem = exc.reason
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise CsvTextError(
            f"not UTF-8 text ({utf8_problem}), nor Windows-1252 (byte 0x{data[exc.start]:02X} has"
            f" no character there); {_SAVE_AS}"
        ) from exc
    doubt = _not_western(text)
    if doubt is not None:
        raise CsvTextError(
            f"not UTF-8 text ({utf8_problem}); read as Windows-1252 it would not be sure text"
            f" ({doubt}), so it is not guessed; {_SAVE_AS}"
        )
    return text, "Windows-1252"


def _name(codec: str) -> str:
    return {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}[codec]


def _not_western(text: str) -> str | None:
    """Why text decoded as Windows-1252 may be something else, or None when it reads right."""
    run = 0
    previous = ""
    line = 1
    for index, char in enumerate(text):
        if char == "\n":
            line += 1
        if char.isascii():
            if char < " " and char not in "\t\r\n":
                return f"control character {describe_char(char)} on line {line}"
            run = 0
            previous = char
            continue
        following = text[index + 1 : index + 2]
        if char.isalpha():
            run += 1
            if run >= 3:
                return f"{run} accented letters in a row on line {line}"
            if char.isupper() and previous.isalpha() and previous.islower():
                return f"{describe_char(char)} after a small letter on line {line}"
        elif char in _SIGNS:
            run = 0
            if previous.isalpha() and following.isalpha() and char not in _APOSTROPHES:
                return f"{describe_char(char)} between letters on line {line}"
            if previous.isalpha() and char in _OPENING:
                return f"{describe_char(char)} after a letter on line {line}"
        else:
            return f"{describe_char(char)} on line {line}"
        previous = char
    return None


def split_sep_line(text: str) -> tuple[str, str | None]:
    """(text without Excel's `sep=X` first line, X) or (text, None) when it has none."""
    match = _SEP_LINE.match(text)
    if match is None or match.group(1) in '\r\n"':
        return text, None
    return text[match.end() :], match.group(1)


def detect_separator(text: str) -> str:
    """The separator of `,` `;` tab `|` used most outside quotes in the first lines.

    `,` when none is used (one column). Raises CsvTextError when two are used equally often.
    """
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    lines = 0
    for char in text:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in counts:
            counts[char] += 1
        elif char == "\n":
            lines += 1
            if lines >= _LINES_LOOKED_AT:
                break
    ranked = sorted(SEPARATORS, key=lambda s: -counts[s])
    best, second = ranked[0], ranked[1]
    if counts[best] == 0:
        return ","
    if counts[best] == counts[second]:
        raise CsvTextError(
            f"cannot tell whether the {_SEPARATOR_NAMES[best]} or the"
            f" {_SEPARATOR_NAMES[second]} separates the columns; add a first line"
            f" sep={best if best != chr(9) else ';'} naming it, or save the file again"
        )
    return best
