"""Response models shared by every route: the base model and the one error envelope. A concept's
own response models live in its package (chalicelib/downloads/responses.py,
chalicelib/auth/schemas.py, chalicelib/stats/schemas.py...)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldError(_Out):
    field: str
    message: str


class ErrorBody(_Out):
    code: str = Field(description="machine-readable, e.g. VALIDATION_ERROR, NOT_FOUND, UNAUTHENTICATED")
    message: str
    details: list[FieldError]
    request_id: str


class ErrorEnvelope(_Out):
    error: ErrorBody
