"""The settings API's models (functions/rest/settings.py): the nested document, its patch, the
validation answer and the history. Made from chalicelib/settings/store.py's SECTIONS table, so a new
setting appears here by itself."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..api.responses import FieldError
from ..api.schemas import _Strict
from .store import DOTTED, SECTIONS, EngineSettings


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


_HINTS = typing.get_type_hints(EngineSettings)


def _section(section: str, optional: bool) -> type[BaseModel]:
    name = f"Settings{section.capitalize()}Section" + ("Patch" if optional else "")
    spec: dict[str, Any] = {
        key: ((_HINTS[flat] | None, None) if optional else (_HINTS[flat], ...))
        for key, flat in SECTIONS[section].items()
    }
    return create_model(name, __base__=_Out, **spec)


_SECTIONS = {section: _section(section, False) for section in SECTIONS}
_PATCHES = {section: _section(section, True) for section in SECTIONS}

SettingsSections = create_model(  # type: ignore[call-overload]
    "SettingsSections", __base__=_Out, **{section: (model, ...) for section, model in _SECTIONS.items()}
)

Settings = create_model(  # type: ignore[call-overload]
    "Settings",
    __base__=_Out,
    version=(int, Field(description="counts up by one with every change (0: never changed)")),
    updated_at=(str | None, Field(description="when this version was made")),
    updated_by=(str | None, Field(description="who made it (a username)")),
    **{section: (model, ...) for section, model in _SECTIONS.items()},
)

SettingsPatch = create_model(  # type: ignore[call-overload]
    "SettingsPatch",
    __base__=_Out,
    __doc__="Sections with the settings to change (any subset); the flat names "
    "(e.g. part_size) are accepted too, for older clients.",
    **{section: (model | None, None) for section, model in _PATCHES.items()},
    **{
        flat: (_HINTS[flat] | None, Field(default=None, description=f"the same as {dotted} (older clients)"))
        for flat, dotted in DOTTED.items()
        if flat not in SECTIONS
    },
)


class SettingsValidation(_Out):
    valid: bool
    errors: list[FieldError] = Field(
        description="each offending field, named as the body named it (dotted for sections)"
    )
    settings: Settings = Field(  # type: ignore[valid-type]
        description="the settings the change would produce (the version it was checked against); nothing is applied"
    )


class SettingsVersionView(_Out):
    version: int
    updated_at: str | None
    updated_by: str | None
    restored_from: int | None = Field(description="the version this one restored, if it was a restore")
    settings: SettingsSections  # type: ignore[valid-type]
    changes: dict[str, list[int | float]] = Field(
        description='"section.key" -> [old, new] for what this version changed'
    )


class SettingsHistoryPage(_Out):
    versions: list[SettingsVersionView] = Field(description="newest first")
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None


class HistoryQuery(_Strict):
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=20, pattern=r"^\d+$",
                               description="the version to start from (next_cursor of the page before)")
