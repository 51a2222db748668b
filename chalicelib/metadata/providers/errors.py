"""The provider errors, as API errors in the one envelope (chalicelib/api/errors.py)."""

from __future__ import annotations

from ...api.errors import ApiError


class ProviderNotConfigured(ApiError):
    """A provider's routes answer this until its settings are complete: it names the setting."""

    status, code = 503, "PROVIDER_NOT_CONFIGURED"

    def __init__(self, provider: str, setting: str, why: str = "is not set") -> None:
        super().__init__(
            f"{provider} is not configured: the setting {setting} {why} (PATCH /api/v1/settings/providers)",
            [{"field": setting, "message": why}],
        )
        self.provider = provider
        self.setting = setting


class ProviderBusy(ApiError):
    """The provider's rate limit leaves no slot soon enough: try again after ``retry_after``."""

    status, code = 503, "PROVIDER_BUSY"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, None, {"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class ProviderFailed(ApiError):
    """The provider could not be reached or answered something Haul cannot use."""

    status, code = 502, "PROVIDER_ERROR"


class ProviderRefused(ApiError):
    """The provider's URL is refused by the SSRF guard (a private or metadata address...)."""

    status, code = 503, "PROVIDER_URL_REFUSED"


class ProviderNotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class UpstreamBusy(ProviderBusy):
    """The provider itself answered 429/503 (its rate limit, or it is overloaded)."""
