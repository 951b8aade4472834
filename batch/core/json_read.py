"""Reading what the service and a token say: a JSON key in any case, a JWT's claims unverified.

    key_of({"Attributes": {"Etag": "1"}}, "attributes")   -> {"Etag": "1"}
    claims_of(access_token)                               -> {"tid": ..., "appid": ...} or {}

The service's own answers are camelCase, its audit records' new values PascalCase, and its
error bodies either: a key is matched as written first, then case-insensitively. A token's
claims are read without verifying it (Partner Center verifies it; pcbatch only shows the tenant
it writes to and tells its own audit records apart); anything that is not a JWT has none.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

_NONE: Mapping[str, object] = {}


def key_of(node: object, key: str) -> object:
    """node[key] when node is a mapping, the key matched in any case; None when absent."""
    if not isinstance(node, Mapping):
        return None
    if key in node:
        return node[key]
    lower = key.lower()
    for name, value in node.items():
        if isinstance(name, str) and name.lower() == lower:
            return value
    return None


def claims_of(token: str) -> Mapping[str, object]:
    """The claims of a JWT (its payload), read, not verified; {} for anything else."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return _NONE
    return claims if isinstance(claims, dict) else _NONE
