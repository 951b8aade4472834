"""A csv file's bytes -> its text and its separator, as Excel and ERP exports write them. Pure.

Encodings, decided from the bytes alone (or named by the person: `--encoding NAME`):
- a byte-order mark says it: UTF-8 (Excel's "CSV UTF-8"), UTF-16 little or big endian (Excel's
  "Unicode Text"), UTF-32;
- no mark: UTF-8 when the bytes are valid UTF-8 (plain ASCII is);
- otherwise Windows-1252 (Excel's plain "CSV" in Western Europe), but only when the text reads
  as Western European text and no other likely code page reads it as other text: Windows-1250
  (Central Europe), 1251 (Cyrillic), 1254 (Turkish), 1257 (Baltic), Mac Roman (Excel for Mac's
  "CSV (Macintosh)") and DOS 850 (Excel's "CSV (MS-DOS)"). A reading counts when every byte is
  defined in the code page, every non-ASCII letter is one its languages write (`_LETTERS`),
  every other non-ASCII character a common sign (`€ £ § ° « » ’ – …`) that stands apart from
  letters (only apostrophes and quotes touch them), no capital follows a small letter
  (`MontrÃ©al` is UTF-8 read wrongly) and a Latin code page gives no three non-ASCII letters in
  a row (Cyrillic read wrongly). When two readings differ (`Námìstí` as Windows-1252, `Náměstí`
  as Windows-1250), or none counts, the file is refused (CsvTextError) naming a word that would
  change: a wrong guess would send silently different text.

Line ends: CR (Excel for Mac), LF and CRLF all end a line (`normalise_line_ends`).

Separator: a first line `sep=;` (Excel's own hint) names it, and is not a row. Otherwise the one
of `,` `;` tab `|` found most often outside quotes in the first lines; a tie is refused.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from batch.core.cells import describe_char

SEPARATORS = (",", ";", "\t", "|")
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SEP_LINE = re.compile(r'"?sep=(.)"?[ \t]*\r?\n?')
_LINES_LOOKED_AT = 20
_SIGNS = frozenset("€£¥¢§¶°«»‘’‚“”„–—…•·´¨²³¹½¼¾µ×÷©®™¿¡ªº†‡‰‹›№\u00a0")
_APOSTROPHES = frozenset("’´·")  # l’adresse, l·l: signs that sit between letters
_OPENING = frozenset("‚„")  # low quotes open a quotation: never right after a letter
# Signs that may touch a letter: quotes, apostrophes, degrees, superscripts, marks (`m²`, `™`).
_TOUCHING = frozenset("‘’‚“”„«»‹›´·°ªº²³¹™®©¿¡\u00a0")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAVE_AS = 'in Excel, save it as "CSV UTF-8 (Comma delimited)"'

# The letters each code page's languages write, beyond ASCII (the alphabets of the languages
# Microsoft lists for each code page, and German, whose ä ö ü ß every Latin page carries).
_WESTERN = "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿŒœŠšŽžŸ"
_CENTRAL = (
    "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"  # Polish
    "áčďéěíňóřšťúůýžÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ"  # Czech
    "äĺľôŕÄĹĽÔŔ"  # Slovak
    "őűöüŐŰÖÜ"  # Hungarian
    "ćđĆĐ"  # Croatian, Slovene
    "ăâîşţĂÂÎŞŢ"  # Romanian
    "ß"
)
_BALTIC = "ąčęėįšųūžĄČĘĖĮŠŲŪŽāēģīķļņŗĀĒĢĪĶĻŅŖõäöüÕÄÖÜß"
_TURKISH = _WESTERN + "ğıİşĞŞ"
_CYRILLIC = "".join(chr(c) for c in range(0x400, 0x460) if chr(c).isalpha()) + "Ґґ"


@dataclass(frozen=True, slots=True)
class _CodePage:
    codec: str
    label: str  # as a person knows it
    option: str  # what to give --encoding
    letters: frozenset[str]
    latin: bool  # three non-ASCII letters in a row are no text of it


# Windows-1252 first: it is read without --encoding when no other one reads the bytes otherwise.
_CODE_PAGES = (
    _CodePage("cp1252", "Windows-1252", "windows-1252", frozenset(_WESTERN), True),
    _CodePage("cp1250", "Windows-1250", "windows-1250", frozenset(_CENTRAL), True),
    _CodePage("cp1251", "Windows-1251", "windows-1251", frozenset(_CYRILLIC), False),
    _CodePage("cp1254", "Windows-1254", "windows-1254", frozenset(_TURKISH), True),
    _CodePage("cp1257", "Windows-1257", "windows-1257", frozenset(_BALTIC), True),
    _CodePage("mac-roman", "Mac Roman", "mac-roman", frozenset(_WESTERN), True),
    _CodePage("cp850", "DOS 850", "cp850", frozenset(_WESTERN), True),
)
_UTF = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}


class CsvTextError(ValueError):
    """The bytes cannot be read as text for sure; the message says why and what to do."""


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding name as a person knows it) of a csv file's bytes; raises CsvTextError.

    encoding: the code page the person named (`--encoding`, any name Python knows: `cp1250`,
    `windows-1250`, `mac-roman`, `cp850`); then the bytes are read so, strictly.
    """
    if encoding is not None:
        return _decode_named(data, encoding)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise CsvTextError(f"not {_UTF[codec]} text ({exc.reason}); {_SAVE_AS}") from exc
            return text.removeprefix("\ufeff"), _UTF[codec]
    if b"\x00" in data:
        raise CsvTextError(
            f"holds NUL bytes: UTF-16 without a byte-order mark, or not text; {_SAVE_AS}"
        )
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        utf8_problem = exc.reason
    return _single_byte(data, utf8_problem)


