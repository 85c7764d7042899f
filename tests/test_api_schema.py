"""The API describes itself: an OpenAPI 3 schema, docs served from our own static files, JSON errors."""

import pytest
import yaml
from django.test import Client


@pytest.fixture
def schema(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_openapi_3_and_lists_every_v1_route(schema):
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/tickets/", "/api/v1/tickets/{id}/transitions/", "/api/v1/standings/", "/api/v1/queue/"} <= set(
        schema["paths"]
    )
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal token from Account → API tokens.",
    }


def test_every_operation_documents_the_error_shape(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "429"):
                content = operation["responses"][status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"
            # The web server's own refusal of an over-long URL comes before the API, in HTML.
            assert operation["responses"]["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"message", "code", "fields"}


def test_ticket_create_documents_the_idempotency_key(schema):
    parameters = schema["paths"]["/api/v1/tickets/"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters)


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_their_assets_from_our_static_files_not_a_cdn(db, page):
    html = Client().get(page).content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_a_server_error_in_the_api_answers_json(api_client_for, partner_member, monkeypatch):
    from support.knowledge import search as kb

    def broken(*args, **kwargs):
        raise RuntimeError("search index gone")

    monkeypatch.setattr(kb, "search", broken)
    client = api_client_for(partner_member)
    client.raise_request_exception = False
    response = client.get("/api/v1/kb/search/", {"q": "checkout"})
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
