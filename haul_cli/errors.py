"""Exit codes and the one error type the commands raise (README's CLI section lists the codes)."""

from __future__ import annotations

from typing import Any

OK = 0
FAILED = 1  # downloads that ended other than completed; a bulk action with failed items
USAGE = 2  # a bad option or argument (click's own code)
AUTH = 3  # not logged in, a refused login, 401/403
NOT_FOUND = 4  # 404
CONFLICT = 5  # 409: the action makes no sense in that state, setup already done
INVALID = 6  # 400/413/422: the server refused the input
RATE_LIMITED = 7  # 429
SERVER = 8  # 5xx, or an answer that is not the API's
UNREACHABLE = 9  # no connection, a timeout
CHECKSUM = 10  # a fetched file does not match its checksum or size
INTERRUPTED = 130  # Ctrl-C

EXIT_CODES: dict[int, str] = {
    OK: "success (for --follow and watch: every download completed)",
    FAILED: "some downloads failed or were cancelled, or some items of a bulk action failed",
    USAGE: "bad usage: an unknown option, a missing argument, a value that does not parse",
    AUTH: "not logged in, wrong credentials, or not allowed (401/403)",
    NOT_FOUND: "no such download, batch or setting (404)",
    CONFLICT: "the action makes no sense in the current state (409)",
    INVALID: "the server refused the input (400/413/422)",
    RATE_LIMITED: "too many requests or login attempts (429)",
    SERVER: "the server failed (5xx) or answered something that is not the API",
    UNREACHABLE: "cannot reach the server",
    CHECKSUM: "the fetched file does not match its checksum or size",
    INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_code_for_status(status: int) -> int:
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status == 409:
        return CONFLICT
    if status == 429:
        return RATE_LIMITED
    if status in (400, 405, 413, 415, 422):
        return INVALID
    return SERVER


class CliError(Exception):
    """A failure to report as one line and an exit code."""

    def __init__(self, message: str, exit_code: int = FAILED, *, code: str | None = None,
                 request_id: str | None = None, status: int | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
        self.request_id = request_id
        self.status = status
        self.details = details or []

    def line(self) -> str:
        """``error: NOT_FOUND: no download with id x (request 43882439-...)``"""
        text = f"{self.code}: {self.message}" if self.code else self.message
        fields = [d for d in self.details if d.get("field") and d.get("message") and d["message"] not in self.message]
        if fields:
            text += " (" + "; ".join(f"{d['field']}: {d['message']}" for d in fields) + ")"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return f"error: {text}"

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code or "CLI_ERROR", "message": self.message, "details": self.details,
                          "request_id": self.request_id, "status": self.status, "exit_code": self.exit_code}}