def encoding_label(encoding: str) -> str:
    """`cp1250` -> `Windows-1250`: a code page's name as a person knows it; raises CsvTextError
    for a name Python does not know."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        known = ", ".join(page.option for page in _CODE_PAGES)
        raise CsvTextError(
            f'--encoding "{encoding}" is no known encoding; give one such as utf-8, {known}'
        ) from None
    found = next((page.label for page in _CODE_PAGES if page.codec == codec), None)
    return found or _UTF.get(codec, codec)


def _decode_named(data: bytes, encoding: str) -> tuple[str, str]:
    """The bytes in the encoding the person named; a UTF byte-order mark contradicts any other."""
    label = encoding_label(encoding)
    codec = codecs.lookup(encoding).name
    if codec == "utf-8":
        codec = "utf-8-sig"  # the mark is no character of the text
    for bom, marked in _BOMS:
        if data.startswith(bom) and not codec.startswith(marked.partition("-sig")[0]):
            raise CsvTextError(
                f"starts with a {_UTF[marked]} byte-order mark, so it is {_UTF[marked]} text,"
                f" not {label}; leave out --encoding"
            )
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvTextError(
            f"not {label} text: byte 0x{data[exc.start]:02X} on line {line} has no character"
            f" there; check --encoding"
        ) from exc
    return text.removeprefix("\ufeff"), label


def _single_byte(data: bytes, utf8_problem: str) -> tuple[str, str]:
    """Windows-1252 when it is the one sure reading of the bytes; else CsvTextError naming a
    word that another code page reads otherwise."""
    readings: dict[str, _CodePage] = {}  # text -> the first code page that reads it so
    doubt_1252 = ""
    for page in _CODE_PAGES:
        try:
            text = data.decode(page.codec)
        except UnicodeDecodeError as exc:
            doubt = f"byte 0x{data[exc.start]:02X} has no character there"
        else:
            doubt = _doubt(text, page)
            if doubt is None:
                readings.setdefault(text, page)
        if page.codec == "cp1252" and doubt is not None:
            doubt_1252 = doubt
    found = list(readings.items())
    if len(found) == 1 and found[0][1].codec == "cp1252":
        return found[0][0], "Windows-1252"
    head = f"not UTF-8 text ({utf8_problem})"
    if not found:
        raise CsvTextError(
            f"{head}, nor sure text in Windows-1252 ({doubt_1252}) or another likely code page,"
            " so it is not guessed; if you know its encoding, name it with --encoding NAME;"
            f" or {_SAVE_AS}"
        )
    if len(found) == 1:
        text, page = found[0]
        western = data.decode("cp1252", "replace")
        word = _word_at(text, _first_difference(text, western))
        raise CsvTextError(
            f"{head}; read as Windows-1252 it would not be sure text ({doubt_1252}), so it is"
            f" not guessed. It reads as {page.label} text (`{word}`): if that is right, say so"
            f" with --encoding {page.option}; or {_SAVE_AS}"
        )
    at = _first_difference(found[0][0], found[1][0])
    shown = ", ".join(f"as {page.label} `{_word_at(text, at)}`" for text, page in found[:4])
    options = " or ".join(f"--encoding {page.option}" for _, page in found[:4])
    raise CsvTextError(
        f"{head}; its bytes read as different text in more than one code page ({shown}), so"
        f" it is not guessed; say which one it is with {options}; or {_SAVE_AS}"
    )


def _first_difference(a: str, b: str) -> int:
    """The first position where two readings of the same bytes differ."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)


