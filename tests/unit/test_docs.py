"""The README documents every setting and metric; the OpenAPI document describes the ingest bodies."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.api.app import create_app
from services.settings import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [name for name in Settings.model_fields if f"`LEADROUTER_{name.upper()}`" not in README]
    assert missing == []


def test_every_metric_is_documented() -> None:
    import services.metrics  # noqa: F401, PLC0415 - registers the metrics

    names = {m.name for m in REGISTRY.collect() if m.name.startswith("leadrouter_")}
    assert names
    missing = sorted(n for n in names if n not in README and f"{n}_total" not in README)
    assert missing == []


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("make run")
    assert block[1].startswith("make test")


def test_openapi_describes_bodies_and_problems() -> None:
    schema = create_app(Settings()).openapi()
    post = schema["paths"]["/v1/leads"]["post"]
    assert (
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/LeadIn"
    )
    assert "email" in schema["components"]["schemas"]["LeadIn"]["properties"]
    assert {"400", "409", "413", "415", "422", "503"} <= set(post["responses"])
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    activity = schema["paths"]["/v1/leads/{lead_id}/activities"]["post"]
    assert activity["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ActivityIn")
    assert "FeedbackIn" in schema["components"]["schemas"]


def test_every_route_is_in_the_api_reference() -> None:
    schema = create_app(Settings()).openapi()
    names = {
        "{lead_id}": "{id}",
        "{agreement_id}": "{id}",
        "{rep_id}": "{id}",
        "{queue_id}": "{id}",
        "{version}": "{n}",
    }
    routes = []
    for path, operations in schema["paths"].items():
        for old, new in names.items():
            path = path.replace(old, new)  # noqa: PLW2901
        routes += [f"`{method.upper()} {path}" for method in operations]
    assert routes
    assert [route for route in routes if route not in README] == []


def test_every_event_type_is_in_the_topic_reference() -> None:
    import schemas.events as events  # noqa: PLC0415

    types = [
        value
        for name, value in vars(events).items()
        if name.isupper() and name != "TYPE_PREFIX" and str(value).startswith(events.TYPE_PREFIX)
    ]
    assert len(types) >= 5
    assert [t for t in types if f"`{t}`" not in README] == []


def test_openapi_describes_the_agreement_yaml_bodies() -> None:
    schema = create_app(Settings()).openapi()
    create = schema["paths"]["/v1/agreements"]["post"]
    assert "application/yaml" in create["requestBody"]["content"]
    assert {"409", "413", "415", "422"} <= set(create["responses"])
    assert "line" in schema["components"]["schemas"]["FieldError"]["properties"]


def test_the_interface_documents_in_the_repository_are_current() -> None:
    """schemas/openapi.json and schemas/asyncapi.json match the code (``leadrouter export-schemas``)."""
    from services.api.documents import interface_documents  # noqa: PLC0415

    for name, text in interface_documents(Settings(_env_file=None)).items():
        assert (REPO / "schemas" / name).read_text(encoding="utf-8") == text, (
            f"run: leadrouter export-schemas ({name})"
        )
