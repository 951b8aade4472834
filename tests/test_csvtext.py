"""A csv file's bytes -> text and separator: every encoding read exactly, or refused. Pure."""

import codecs

import pytest

from batch.core.csvtext import CsvTextError, decode, detect_separator, split_sep_line

TEXT = "Klant-ID;Straße;Plaats\nx;Café de l’Été;’s-Hertogenbosch – Zoé € 5\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "UTF-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16"),
        (TEXT.encode("cp1252"), "Windows-1252"),
    ],
)
def test_each_encoding_excel_writes_reads_back_exactly(data, encoding):
    assert decode(data) == (TEXT, encoding)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("x,Москва\n".encode("cp1251"), "3 accented letters in a row on line 1"),
        ("x,Łódź\n".encode("cp1250"), "It reads as Windows-1250 text (`Łódź`): if that is right,"),
        ("x,Köln\n".encode("cp850"), "(as Mac Roman `Kîln`, as DOS 850 `Köln`)"),
        ("x,Café\n".encode("cp850"), "It reads as DOS 850 text (`Café`)"),
        ("x,Montréal".encode() + b"\xe9\n", '"Ã" (U+00C3 LATIN CAPITAL LETTER A WITH TILDE)'),
        (b"x,caf\x81\n", "Windows-1252 it would not be sure text (byte 0x81 has no character"),
        ("x,Zoë".encode("utf-16-le"), "NUL bytes: UTF-16 without a byte-order mark"),
    ],
)
def test_text_that_could_be_another_encoding_is_refused_never_guessed(data, why):
    with pytest.raises(CsvTextError) as caught:
        decode(data)
    assert why in str(caught.value)
    assert str(caught.value).endswith('save it as "CSV UTF-8 (Comma delimited)"')


def test_excels_sep_line_names_the_separator_and_is_no_row():
    assert split_sep_line("sep=|\nA|B\n") == ("A|B\n", "|")
    assert split_sep_line('"sep=;"\r\nA;B\r\n') == ("A;B\r\n", ";")
    assert split_sep_line("A,B\n") == ("A,B\n", None)


@pytest.mark.parametrize(
    ("text", "separator"),
    [
        ("A,B,C\n1,2,3\n", ","),
        ("A;B;C\n1;2,5;3\n", ";"),
        ("A\tB\tC\n1\t2\t3\n", "\t"),
        ('A|B|C\n1|"2,3;4"|5\n', "|"),
        ("Customer ID\nx\n", ","),  # one column
        ("Title, March\nA;B;C\n1;2;3\n", ";"),  # a title line above does not decide it
    ],
)
def test_the_separator_used_most_outside_quotes_is_found(text, separator):
    assert detect_separator(text) == separator


def test_two_separators_used_as_often_are_refused():
    with pytest.raises(CsvTextError, match="the comma or the semicolon separates the columns"):
        detect_separator("A,B;C\n1,2;3\n")