def _word_at(text: str, at: int) -> str:
    """The word around position `at` (letters, digits, `-` and `'`), at most 20 each side."""
    start, end = at, at + 1
    while start > 0 and at - start < 20 and (text[start - 1].isalnum() or text[start - 1] in "-'"):
        start -= 1
    while end < len(text) and end - at < 20 and (text[end].isalnum() or text[end] in "-'"):
        end += 1
    return text[start:end]


def _doubt(text: str, page: _CodePage) -> str | None:
    """Why `text`, the bytes read in `page`, may be no text of it; None when it reads right."""
    control = _CONTROL.search(text)
    if control is not None:
        return (
            f"control character {describe_char(control.group())}{_on_line(text, control.start())}"
        )
    found = _odd_character(text, page)
    if found is None:
        return None
    why, index = found
    return why + _on_line(text, index)


def _on_line(text: str, index: int) -> str:
    return f" on line {text.count(chr(10), 0, index) + 1}"


def _odd_character(text: str, page: _CodePage) -> tuple[str, int] | None:
    """(what is odd, where) about the first non-ASCII character that is no text of `page`.

    Only the non-ASCII characters and their neighbours are looked at: a large file of mostly
    ASCII text costs one regular-expression scan.
    """
    for match in _NON_ASCII.finditer(text):
        start, end = match.span()
        previous = text[start - 1] if start else ""
        run = 0
        for index in range(start, end):
            char = text[index]
            following = text[index + 1 : index + 2]
            if char.isalpha():
                run += 1
                if char not in page.letters:
                    return describe_char(char), index
                if page.latin and run >= 3:
                    return f"{run} accented letters in a row", index
                if not page.latin and previous.isascii() and previous.isalpha():
                    return f"{describe_char(char)} right after a Latin letter", index
                if char.isupper() and previous.isalpha() and previous.islower():
                    return f"{describe_char(char)} after a small letter", index
            elif char in _SIGNS:
                run = 0
                if previous.isalpha() and following.isalpha() and char not in _APOSTROPHES:
                    return f"{describe_char(char)} between letters", index
                if previous.isalpha() and char in _OPENING:
                    return f"{describe_char(char)} after a letter", index
                if char not in _TOUCHING and (previous.isalpha() or following.isalpha()):
                    return f"{describe_char(char)} touching a letter", index
            elif unicodedata.category(char).startswith("Z"):
                run = 0
            else:
                return describe_char(char), index
            previous = char
        following = text[end : end + 1]
        if not page.latin and previous.isalpha() and following.isascii() and following.isalpha():
            return f"{describe_char(following)} right after a Cyrillic letter", end
    return None


def normalise_line_ends(text: str) -> str:
    """CRLF (Windows) and CR alone (Excel for Mac's "CSV (Macintosh)") -> LF."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


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
