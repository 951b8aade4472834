"""Text made safe to echo in a message or a log line: URLs lose their userinfo, controls escaped.

Rules:
- `redact_urls`: in every `scheme://user:password@host...` the userinfo becomes `***`, so a
  password given inside PC_AUTHORITY or PC_BASE_URL is never echoed. The userinfo runs from
  `://` to the last `@` before whitespace, a quote, `?` or `#`: a password holding a raw `/`
  is hidden too (at the price of hiding a path that holds `@`: the safe side).
- `escape_controls`: C0 and C1 control characters, DEL, the Unicode line and paragraph
  separators and the bidirectional overrides become visible escapes (`\\n`, `\\x1b`,
  `\\u202e`), so text from the service or a sheet (a header with a newline, ANSI colours) can
  neither forge a log line nor repaint a terminal. Backslashes stay as they are (paths).
- `printable`: both, for any text echoed to a person or a log.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?<=://)[^\s'\"<>?#]*@")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def redact_urls(text: str) -> str:
    """`https://u:pw@host/x` -> `https://***@host/x`, for every URL in the text."""
    return _USERINFO.sub("***@", text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`a\\nb\\x1b[31m` -> `a\\\\nb\\\\x1b[31m`: one line, nothing a terminal would act on."""
    return _CONTROLS.sub(_escape, text)


def printable(text: str) -> str:
    """Text to echo to a person or a log: URLs without userinfo, control characters escaped."""
    return escape_controls(redact_urls(text))
