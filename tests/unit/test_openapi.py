"""The OpenAPI document stays true to the routes the app really has, and to what they answer."""

from __future__ import annotations

import json
import re

from chalice.test import Client

import app as app_module
from chalicelib.domain.task import Task
from chalicelib.downloads.responses import TaskView
from chalicelib.settings.schemas import Settings, SettingsVersionView
from chalicelib.settings.store import EngineSettings, SettingsVersion
from functions.rest.docs import openapi
from functions.rest.http import ROUTES

BASE = "/api/v1"
PUBLIC = {
    ("GET", "/health"), ("GET", "/auth/status"), ("POST", "/auth/setup"), ("POST", "/auth/login"),
    ("POST", "/auth/refresh"), ("GET", "/openapi.json"), ("GET", "/docs"),
    # The setup wizard: open before the first admin exists (403 afterwards).
    ("GET", "/setup/status"), ("POST", "/setup/test-feed"), ("POST", "/setup/test-notification"),
    ("POST", "/setup/complete"),
}


# The web app's page and static files (functions/rest/webapp.py): not part of the API.
WEBAPP_ROUTES = {"/", "/static/{version}/{name}"}


def app_routes() -> set[tuple[str, str]]:
    return {
        (method, path.removeprefix(BASE))
        for path, methods in app_module.app.routes.items()
        for method in methods
        if method != "OPTIONS" and path not in WEBAPP_ROUTES
    }


def documented() -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, ops in openapi()["paths"].items() for m in ops}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    assert all(path.startswith(BASE) for path in app_module.app.routes if path not in WEBAPP_ROUTES)
    assert documented() == app_routes()
    assert len({(op.method, op.path) for op in ROUTES}) == len(ROUTES)  # registered once each
    names = [op["operationId"] for ops in openapi()["paths"].values() for op in ops.values()]
    assert len(names) == len(set(names))


def test_security_and_roles_are_documented() -> None:
    doc = openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            public = (method.upper(), path) in PUBLIC
            assert (op["security"] == []) is public, (method, path)
            if not public:
                assert {"401", "429"} <= set(op["responses"]), (method, path)
                assert "X-RateLimit-Limit" in op["responses"][next(iter(op["responses"]))]["headers"]
            for status, answer in op["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
            for param in op["parameters"]:
                if param["in"] == "path":
                    assert "{" + param["name"] + "}" in path
    path_params = {p for path in doc["paths"] for p in re.findall(r"{(\w+)}", path)}
    assert path_params == {"task_id", "user_id", "key_id", "batch_id", "version", "job_id", "feed_id", "item_id",
                           "target_id"} | {"kind", "tmdb_id", "season", "release_id"}  # /metadata, /library (issue #18)


def test_request_models_reject_unknown_fields_and_bound_sizes() -> None:
    schemas = openapi()["components"]["schemas"]
    for name in ("AddDownload", "PatchDownload", "Login", "Setup", "Refresh", "CreateUser", "PatchUser",
                 "CreateApiKey", "SettingsPatch"):
        assert schemas[name]["additionalProperties"] is False, name
    add = schemas["AddDownload"]["properties"]
    assert add["url"]["maxLength"] == 2048 and add["tags"]["maxItems"] == 20
    assert schemas["Login"]["properties"]["password"]["maxLength"] == 1024


def test_response_models_match_what_handlers_build() -> None:
    view = Task(id="t", owner="o", url="https://example.com/x", filename="x", key="downloads/t/x").view()
    # guessed: GET /downloads/{id} alone adds it (DownloadService.detail).
    assert set(view) | {"guessed"} == set(TaskView.model_fields)
    TaskView.model_validate(view)
    doc = SettingsVersion(0, EngineSettings()).document()
    Settings.model_validate(doc)
    assert set(Settings.model_fields) == set(doc)
    SettingsVersionView.model_validate(SettingsVersion(0, EngineSettings()).entry())


def test_the_document_and_the_docs_page_are_served() -> None:
    client = Client(app_module.app)
    served = client.http.get(f"{BASE}/openapi.json")
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/json"
    assert json.loads(served.body) == json.loads(json.dumps(openapi()))
    assert served.json_body["openapi"].startswith("3.1")
    page = client.http.get(f"{BASE}/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    # Swagger UI from this origin (vendored), no inline script, nothing from anywhere else.
    assert re.search(r'<script src="/static/\w+/swagger-ui-bundle.js"', html) and "<script>" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    bundle = re.search(r'src="(/static/\w+/swagger-ui-bundle.js)"', html)
    assert bundle is not None
    script = client.http.get(bundle.group(1))
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in script.headers["Cache-Control"]


def test_schemathesis_reads_the_document() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi())))
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {(op.method.upper(), op.path) for op in operations} == app_routes()
