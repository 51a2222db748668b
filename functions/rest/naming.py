"""Naming settings (issue #18, docs/library.md): where downloads land and what they are
called. Anyone signed in reads them and previews a key; admins change them."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.domain.task import iso
from chalicelib.metadata import naming
from chalicelib.metadata.settings import NamingDocument, NamingPreview, NamingPreviewAnswer, NamingSettings

from .http import caller, json_body, route

blueprint = Blueprint(__name__)


def _document() -> dict[str, Any]:
    found, at, by = services().keys.settings.current()
    return {**found.document(), "updated_at": iso(at), "updated_by": by}


@route(blueprint, "/settings/naming", ["GET"], tag="settings", response=NamingDocument)
def get_naming(request: Request) -> dict[str, Any]:
    """The naming templates per kind and the categories' folders and templates."""
    return _document()


@route(blueprint, "/settings/naming", ["PUT"], role=Role.ADMIN, tag="settings", body=NamingSettings,
       response=NamingDocument)
def put_naming(request: Request) -> dict[str, Any]:
    """Replace the naming settings (admins); 422 names the offending template or folder. Downloads not yet
    started take the new names when they start; finished ones keep theirs until renamed."""
    who = caller(request)
    made = parse(NamingSettings, json_body(request))
    services().keys.settings.save(made, who.username)
    services().activity.record(owner=None, actor=who.username, kind="settings.naming",
                               message=f"naming settings changed ({len(made.categories)} categories)",
                               data=made.model_dump(mode="json", exclude_none=True))
    return _document()


@route(blueprint, "/settings/naming/preview", ["POST"], tag="settings", body=NamingPreview,
       response=NamingPreviewAnswer)
def preview_naming(request: Request) -> dict[str, Any]:
    """The key a download with this file name, metadata, category, folder and template would get."""
    req = parse(NamingPreview, json_body(request))
    keys = services().keys
    found = keys.settings.get()
    rule = found.resolve(req.category, req.path, req.template)
    template = rule.template or naming.default_template(req.metadata, found.effective_templates())
    key = keys.plan("<id>", req.filename, req.metadata, req.category, req.path, req.template)
    return {"key": key, "template": template, "path": naming.clean_path(rule.path) if rule.path else None}
