"""API-key check for /v1 routes (keys from ``LEADROUTER_API_KEYS``; none configured = open).

A plain call at the top of each handler rather than a FastAPI dependency: dependency resolution
costs more per request than the check itself.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from services.errors import DomainError


def require_api_key(request: Request) -> None:
    """Accept ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` when keys are configured."""
    keys = request.app.state.runtime.settings.api_keys
    if not keys:
        return
    presented = request.headers.get("x-api-key")
    if presented is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else None
    if not presented:
        raise DomainError(
            401, "unauthenticated", "API key required", "send 'Authorization: Bearer <key>' or 'X-API-Key'",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
    candidate = presented.encode()
    if not any(hmac.compare_digest(candidate, key.get_secret_value().encode()) for key in keys):
        raise DomainError(
            401, "invalid-api-key", "Invalid API key", "the API key is not valid",
            headers={"WWW-Authenticate": "Bearer"},
        )  # fmt: skip
