"""The one error type of the domain: a stable `code`, a Japanese message, and per-field details.

Defined here, at the bottom, because the rules raise it for their own input and import nothing above
them; the rest of the site uses it through `shien.core.errors`, which holds the registry of every code
with its HTTP status (a code the rules raise is registered there too)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "errors": self.errors}
