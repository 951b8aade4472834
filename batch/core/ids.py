"""Customer ids: the one GUID pattern that pcbatch and its stand-in use. Pure.

A customer (tenant) id is a GUID, 8-4-4-4-12 hexadecimal digits. Its canonical form, the only
one pcbatch puts in a URL, is lower case without braces (`0f8fad5b-d9cb-469f-a165-70867728950e`).
A sheet may spell it in any case with one pair of braces around it (`{0F8FAD5B-...}`); nothing
else (no hyphens, `urn:uuid:`, a path) is a customer id.
"""

from __future__ import annotations

import re

_HEX_GROUPS = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# re.ASCII: with IGNORECASE, only A-F match beside a-f, never another script's letters.
CANONICAL_GUID = re.compile(_HEX_GROUPS, re.ASCII)
_ANY_SPELLING = re.compile(rf"(\{{)?({_HEX_GROUPS})(?(1)\}})", re.ASCII | re.IGNORECASE)


def is_canonical_guid(text: str) -> bool:
    """True for a lower-case GUID without braces: the form that may go into a URL."""
    return CANONICAL_GUID.fullmatch(text) is not None


def canonical_guid(text: str) -> str | None:
    """`{0F8FAD5B-...}` -> `0f8fad5b-...`: the lower-case GUID, or None if the text is not one.

    Accepts any case and one pair of braces around the GUID, with surrounding spaces. Anything
    else (no hyphens, `urn:uuid:`, extra characters, a path) is None.
    """
    match = _ANY_SPELLING.fullmatch(text.strip())
    return match.group(2).lower() if match else None
