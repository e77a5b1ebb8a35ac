"""Encryption at rest and keyed hashes for the sensitive columns (ID number, phone).

* Values are encrypted with AES-256-GCM (the `cryptography` package), a fresh 96-bit nonce
  per value, stored as urlsafe base64 of nonce + ciphertext + tag, prefixed "v1:" so a
  later key rotation can tell generations apart.
* Search never decrypts: each value has keyed hashes, HMAC-SHA256 under a second key,
  truncated to 128 bits (32 hex characters), of the full value and of its tail (last six
  and last four digits of an ID number, last four of a phone). A database dump without
  the key tells neither the numbers nor, unlike a plain hash, lets one test guesses.
* Both keys are derived from settings.LEDGER_KEY (env LEDGER_KEY / LEDGER_KEY_FILE) with
  distinct labels, so the encryption key and the hashing key are never the same bytes.
"""

import base64
import hashlib
import hmac
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

PREFIX = "v1:"


class DecryptionFailed(Exception):
    """The stored value was not encrypted with this key (wrong LEDGER_KEY, or tampered)."""


@cache
def _keys(secret: str) -> tuple[bytes, bytes]:
    master = secret.encode()
    enc = hmac.new(master, b"grassroots-ledger-encrypt-v1", hashlib.sha256).digest()
    mac = hmac.new(master, b"grassroots-ledger-hash-v1", hashlib.sha256).digest()
    return enc, mac


@cache
def _aead(secret: str) -> AESGCM:
    return AESGCM(_keys(secret)[0])


def encrypt(value: str) -> str:
    if not value:
        return ""
    nonce = os.urandom(12)
    sealed = _aead(settings.LEDGER_KEY).encrypt(nonce, value.encode(), b"ledger")
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    if not token.startswith(PREFIX):
        raise DecryptionFailed("未知的加密格式")
    raw = base64.urlsafe_b64decode(token[len(PREFIX):])
    try:
        return _aead(settings.LEDGER_KEY).decrypt(raw[:12], raw[12:], b"ledger").decode()
    except InvalidTag as exc:
        raise DecryptionFailed("无法解密：密钥不符或数据被篡改") from exc


def digest(kind: str, value: str) -> str:
    """The keyed hash of VALUE for the search kind KIND ("id", "id6", "id4", "phone", "phone4")."""
    if not value:
        return ""
    key = _keys(settings.LEDGER_KEY)[1]
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
