"""The naming settings: templates per kind, and categories with a folder and a template of
their own (qBittorrent's category save paths). Validated here; stored by
chalicelib/metadata/persistence.py; served by ``GET``/``PUT /settings/naming``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from . import naming
from .models import Metadata

MAX_CATEGORIES = 100


def _path(value: str | None) -> str | None:
    """A folder prefix: no '..' folder, no control characters (the rest is cleaned when the key is made)."""
    if value is None:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    if any(part.strip() == ".." for part in value.replace("\\", "/").split("/")):
        raise ValueError("must not contain a '..' folder")
    if not naming.clean_path(value):
        raise ValueError("must name at least one folder")
    return value


def _template(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return naming.check(value)
    except naming.TemplateError as exc:
        raise ValueError(str(exc)) from None


# A folder prefix for the stored object (like Sharktooth's download_dir), e.g. "TV Shows".
FolderPath = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_path)]
# A naming template (chalicelib/metadata/naming.py), e.g. "{title} ({year})/{title} ({year}).{ext}".
Template = Annotated[str, Field(min_length=1, max_length=naming.MAX_TEMPLATE), AfterValidator(_template)]
Family = Literal["tv", "movie", "music"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryNaming(_Strict):
    path: FolderPath | None = Field(default=None, description="the category's folder, e.g. 'TV Shows'")
    template: Template | None = Field(default=None, description="its naming template (else the kind's)")


class NamingSettings(_Strict):
    """Templates per kind (a kind left out uses Haul's default) and per category."""

    templates: dict[Family, Template] = Field(
        default_factory=dict, description="tv, movie, music -> template; left out: " + "; ".join(
            f"{k}: {v}" for k, v in naming.DEFAULT_TEMPLATES.items()),
    )
    categories: dict[str, CategoryNaming] = Field(default_factory=dict, description="category -> folder and template")

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: dict[str, CategoryNaming]) -> dict[str, CategoryNaming]:
        if len(value) > MAX_CATEGORIES:
            raise ValueError(f"at most {MAX_CATEGORIES} categories")
        for name in value:
            if not 1 <= len(name) <= 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
                raise ValueError(f"{name[:40]!r}: a category is 1 to 100 characters without control characters")
        return value

    def resolve(self, category: str | None, path: str | None, template: str | None) -> naming.Naming:
        """A download's folder and template: its own, else its category's (None: the kind's default)."""
        own = self.categories.get(category) if category is not None else None
        return naming.Naming(
            path=path if path is not None else (own.path if own else None),
            template=template if template is not None else (own.template if own else None),
        )

    def effective_templates(self) -> dict[str, str]:
        return {**naming.DEFAULT_TEMPLATES, **{str(k): v for k, v in self.templates.items()}}

    def document(self) -> dict[str, Any]:
        return {
            "templates": self.effective_templates(),
            "categories": {k: v.model_dump() for k, v in self.categories.items()},
            "fields": naming.FIELDS,
        }


class NamingPreview(_Strict):
    """POST /settings/naming/preview: the key a download would get (nothing is stored)."""

    filename: str = Field(default="file.mkv", min_length=1, max_length=1024)
    metadata: Metadata | None = None
    category: str | None = Field(default=None, max_length=100)
    path: FolderPath | None = None
    template: Template | None = None


class NamingDocument(_Out):
    templates: dict[str, str] = Field(description="tv, movie, music -> the template in force")
    categories: dict[str, CategoryNaming]
    fields: dict[str, str] = Field(description="the fields a template may use")
    updated_at: str | None
    updated_by: str | None


class NamingPreviewAnswer(_Out):
    key: str = Field(description="the S3 key (before it is made unique: a taken key gets ' (2)')")
    template: str | None = Field(description="the template used (null: the file keeps its name)")
    path: str | None = Field(description="the folder prefix used")
