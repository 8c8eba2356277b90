"""The OpenAPI document cannot drift from the routes: every API route and method is
documented (its view declares an operation), and every documented operation has a route."""

from __future__ import annotations

import re

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every JSON API route: /api/... plus the health checks.
    HTML pages (grader.service.web) and static files are not part of the API."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/readyz")):
            continue
        path = re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((path, method.lower()))
    return out


def documented(spec: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_documented_and_every_operation_routed(app, client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    spec = r.get_json()
    assert spec["openapi"].startswith("3.1")
    routes, docs = api_routes(app), documented(spec)
    assert routes - docs == set(), "API routes whose view declares no @operation"
    assert docs - routes == set(), "documented operations without a route"


def test_path_parameters_match_the_routes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        params = list(item.get("parameters", []))
        for method in HTTP_METHODS & set(item):
            params += item[method].get("parameters", [])
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == names, path


def test_operations_are_complete(client):
    """Each operation has an id, a success response, documented errors in the envelope,
    and the security that its decorator enforces."""
    spec = client.get("/api/v1/openapi.json").get_json()
    ids = set()
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS & set(item):
            op = item[method]
            assert op["operationId"] not in ids
            ids.add(op["operationId"])
            assert any(code.startswith("2") for code in op["responses"]), (path, method)
            public = op.get("security") == []
            assert public == (path in ("/healthz", "/readyz", "/api/v1/openapi.json"))
            if not public:
                assert "401" in op["responses"], (path, method)
            for code, response in op["responses"].items():
                if code.startswith("4"):
                    assert response == {"$ref": f"#/components/responses/E{code}"}
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert {s["name"] for k, s in schemes.items() if k.startswith("webhook")} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert set(spec["webhooks"]) == {
        "submission.graded",
        "grade.released",
        "submission.failed",
        "regrade.requested",
        "regrade.answered",
        "grade.unreleased",
    }


def test_errors_match_the_documented_envelope(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    envelope = schemas["Error"]
    body = client.get("/api/v1/submissions").get_json()
    assert set(body) == set(envelope["required"])
    detail = schemas[envelope["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(body["error"]) <= set(detail["properties"])
    assert set(detail["required"]) <= set(body["error"])


def test_rubric_enum_follows_the_rubrics_folder(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    rubric = spec["components"]["schemas"]["AssignmentCreate"]["properties"]["rubric"]
    assert "ml-health-check.toml" in rubric["enum"]
