"""Credentials at rest: Fernet tokens under a MultiFernet built from settings.FERNET_KEYS
(newest key first), so keys can rotate: add a key in front, run `rotate_credentials`,
then drop the old key."""

from __future__ import annotations

import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS must hold at least one key.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FERNET_KEYS holds a key that is not a Fernet key.") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FERNET_KEYS))


def encrypt_json(data: dict) -> str:
    return fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        # Never echo the token; the usual cause is a removed key.
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with the configured FERNET_KEYS."
        ) from None


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode() if token else token
