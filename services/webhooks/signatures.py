"""Request signature checks, one per CRM. Each raises ``SignatureError`` saying what failed (never
echoing the body or the secret); comparisons are constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

# HubSpot signs the URI with these escapes decoded (its v3 validation instructions).
_HUBSPOT_URI_DECODE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip


class SignatureError(Exception):
    """The request is not signed by the source's secret (``reason`` says how it failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _TimestampedScheme:
    """An HMAC scheme signing a timestamp header with the body: the headers, and the timestamp unit."""

    signature_header: str
    timestamp_header: str
    millis: bool

    def verify(
        self, headers: Mapping[str, str], sign: Callable[[str], str], *, now: float, tolerance: float
    ) -> None:
        """Check the timestamp is within ``tolerance`` of ``now``, then the signature ``sign`` makes."""
        timestamp = headers.get(self.timestamp_header.lower())
        if not timestamp:
            raise SignatureError(f"missing {self.timestamp_header} header")
        try:
            seconds = int(timestamp) / (1000 if self.millis else 1)
        except ValueError:
            raise SignatureError(f"{self.timestamp_header} is not a number") from None
        if seconds < now - tolerance:
            raise SignatureError(
                f"{self.timestamp_header} is older than {tolerance:g} s (replayed or delayed)"
            )
        if seconds > now + tolerance:
            raise SignatureError(f"{self.timestamp_header} is more than {tolerance:g} s in the future")
        signature = headers.get(self.signature_header.lower())
        if not signature:
            raise SignatureError(f"missing {self.signature_header} header")
        if not hmac.compare_digest(sign(timestamp).encode(), signature.strip().encode()):
            raise SignatureError(f"{self.signature_header} does not match")


_HUBSPOT = _TimestampedScheme("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", millis=True)
_SALESFORCE = _TimestampedScheme("X-Leadrouter-Signature", "X-Leadrouter-Timestamp", millis=False)


def hubspot_uri(uri: str) -> str:
    """``uri`` as HubSpot signs it: the escapes it lists decoded (upper or lower case)."""
    for escaped, char in _HUBSPOT_URI_DECODE.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    return uri


def sign_hubspot(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    message = method.encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float,
    tolerance: float,
) -> None:
    """Check ``X-HubSpot-Signature-v3`` with its ``X-HubSpot-Request-Timestamp`` (milliseconds)."""
    _HUBSPOT.verify(
        headers, lambda stamp: sign_hubspot(secret, method, uri, body, stamp), now=now, tolerance=tolerance
    )


def sign_salesforce(secret: str, body: bytes, timestamp: str) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_salesforce(
    secret: str, body: bytes, headers: Mapping[str, str], *, now: float, tolerance: float
) -> None:
    """Check ``X-Leadrouter-Signature`` with its ``X-Leadrouter-Timestamp`` (seconds)."""
    _SALESFORCE.verify(
        headers, lambda stamp: sign_salesforce(secret, body, stamp), now=now, tolerance=tolerance
    )


def standard_secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot be a Standard Webhooks secret (``whsec_`` + base64), or ``None``."""
    try:
        Webhook(secret)
    except Exception:  # the package raises several types for a bad secret
        return "is not a Standard Webhooks secret (whsec_ followed by base64)"
    return None


def verify_standard(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check a Standard Webhooks signature (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``) with the ``standardwebhooks`` package; returns the ``webhook-id``."""
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError as error:
        raise SignatureError(f"Standard Webhooks signature: {error}") from None
    except (ValueError, binascii.Error, UnicodeDecodeError):  # a malformed signature list or body
        raise SignatureError("Standard Webhooks signature: malformed webhook-signature header") from None
    return headers["webhook-id"]
