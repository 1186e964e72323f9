"""Key and password hashing: SHA-256 for random API keys, scrypt for passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "bk_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def new_api_key() -> str:
    """A fresh random API key (256 bits); shown once, never stored."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def key_prefix(key: str) -> str:
    """The first characters of a key, kept in clear so a person can tell keys apart."""
    return key[:10]


def hash_api_key(key: str) -> str:
    """SHA-256 of a high-entropy key (a slow hash adds nothing for random keys)."""
    return hashlib.sha256(key.encode()).hexdigest()


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form scrypt$salt$hash."""
    salt = secrets.token_hex(16)
    digest = hashlib.scrypt(password.encode(), salt=salt.encode(), **_SCRYPT).hex()
    return f"scrypt${salt}${digest}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when the password matches the stored scrypt hash."""
    if not stored or stored.count("$") != 2:
        return False
    scheme, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=salt.encode(), **_SCRYPT).hex()
    return hmac.compare_digest(candidate, digest)
