"""Who may call /v1: API keys with scopes, and a rate limit per key.

Keys come from the database (``leadrouter keys create``) and from ``LEADROUTER_API_KEYS`` (static keys
with every scope). With neither, the service is open (local use). A handler's first line names the
scope it needs (``await authorized(request, "ingest")``); a plain call rather than a FastAPI dependency,
whose resolution costs more per request than the check itself.

- no key, or one that is unknown, wrong or revoked: ``401``; a valid key without the scope: ``403``;
- over its rate limit: ``429`` with ``Retry-After``. Limits are per key and per process (a token bucket
  refilled continuously); with N workers or replicas a key gets up to N times its limit.

The process keeps the stored keys in memory and reloads them at least every few seconds (a revoked key
stops working within that time), and at once when an unknown key id is presented. Keys never appear in
logs or error bodies: only their public id does.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from pydantic import SecretStr

from services.api_keys import Scope, allows, key_digest, key_id_of
from services.db import api_keys as key_repo
from services.db.uow import UnitOfWork
from services.errors import DomainError

RELOAD_EVERY_SECONDS = 5.0  # how long a revoked key may still work in a running process
_RELOAD_UNKNOWN_AFTER_SECONDS = 1.0  # unknown ids reload at most this often (a flood of bad keys)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass
class _Key:
    id: str
    scopes: frozenset[str]
    digest: str
    per_minute: int | None
    tokens: float = 0.0
    refilled_at: float = 0.0


@dataclass
class KeyRing:
    """The keys this process accepts, with their rate-limit buckets."""

    uow: UnitOfWork
    static_keys: list[SecretStr]
    clock: Callable[[], float] = time.monotonic
    _stored: dict[str, _Key] = field(default_factory=dict)
    _loaded_at: float = -math.inf
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self, older_than: float = 0.0) -> None:
        """Read the stored keys that are not revoked (buckets of keys still there are kept), unless
        they were read less than ``older_than`` seconds ago (by a request that waited first)."""
        async with self._lock:
            if older_than > 0 and self.clock() - self._loaded_at < older_than:
                return
            async with self.uow.read() as conn:
                rows = await key_repo.list_keys(conn, include_revoked=False)
            keys = {}
            for row in rows:
                kept = self._stored.get(row["id"])
                key = _Key(
                    row["id"],
                    frozenset(row["scopes"].split()),
                    row["secret_sha256"],
                    row["rate_limit_per_minute"],
                )
                if kept is not None and kept.per_minute == key.per_minute:
                    key.tokens, key.refilled_at = kept.tokens, kept.refilled_at
                elif key.per_minute is not None:
                    key.tokens, key.refilled_at = float(key.per_minute), self.clock()
                keys[row["id"]] = key
            self._stored = keys
            self._loaded_at = self.clock()

    @property
    def enabled(self) -> bool:
        """Whether any key exists (else the service is open)."""
        return bool(self.static_keys or self._stored)

    async def check(self, presented: str | None, scope: Scope) -> str | None:
        """The id of the key ``presented`` if it may act in ``scope`` now (None: the service is open);
        raises the 401 / 403 / 429 otherwise."""
        if self.clock() - self._loaded_at >= RELOAD_EVERY_SECONDS:
            await self.load(older_than=RELOAD_EVERY_SECONDS)
        if not self.enabled:
            return None
        if not presented:
            raise DomainError(
                401, "unauthenticated", "API key required",
                "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", headers=_CHALLENGE,
            )  # fmt: skip
        key = await self._find(presented)
        if key is None:
            raise DomainError(
                401, "invalid-api-key", "Invalid API key", "the API key is not valid", headers=_CHALLENGE
            )
        if not allows(key.scopes, scope):
            raise DomainError(
                403, "insufficient-scope", "Scope missing",
                f"key {key.id} lacks the '{scope}' scope (it has: {', '.join(sorted(key.scopes))})",
            )  # fmt: skip
        self._take(key)
        return key.id

    async def _find(self, presented: str) -> _Key | None:
        candidate = presented.encode()
        for number, static in enumerate(self.static_keys):
            if hmac.compare_digest(candidate, static.get_secret_value().encode()):
                return _Key(f"static-{number}", frozenset({"admin"}), "", None)
        key_id = key_id_of(presented)
        if key_id is None:
            return None
        if key_id not in self._stored and self.clock() - self._loaded_at >= _RELOAD_UNKNOWN_AFTER_SECONDS:
            await self.load(older_than=_RELOAD_UNKNOWN_AFTER_SECONDS)  # made since the last load?
        key = self._stored.get(key_id)
        if key is None or not hmac.compare_digest(key.digest, key_digest(presented)):
            return None
        return key

    def _take(self, key: _Key) -> None:
        if key.per_minute is None:
            return
        now = self.clock()
        rate = key.per_minute / 60.0
        key.tokens = min(float(key.per_minute), key.tokens + max(0.0, now - key.refilled_at) * rate)
        key.refilled_at = now
        if key.tokens < 1.0:
            retry_after = max(1, math.ceil((1.0 - key.tokens) / rate))
            raise DomainError(
                429, "rate-limited", "Too many requests",
                f"key {key.id} is limited to {key.per_minute} requests per minute",
                headers={"Retry-After": str(retry_after)},
            )  # fmt: skip
        key.tokens -= 1.0


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``X-API-Key``, ``Authorization: Bearer``, or the password of
    ``Authorization: Basic`` (how a browser signs in to the report page)."""
    presented = request.headers.get("x-api-key")
    if presented is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            presented = token.strip()
        elif scheme.lower() == "basic":
            presented = _basic_password(token.strip())
    return presented or None


def _basic_password(token: str) -> str | None:
    try:
        return base64.b64decode(token, validate=True).decode("utf-8").partition(":")[2]
    except (ValueError, UnicodeDecodeError):
        return None
