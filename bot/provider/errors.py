"""Errors the provider reports, by the code in its response envelope."""

from __future__ import annotations

# Codes worth retrying with backoff (provider-api.md §4): rate limits, maintenance, server errors.
RETRYABLE_CODES = frozenset({405, 430, 455, 500})
INSUFFICIENT_CREDITS = 429


class ProviderError(Exception):
    """The provider refused or failed a request; `code` is its envelope code (or the HTTP status)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"provider error {code}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES

    @property
    def out_of_credits(self) -> bool:
        return self.code == INSUFFICIENT_CREDITS


class ProviderUnavailable(ProviderError):
    """The provider could not be reached at all (connection refused, DNS, timeout before sending)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)

    @property
    def retryable(self) -> bool:
        return True
