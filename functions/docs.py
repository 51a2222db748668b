"""The API's own description: the OpenAPI document and an interactive page that reads it.

The page is self-contained (no script or style from anywhere else): it lists every operation
of /api/v1/openapi.json, lets you log in or paste a token or API key, and sends requests.
"""

from __future__ import annotations

import functools
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.openapi import document

from .api import VERSION
from .http import PUBLIC, ROUTES, route

blueprint = Blueprint(__name__)


@functools.cache
def openapi() -> dict[str, Any]:
    """The document (made once per process: the route table does not change while it runs)."""
    return document(ROUTES, VERSION)


@route(blueprint, "/openapi.json", ["GET"], role=PUBLIC, tag="meta", content_type="application/json")
def openapi_json(request: Request) -> dict[str, Any]:
    """This API's OpenAPI 3.1 document."""
    return openapi()


@route(blueprint, "/docs", ["GET"], role=PUBLIC, tag="meta", content_type="text/html")
def docs_page(request: Request) -> Response:
    """Interactive documentation: every operation, with a form to try it."""
    return Response(body=PAGE, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                   "connect-src 'self'; base-uri 'none'; form-action 'none'",
        "X-Content-Type-Options": "nosniff",
    })


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Haul API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1em;color:#222}
h1{margin:.2em 0}h2{border-bottom:1px solid #ddd;margin-top:1.5em}
details{border:1px solid #ddd;border-radius:6px;margin:.4em 0;padding:.3em .6em}
summary{cursor:pointer}code,textarea,pre{font:12px/1.3 ui-monospace,monospace}
.m{display:inline-block;width:4.5em;font-weight:bold}.GET{color:#06c}.POST{color:#080}.PATCH{color:#a60}.DELETE{color:#c00}
textarea{width:100%;min-height:6em}input{font:inherit}pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:24em}
.bar{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd}
</style></head><body>
<div class="bar"><h1>Haul API</h1>
<form id="login">user <input id="u" size="12"> password <input id="p" type="password" size="12">
<button>log in</button> or token / API key <input id="tok" size="40"> <span id="who"></span></form></div>
<div id="ops">loading openapi.json&hellip;</div>
<script>
"use strict";
const base = location.pathname.replace(/\\/docs\\/?$/, "");
const $ = (s) => document.querySelector(s);
const el = (tag, attrs, ...kids) => { const e = document.createElement(tag);
  Object.assign(e, attrs || {}); kids.forEach(k => e.append(k)); return e; };
$("#tok").value = sessionStorage.getItem("haul-token") || "";
$("#tok").onchange = () => sessionStorage.setItem("haul-token", $("#tok").value.trim());
function authHeaders() { const t = $("#tok").value.trim(); if (!t) return {};
  return t.startsWith("haul_") ? {"X-API-Key": t} : {"Authorization": "Bearer " + t}; }
$("#login").onsubmit = async (ev) => { ev.preventDefault();
  const r = await fetch(base + "/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: $("#u").value, password: $("#p").value})});
  const body = await r.json();
  if (r.ok) { $("#tok").value = body.access_token; $("#tok").onchange(); $("#who").textContent = body.user.username + " (" + body.user.role + ")"; }
  else { $("#who").textContent = body.error ? body.error.message : r.status; } };
function skeleton(schema, spec, depth) {
  if (!schema || depth > 4) return null;
  if (schema.$ref) return skeleton(spec.components.schemas[schema.$ref.split("/").pop()], spec, depth + 1);
  if (schema.anyOf) return skeleton(schema.anyOf[0], spec, depth + 1);
  if (schema.default !== undefined) return schema.default;
  if (schema.enum) return schema.enum[0];
  if (schema.type === "object") { const o = {};
    for (const k of (schema.required || [])) o[k] = skeleton((schema.properties || {})[k], spec, depth + 1); return o; }
  return {string: "", integer: 0, number: 0, boolean: false, array: []}[schema.type] ?? null; }
function operation(path, method, op, spec) {
  const params = op.parameters || [];
  const inputs = params.map(p => [p, el("input", {placeholder: p.name + (p.required ? " (required)" : ""), size: 24})]);
  const bodySchema = op.requestBody && op.requestBody.content["application/json"].schema;
  const body = bodySchema ? el("textarea", {value: JSON.stringify(skeleton(bodySchema, spec, 0), null, 2)}) : null;
  const out = el("pre", {textContent: ""});
  const send = el("button", {textContent: "send"});
  send.onclick = async () => { let url = base + path; const q = new URLSearchParams();
    for (const [p, input] of inputs) { if (!input.value) continue;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(input.value)); else q.append(p.name, input.value); }
    if ([...q].length) url += "?" + q;
    const init = {method: method.toUpperCase(), headers: {...authHeaders()}, redirect: "manual"};
    if (body) { init.headers["Content-Type"] = "application/json"; init.body = body.value; }
    const r = await fetch(url, init); const text = await r.text();
    let shown = text; try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
    out.textContent = r.status + " " + r.statusText + "\\n" + shown; };
  const codes = Object.keys(op.responses).join(", ");
  return el("details", {}, el("summary", {}, el("span", {className: "m " + method.toUpperCase(), textContent: method.toUpperCase()}),
      el("code", {textContent: path}), " \u2014 " + op.summary),
    el("p", {textContent: (op.description || "Public.") + " Answers: " + codes + "."}),
    ...inputs.map(([p, i]) => el("div", {}, i, " " + p.in)), body || "", el("div", {}, send), out); }
fetch(base + "/openapi.json").then(r => r.json()).then(spec => {
  const ops = $("#ops"); ops.textContent = ""; const byTag = {};
  for (const [path, methods] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(methods)) (byTag[op.tags[0]] ||= []).push([path, method, op]);
  for (const [tag, list] of Object.entries(byTag)) { ops.append(el("h2", {textContent: tag}));
    for (const [path, method, op] of list) ops.append(operation(path, method, op, spec)); } });
</script></body></html>
"""
