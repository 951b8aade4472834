"""Certificate credentials as Entra checks them: a client assertion JWT signed with the app's key.

A confidential client may prove who it is with a JWT signed (RS256) by the private key of a
certificate uploaded to its app registration, naming that certificate in the JWT header by `x5t`
(the base64url SHA-1 thumbprint, RFC 7515) or `x5t#S256` (SHA-256). TrustedCertificates holds the
certificates a test uploads and checks an assertion's signature and expiry. It uses
`cryptography` (installed with msal), imported only once a certificate is added.
"""

from __future__ import annotations

import base64
import binascii
import json


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs and thumbprints are written (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """The bytes of base64url text, padded or not; binascii.Error (a ValueError) if malformed."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TrustedCertificates:
    """The certificates of the app registration; empty means assertions are not checked."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], object] = {}  # (header name, thumbprint) -> public key

    def __bool__(self) -> bool:
        return bool(self._keys)

    def add(self, pem: bytes) -> None:
        """Trust the certificate in `pem` (its public key, under both thumbprints)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        certificate = x509.load_pem_x509_certificate(pem)
        key = certificate.public_key()
        # x5t is a SHA-1 thumbprint by definition; x5t#S256 is its SHA-256 successor.
        self._keys[("x5t", b64url(certificate.fingerprint(hashes.SHA1())))] = key
        self._keys[("x5t#S256", b64url(certificate.fingerprint(hashes.SHA256())))] = key

    def verify(self, assertion: str, now: float) -> bool:
        """True when the JWT names a trusted certificate, is signed by it, and is unexpired.

        now: epoch seconds, compared with the JWT's `exp`.
        """
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        try:
            head, body, signature = assertion.split(".")
            header = json.loads(unb64url(head))
            claims = json.loads(unb64url(body))
            raw = unb64url(signature)
        except (ValueError, binascii.Error):
            return False
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return False
        if header.get("alg") != "RS256":
            return False
        # MSAL keeps the base64 padding in x5t; Entra accepts the thumbprint either way.
        names = ("x5t", "x5t#S256")
        keys = (self._keys.get((name, str(header.get(name)).rstrip("="))) for name in names)
        key = next((k for k in keys if k is not None), None)
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        try:
            key.verify(raw, f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        expires = claims.get("exp")
        return isinstance(expires, int | float) and expires > now
