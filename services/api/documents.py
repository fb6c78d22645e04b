"""The interface documents kept in the repository: OpenAPI (HTTP) and AsyncAPI (Kafka events)."""

from __future__ import annotations

import json
from typing import Any

from schemas.asyncapi import asyncapi_document, topic_names
from services.api.app import create_app
from services.settings import Settings


def interface_documents(settings: Settings) -> dict[str, str]:
    """``openapi.json`` and ``asyncapi.json`` for ``settings``, as the text written to ``schemas/``."""
    api = create_app(settings)
    documents: dict[str, Any] = {
        "openapi.json": api.openapi(),
        "asyncapi.json": asyncapi_document(topic_names(settings), api.version),
    }
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in documents.items()}
