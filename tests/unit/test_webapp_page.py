"""The web app's pages: mount point, WebSocket URL, policy, the content-addressed assets."""

from __future__ import annotations

from pathlib import Path

from chalicelib.webapp import assets as assets_module
from chalicelib.webapp import page


def test_base_path_locally_and_behind_a_stage() -> None:
    assert page.base_path("/", "/") == "/"
    assert page.base_path("/api/", "/") == "/api/"
    assert page.base_path("/api", "/") == "/api/"
    assert page.base_path("/api/v1/docs", "/api/v1/docs") == "/"
    assert page.base_path("/api/api/v1/docs", "/api/v1/docs") == "/api/"


def test_websocket_url_prefers_public_then_aws_then_local_on_the_page_host() -> None:
    common = {"region": "eu-west-1", "ws_stage": "api"}
    assert page.websocket_url(public_url="wss://ws.example.com/x", api_id="abc", endpoint=None, host=None,
                              **common) == "wss://ws.example.com/x"
    assert page.websocket_url(public_url=None, api_id="abc", endpoint=None, host="h",
                              **common) == "wss://abc.execute-api.eu-west-1.amazonaws.com/api"
    assert page.websocket_url(public_url=None, api_id=None, endpoint="http://127.0.0.1:8001/local",
                              host="192.168.1.5:8000", **common) == "ws://192.168.1.5:8001/local"
    assert page.websocket_url(public_url=None, api_id=None, endpoint="http://127.0.0.1:8001/local",
                              host=None, **common) == "ws://127.0.0.1:8001/local"
    assert page.websocket_url(public_url=None, api_id=None, endpoint=None, host="x", **common) is None


def test_policy_is_strict_and_names_the_websocket_origin() -> None:
    policy = page.csp("ws://127.0.0.1:8001/local")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "connect-src 'self' ws://127.0.0.1:8001" in policy
    assert "default-src 'none'" in page.csp(None)


def test_assets_are_versioned_by_content(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("export const a = 1;\n")
    (tmp_path / "index.html").write_text("<script src='{{static}}a.js'></script><meta content='{{ws}}'>")
    (tmp_path / "notes.txt").write_text("not served")
    first = assets_module.load((tmp_path,))
    assert set(first.files) == {"a.js"} and "index.html" in first.templates
    assert first.get(first.version, "a.js") is not None
    assert first.get("stale", "a.js") is None
    assert first.files["a.js"].content_type.startswith("text/javascript")
    html = page.render(first, "index.html", "/api/", 'ws://h:1/x"><script>')
    assert f"/api/static/{first.version}/a.js" in html and "&quot;&gt;&lt;script&gt;" in html
    (tmp_path / "a.js").write_text("export const a = 2;\n")
    assert assets_module.load((tmp_path,)).version != first.version


def test_every_served_module_import_resolves_to_a_served_file() -> None:
    import re

    served = assets_module.load()
    for asset in served.files.values():
        if asset.name.endswith(".js"):
            for target in re.findall(r"""(?:from|import)\s*\(?\s*["']\./([\w.-]+)["']""", asset.body):
                assert target in served.files, (asset.name, target)
