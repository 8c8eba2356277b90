"""The OpenAPI 3.1 document for /api/v1, /healthz and /readyz, served at /api/v1/openapi.json.

Generated, never written: every route whose view declares an
:class:`~grader.service.contracts.Operation` becomes an operation, with its path parameters
from the route, its query parameters, body and responses from the contract's models
(:mod:`grader.service.contracts`), and the models' JSON Schemas under
``components/schemas``. Outbound events are described under ``webhooks``. Two things come
from the settings: the rubric files instructors may choose from (RUBRICS_DIR) and the
largest page (MAX_PAGE_SIZE). tests/test_openapi.py fails when an API route declares no
operation; tests/test_openapi_contract.py runs schemathesis over every operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import contracts
from .contracts import Operation, Reply, operation
from .contracts import responses as out
from .operations.events import EVENT_TYPES

bp = Blueprint("openapi", __name__)

Schema = dict[str, Any]

_REF = "#/components/schemas/{model}"
_INT_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
# Path parameters by name: (schema, example, description).
_PATH_PARAMS: dict[str, tuple[Schema, Any, str]] = {
    "slug": ({"type": "string"}, "ml-health-check", "The assignment's slug."),
    "submission_id": (_INT_ID, 1, "A submission id."),
    "job_id": (_INT_ID, 1, "A job id."),
    "name": ({"type": "string"}, "lms", "The platform's name."),
    "platform_name": ({"type": "string"}, "lms", "The platform's registered name."),
    "delivery_id": (_INT_ID, 1, "A delivery id."),
    "secret_id": (_INT_ID, 1, "A signing secret's id."),
    "request_id": (_INT_ID, 1, "A regrade request's id."),
    "user_id": (_INT_ID, 1, "A user's id."),
    "comment_id": (_INT_ID, 1, "A bank comment's id."),
    "platform_id": (_INT_ID, 1, "An LTI platform's id."),
    "score_id": (_INT_ID, 1, "An LTI score's id."),
    "account_id": (_INT_ID, 1, "An LTI account's id."),
}
_ERRORS = {
    400: "The request is malformed.",
    401: "No valid credentials (bearer token, or webhook signature).",
    403: "The caller's role may not do this.",
    404: "Not found (or not the caller's to see).",
    409: "Conflicts with the current state.",
    413: "The body is larger than the limit.",
    415: "Unsupported Content-Type.",
    422: "A field is invalid; `field` names it.",
    503: "Busy or a dependency is unavailable; try again.",
}
_SECURITY: dict[str, list[Schema]] = {
    "bearer": [{"bearerAuth": []}],
    "public": [],
    "signed": [{"webhookId": [], "webhookTimestamp": [], "webhookSignature": []}],
}
_ROUTE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_LOCATION = {
    "Location": {
        "schema": {"type": "string"},
        "required": True,
        "description": "Where to read the resource.",
    }
}
#: Schemas that name no rubric file but must list the files that exist.
_RUBRIC_BODIES = ("AssignmentCreate", "AssignmentUpdate")


def operations(app: Flask) -> Iterable[tuple[str, str, Operation]]:
    """(OpenAPI path, method, operation) for every route whose view declares one."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        declared = getattr(app.view_functions[rule.endpoint], "operation", None)
        if declared is None:
            continue
        path = _ROUTE_ARG.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), declared


def _parameters(path: str, declared: Operation, max_page_size: int) -> list[Schema]:
    params: list[Schema] = []
    for name in re.findall(r"{([^}]+)}", path):
        schema, example, description = _PATH_PARAMS[name]
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": schema,
                "example": example,
                "description": description,
            }
        )
    if declared.query is not None:
        properties = contracts.schema(declared.query)["properties"]
        for name, schema in properties.items():
            description = schema.pop("description", "")
            if name == "per_page":
                schema["maximum"] = max_page_size
            if set(schema) - {"type", "default"} or schema.get("type") != "string":
                # An empty value counts as absent, whatever the parameter's type.
                schema = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": schema,
                    "description": description,
                }
            )
    for header in declared.headers:
        params.append(
            {
                "name": header.name,
                "in": "header",
                "required": False,
                "schema": dict(header.schema),
                "description": header.description,
            }
        )
    return params


def _reply(reply: Reply) -> Schema:
    entry: Schema = {"description": reply.description}
    if reply.model is not None:
        entry["content"] = {
            reply.media: {"schema": {"$ref": _REF.format(model=reply.model.__name__)}}
        }
    else:
        entry["content"] = {reply.media: {"schema": dict(reply.schema)}}
    if reply.location:
        entry["headers"] = _LOCATION
    return entry


