"""API keys: a keys file of (id, SHA-256 digest of the secret, tenant, role), re-read when it changes.

A key is `rw_<id>_<secret>`; only the digest of the secret is stored, and it is compared in constant time.
Secrets are 256-bit random, so a fast digest is right (no bcrypt, no write per request). Keys arrive as
`Authorization: Bearer <key>`, `X-API-Key: <key>`, or in the WebSocket `connection_init` payload.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ragweave.errors import Unauthenticated
from ragweave.headers import header

ROLES = ("reader", "writer", "admin")
_PREFIX = "rw_"
_MAX_CALLERS = 1024


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    role: str
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class KeyEntry:
    id: str
    digest: str
    tenant: str
    role: str
    created: float
    revoked: bool = False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, KeyEntry] = {}
        self._stamp: tuple[float, int] | None = None
        self._callers: dict[str, Caller] = {}  # keys verified since the file was last read

    def _load(self) -> dict[str, KeyEntry]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._entries, self._stamp, self._callers = {}, None, {}
            return self._entries
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            rows = json.loads(self.path.read_text(encoding="utf-8") or "[]")
            self._entries = {row["id"]: KeyEntry(**row) for row in rows}
            self._stamp, self._callers = stamp, {}
        return self._entries

    def _save(self, entries: dict[str, KeyEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps([asdict(e) for e in entries.values()], indent=2), encoding="utf-8")
        os.chmod(temporary, 0o600)
        temporary.replace(self.path)

    def create(self, tenant: str, role: str) -> tuple[KeyEntry, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not tenant or len(tenant) > 64 or not tenant.replace("-", "").replace("_", "").isalnum():
            raise ValueError("tenant must be 1-64 letters, digits, '-' or '_'")
        entries = dict(self._load())
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        entry = KeyEntry(key_id, _digest(secret), tenant, role, time.time())
        entries[key_id] = entry
        self._save(entries)
        return entry, f"{_PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        entries = dict(self._load())
        if key_id not in entries:
            return False
        entries[key_id] = KeyEntry(**{**asdict(entries[key_id]), "revoked": True})
        self._save(entries)
        return True

    def list(self) -> list[KeyEntry]:
        return list(self._load().values())

    def verify(self, key: str) -> Caller:
        """The key's caller. The file is checked for changes on every call (a revoked key is refused at once);
        a key accepted since it was last read is not digested again."""
        entries = self._load()
        caller = self._callers.get(key)
        if caller is not None:
            return caller
        key_id, _, secret = key.removeprefix(_PREFIX).partition("_")
        entry = entries.get(key_id) if key.startswith(_PREFIX) else None
        expected = entry.digest if entry else _digest("")
        valid = hmac.compare_digest(_digest(secret), expected) and entry is not None and not entry.revoked
        if not valid:
            raise Unauthenticated("the API key is not valid")
        assert entry is not None
        if len(self._callers) >= _MAX_CALLERS:
            self._callers.clear()
        caller = self._callers[key] = Caller(entry.tenant, entry.role, entry.id)
        return caller


def key_from(headers: Mapping[str, str] | None, params: Mapping[str, object] | None = None) -> str | None:
    params, headers = params or {}, headers or {}
    for value in (params.get("Authorization"), params.get("authorization"), header(headers, "authorization")):
        if isinstance(value, str) and value.lower().startswith("bearer "):
            return value[7:].strip()
    for value in (params.get("apiKey"), params.get("X-API-Key"), header(headers, "x-api-key")):
        if isinstance(value, str) and value:
            return value.strip()
    return None


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authenticate(store: KeyStore, key: str | None, client_host: str | None, *, dev_mode: bool, tenant: str) -> Caller:
    if key is not None:
        return store.verify(key)
    if dev_mode and is_loopback(client_host):
        return Caller(tenant=tenant, role="admin")
    raise Unauthenticated("an API key is required (Authorization: Bearer <key> or X-API-Key)")
