"""Errors the provider reports, and the one place that says what each of them means.

Every failure ends up as a code (the provider's envelope code, or one of ours below) and each code is
classified here once, along two lines:

- what it proves about a task-creating request (`Outcome`): nothing was made (sending it again is safe),
  the outcome is unknown (the request left and a task may exist, charged: never sent again blindly), or
  a definite refusal (nothing was made, and sending it again would be refused again);
- what the person is told: one catalogue key per situation, never a number.
"""

from __future__ import annotations

from enum import Enum

INSUFFICIENT_CREDITS = 429

# Our own codes, for failures that did not come from a provider envelope. They are stored with the task
# (tasks.error_code), so their values never change.
CODE_NO_ANSWER = 599  # the request left and no answer came back (a timeout, a reset connection)
CODE_UNREACHABLE = 503  # nothing reached the provider (connection refused, DNS)
SENSITIVE_WORD_CODE = 1001  # SENSITIVE_WORD_ERROR, which carries no numeric code
CODE_INTERRUPTED = 1002
CODE_INTERNAL = 1003
CODE_UNCONFIRMED = 1004  # the submission's answer was lost and no callback adopted the task in time
CODE_UNREADABLE = 1005  # an HTTP 5xx (or 200) whose body is no envelope: a proxy or a crashed server
CODE_DUPLICATE = 1006  # a one-per-parent result another of our tasks already follows (bot/studio/cover.py)
CODE_TIMEOUT = 408  # the provider's own "timed out", and ours when a task takes longer than we wait


class Outcome(Enum):
    NOT_MADE = "not_made"  # proven that no task was created: a retry is safe
    UNKNOWN = "unknown"  # a task may have been created (and charged)
    REFUSED = "refused"  # definitely refused: nothing was made, and a retry would be refused too


# Busy (the rate limit, call frequency) and maintenance are answered before anything is created.
_NOT_MADE = {405, 430, 455, CODE_UNREACHABLE}
# A server error, or no readable answer at all, may come after the task was made.
_UNKNOWN = {500, CODE_NO_ANSWER, CODE_UNREADABLE}
# Server-range codes that still say no result will come (replace-section's 500-body codes, §9): 501
# "generation failed" and 505 "feature disabled". Waiting for a callback after them would only end in
# "never confirmed", where the person should hear what happened.
_FAILED_AT_ONCE = {501, 505}

# One wording per situation; several codes may share one (busy is busy, whichever limit said so).
_WORDING = {
    400: "error.400",
    401: "error.401",
    404: "error.404",
    405: "error.busy",
    430: "error.busy",
    CODE_TIMEOUT: "error.408",
    413: "error.413",
    422: "error.400",  # a request the provider would not validate (the newer docs' code for it)
    INSUFFICIENT_CREDITS: "error.429",
    451: "error.451",
    455: "error.455",
    500: "error.500",
    501: "error.501",
    505: "error.505",
    531: "error.531",
    SENSITIVE_WORD_CODE: "error.sensitive",
    CODE_UNREACHABLE: "error.unreachable",
    CODE_NO_ANSWER: "error.unreachable",
    CODE_UNREADABLE: "error.unreachable",
    CODE_INTERRUPTED: "error.interrupted",
    CODE_INTERNAL: "error.internal",
    CODE_UNCONFIRMED: "error.unconfirmed",
    CODE_DUPLICATE: "error.duplicate",
}
# For a task built on an uploaded file, these codes are about the file rather than the text.
_UPLOAD_WORDING = {400: "error.upload_400", 413: "error.upload_413"}
# A mashup's callback codes mean something of their own (provider-tools.md §10): 400 is lyrics with
# copyrighted material, 413 a song that matches an existing work.
_KIND_WORDING = {"mashup": {400: "error.mashup_400", 413: "error.mashup_413"}}


_OURS = {
    CODE_NO_ANSWER,
    CODE_UNREACHABLE,
    SENSITIVE_WORD_CODE,
    CODE_INTERRUPTED,
    CODE_INTERNAL,
    CODE_UNCONFIRMED,
    CODE_UNREADABLE,
    CODE_DUPLICATE,
}


def envelope_code(code: int) -> int:
    """An envelope's code as we store it: one that would pass for one of ours is a server error."""
    return 500 if code in _OURS else code


def outcome(code: int) -> Outcome:
    """What an answer with this code proves about a task-creating request that was sent."""
    if code in _NOT_MADE:
        return Outcome.NOT_MADE
    if code in _FAILED_AT_ONCE:
        return Outcome.REFUSED
    if code in _UNKNOWN or code >= 500:
        return Outcome.UNKNOWN
    return Outcome.REFUSED  # 4xx: the provider looked at the request and said no


def wording(code: int | None, *, upload: bool = False, kind: str = "") -> str:
    """The catalogue key that tells the person what happened; codes unknown here share a generic one."""
    if code is None:
        return "error.unknown"
    if code in _KIND_WORDING.get(kind, {}):
        return _KIND_WORDING[kind][code]
    if upload and code in _UPLOAD_WORDING:
        return _UPLOAD_WORDING[code]
    return _WORDING.get(code, "error.unknown")


class ProviderError(Exception):
    """The provider refused or failed a request; `code` is its envelope code (or one of ours above)."""

    def __init__(self, code: int, message: str, *, task_id: str | None = None) -> None:
        super().__init__(f"provider error {code}: {message}")
        self.code = code
        self.message = message
        # A refusal that names a task: a one-per-parent endpoint's "already made" (bot/studio/cover.py).
        self.task_id = task_id

    @property
    def outcome(self) -> Outcome:
        return outcome(self.code)

    @property
    def retryable(self) -> bool:
        """Worth asking again, for a request that creates nothing (a read, a free upload)."""
        return self.outcome is not Outcome.REFUSED and self.code != CODE_NO_ANSWER

    @property
    def out_of_credits(self) -> bool:
        return self.code == INSUFFICIENT_CREDITS


class ProviderUnavailable(ProviderError):
    """The provider could not be reached at all (connection refused, DNS, timeout before sending)."""

    def __init__(self, message: str) -> None:
        super().__init__(CODE_UNREACHABLE, message)
