"""Domain errors that carry their HTTP status and RFC 9457 problem type."""

from __future__ import annotations

from schemas.problems import PROBLEM_BASE, FieldError, Problem


class DomainError(Exception):
    """An expected failure with its HTTP status; rendered as problem+json by one handler."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def problem(self, instance: str | None = None) -> Problem:
        """The problem details body for this error."""
        return Problem(
            type=PROBLEM_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
        )


def internal_error() -> DomainError:
    """The problem for an unexpected failure (the details go to the log, not to the caller)."""
    return DomainError(500, "internal-error", "Internal error", "an unexpected error occurred; it was logged")
