"""The OpenAPI 3 document of the REST API, made from the route table and the pydantic models.

functions/rest/http.py's ``route()`` records an :class:`Operation` for every route it registers
(the one route table); :func:`document` turns them into the document served at
``/api/v1/openapi.json``. Request schemas come from the same models that validate requests
(chalicelib/api/schemas.py and each concept's schemas.py), response schemas from
chalicelib/api/responses.py and the concepts' schemas.py/responses.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .responses import ErrorEnvelope

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK", 201: "Created", 302: "Found: a redirect", 400: "Bad request (the body is not JSON)",
    401: "Not authenticated: no, or no valid, credentials", 403: "Forbidden: the role does not allow this",
    404: "Not found (also another user's object: no existence leak)", 409: "Conflict with the current state",
    413: "Body too large", 422: "Validation error: the details name each offending field",
    429: "Too many requests: see Retry-After", 500: "Internal error (the request id helps find it)",
    502: "An outside service (a metadata provider, an indexer) failed or answered nonsense",
    503: "A backing service failed and nothing was changed: sending it again is safe",
}
RATE_HEADERS = {
    "X-RateLimit-Limit": "requests allowed per minute for this user",
    "X-RateLimit-Remaining": "requests left in the current minute",
    "X-RateLimit-Reset": "epoch seconds when the current minute ends",
}


@dataclass(frozen=True)
class Operation:
    path: str  # under the API base, e.g. "/downloads/{task_id}"
    method: str
    name: str
    summary: str
    tag: str
    role: str | None  # the least role allowed; None for a public route
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    content_type: str = "application/json"  # of the success answer ("" for none)
    headers: dict[str, str] = field(default_factory=dict)  # success response headers -> description
    also: dict[int, str] = field(default_factory=dict)  # other success statuses -> description (same body)


class _Schemas:
    """Collects model schemas into components, with $refs between them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "validation") -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        name = model.__name__
        self.components.setdefault(name, schema)
        return {"$ref": REF.format(model=name)}

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF)
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        return schema


def _parameters(op: Operation, schemas: _Schemas) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9-]+$"}}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        schema = schemas.inline(op.query)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           "style": "form", "explode": True})
    return params


def _responses(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {}
    headers = {name: {"description": text, "schema": {"type": "string"}} for name, text in op.headers.items()}
    request_id = {"X-Request-Id": {"description": "this request's id", "schema": {"type": "string"}}}
    limits = {n: {"description": t, "schema": {"type": "string"}} for n, t in RATE_HEADERS.items()} if op.role else {}
    ok: dict[str, Any] = {
        "description": STATUS_TEXT.get(op.status, "OK"),
        "headers": {**request_id, **limits, **headers},
    }
    if op.response is not None:
        ok["content"] = {op.content_type: {"schema": schemas.ref(op.response, "serialization")}}
    elif op.content_type:
        kind = "object" if op.content_type == "application/json" else "string"
        ok["content"] = {op.content_type: {"schema": {"type": kind}}}
    out[str(op.status)] = ok
    for status, text in op.also.items():
        out[str(status)] = {**ok, "description": text}
    errors = set(op.errors) | {500}
    if op.body is not None or op.query is not None:
        errors |= {422}
    if op.body is not None:
        errors |= {400, 413}
    if op.role is not None:
        errors |= {401, 429}
        if op.role != "viewer":
            errors |= {403}
    envelope = {"application/json": {"schema": schemas.ref(ErrorEnvelope, "serialization")}}
    for status in sorted(errors):
        extra = (
            {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}} if status == 429 else {}
        )
        out[str(status)] = {"description": STATUS_TEXT.get(status, "Error"), "content": envelope,
                            "headers": {**request_id, **extra}}
    return out


def document(operations: list[Operation], version: str, base: str = "/api/v1") -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for op in sorted(operations, key=lambda o: (o.path, o.method)):
        entry: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op, schemas),
            "responses": _responses(op, schemas),
            "security": [] if op.role is None else [{"bearer": []}, {"apiKey": []}],
        }
        if op.role is not None:
            entry["description"] = f"Needs the role {op.role} or above."
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schemas.ref(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Haul",
            "version": version,
            "description": "A serverless download manager. Errors share one envelope; see docs/security.md "
                           "for accounts, roles and tokens.",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