def _entry(path: str, declared: Operation, max_page_size: int) -> Schema:
    entry: Schema = {
        "summary": declared.summary,
        "tags": [declared.tag],
        "operationId": declared.id,
        "responses": {
            **{str(s): _reply(r) for s, r in sorted(declared.replies.items())},
            **{str(c): {"$ref": f"#/components/responses/E{c}"} for c in declared.errors},
        },
    }
    if declared.security != "bearer":  # the document's default
        entry["security"] = _SECURITY[declared.security]
    if declared.description:
        entry["description"] = declared.description
    params = _parameters(path, declared, max_page_size)
    if params:
        entry["parameters"] = params
    if declared.body is not None or declared.body_media:
        content: Schema = {
            media: {"schema": dict(schema)} for media, schema in declared.body_media.items()
        }
        if declared.body is not None:
            content["application/json"] = {
                "schema": {"$ref": _REF.format(model=declared.body.__name__)}
            }
        entry["requestBody"] = {"required": declared.body_required, "content": content}
    return entry


def _models(declared: Iterable[Operation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {"Error": out.Error, "Event": out.Event}
    for op in declared:
        for reply in op.replies.values():
            if reply.model is not None:
                found[reply.model.__name__] = reply.model
        if op.body is not None:
            found[op.body.__name__] = op.body
    return [found[name] for name in sorted(found)]


def _component_schemas(models: list[type[BaseModel]], rubric_files: list[str]) -> Schema:
    _, top = models_json_schema(
        [(m, "validation") for m in models],
        ref_template=_REF,
    )
    schemas: Schema = contracts.requests.clean_schema(top.get("$defs", {}))
    for name in _RUBRIC_BODIES:
        if name in schemas:
            schemas[name]["properties"]["rubric"]["enum"] = rubric_files
    return schemas


def build(app: Flask, rubric_files: list[str], max_page_size: int = 200) -> dict[str, Any]:
    """The document for the app's routes, with the settings it depends on."""
    paths: dict[str, Schema] = {}
    declared = []
    for path, method, op in operations(app):
        paths.setdefault(path, {})[method] = _entry(path, op, max_page_size)
        declared.append(op)
    header = "Standard Webhooks header (see the operation's description)."
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "grader",
            "version": "1",
            "description": (
                "Auto-grading for written submissions. Every error has the body "
                '`{"error": {"status", "code", "message", "field"?}}`. Course '
                "platforms submit through a signed webhook and receive the events under "
                "`webhooks`, signed the same way."
            ),
        },
        "servers": [{"url": "/"}],
        "security": _SECURITY["bearer"],
        "paths": paths,
        "webhooks": {
            event: {
                "post": {
                    "summary": f"{event} (sent to the platform's events_url)",
                    "operationId": f"event_{event.replace('.', '_')}",
                    "security": _SECURITY["signed"],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": _REF.format(model="Event")}}
                        },
                    },
                    "responses": {
                        "2XX": {
                            "description": "Received. Anything else is retried; 410 "
                            "disables the endpoint."
                        },
                    },
                }
            }
            for event in EVENT_TYPES
        },
        "components": {
            "schemas": _component_schemas(_models(declared), rubric_files),
            "responses": {
                f"E{code}": {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": _REF.format(model="Error")}}
                    },
                }
                for code, text in _ERRORS.items()
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`grader token create`).",
                },
                **{
                    scheme: {"type": "apiKey", "in": "header", "name": name, "description": header}
                    for scheme, name in (
                        ("webhookId", "webhook-id"),
                        ("webhookTimestamp", "webhook-timestamp"),
                        ("webhookSignature", "webhook-signature"),
                    )
                },
            },
        },
    }


def rubric_files(rubrics_dir: str) -> list[str]:
    folder = Path(rubrics_dir)
    return sorted(p.name for p in folder.glob("*.toml")) if folder.is_dir() else []


def document() -> dict[str, Any]:
    """Built per request: cheap, and the rubric enum follows the folder as it is now."""
    cfg = current_app.config
    return build(current_app, rubric_files(str(cfg["RUBRICS_DIR"])), int(cfg["MAX_PAGE_SIZE"]))


@bp.get("/api/v1/openapi.json")
@operation(
    "openapi",
    "This document",
    "meta",
    {200: Reply(schema={"type": "object"})},
    security="public",
)
def openapi_json() -> Any:
    """The OpenAPI 3.1 document (public: it describes, it grants nothing)."""
    from flask import jsonify

    return jsonify(document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
