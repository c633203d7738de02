"""What a studio tool declares, and the readers most tools share.

The provider's tool endpoints differ in where the task id sits, what the state field is called and what
type it has, and where the result is (provider-tools.md §1): each tool names its own readers, keyed on
the endpoint, never guessed from the payload. `envelope_of` is the one liberal reading used before the
task's kind is known (a callback is stored before anything else happens).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup

from bot.i18n import Texts
from bot.provider.client import RECORD_INFO_PATH
from bot.provider.errors import ProviderError
from bot.provider.models import ProviderRequest, ProviderSnapshot, first_text
from storage.models import Stage, Task, TaskKind, Track
from storage.store import Storage

Reader = Callable[[dict[str, Any]], ProviderSnapshot]
# How a text result is shown when it is more than its words: (texts, task, the text) -> message, buttons.
Presenter = Callable[[Texts, Task, str], tuple[str, InlineKeyboardMarkup | None]]
# A result the person has already: (storage, texts, the track's task, the track) -> message, buttons.
Existing = Callable[[Storage, Texts, Task, Track], Awaitable[tuple[str, InlineKeyboardMarkup | None] | None]]
# A synchronous tool's answer: (the task id we give it, the answer's data) -> its result.
AnswerReader = Callable[[str, dict[str, Any]], ProviderSnapshot]


@dataclass(frozen=True)
class Tool:
    """One provider endpoint as a task kind.

    `poll_path` None means synchronous: the POST's answer is the result (no callback, no record-info),
    read by `read_answer`. Otherwise the task is polled at `poll_path?<poll_query>=<id>` and its callbacks
    and polls are read by `read_callback` and `read_record` (the music shape by default, API §3.7/§5).
    Results are tracks (the music shape) or files (`ProviderSnapshot.files`, bot/studio/delivery.py).
    """

    kind: TaskKind
    request: type[ProviderRequest]
    poll_path: str | None = RECORD_INFO_PATH
    poll_query: str = "taskId"
    read_callback: Reader = ProviderSnapshot.from_callback
    read_record: Reader = ProviderSnapshot.from_record_info
    read_answer: AnswerReader | None = None
    # Record-info envelope codes that are states, not errors (recovery's 201 "running", 500 "all
    # failed"): with any, `read_record` is given the whole envelope instead of its `data`.
    poll_answers: frozenset[int] = frozenset()
    # A tool applied to a delivered track: its button under More… (a catalogue key), the short code its
    # callback data carries (`st:<code>:<track id>`), and the request fields it makes from the track.
    button: str | None = None
    code: str = ""
    from_track: Callable[[Task, Track], dict[str, Any]] | None = None
    # What makes it impossible on a track, known before anything is spent (a catalogue key), or None.
    refuse: Callable[[Task, Track], str | None] | None = None
    present: Presenter | None = None  # a text result's message and buttons (boost style's choice)
    # One result per parent (cover art): a refusal with one of these codes that names a task means the
    # provider made it before (our record of it lost); that task is adopted, polled and delivered.
    repeat_codes: tuple[int, ...] = ()
    # What the person already has from this tool for this track, shown instead of asking again.
    existing: Existing | None = None
    # A refused submission sent once more in another form (mashup's other model family), or None.
    retry: Callable[[ProviderRequest, ProviderError], ProviderRequest | None] | None = None
    # A request that makes nothing new and is charged to no one (recovery asks for links to a song that
    # exists): an unknown outcome (a 5xx, no answer, an unreadable one) is sent again a few times, as a
    # busy answer is, instead of waiting for a callback that would only prove a harmless second ask.
    resend_unknown: bool = False

    @property
    def synchronous(self) -> bool:
        return self.poll_path is None


def envelope_of(body: Mapping[str, Any]) -> tuple[Stage, str]:
    """Any tool callback's stage and task id, before its task's kind is known (ValueError if neither).

    The id is under `data.taskId`, `data.task_id` or a top-level `task_id` depending on the endpoint;
    a body `code` other than 200, or callbackType "error", is a failure; everything else is the end.
    """
    data = body.get("data")
    places = [data] if isinstance(data, Mapping) else []
    task_id = next((t for p in [*places, body] if (t := first_text(p, ("taskId", "task_id")))), None)
    if task_id is None:
        raise ValueError("a callback naming no task")
    code = body.get("code")
    kind = str(data.get("callbackType") or "").lower() if isinstance(data, Mapping) else ""
    if code != 200 or kind == "error":
        return Stage.FAILED, task_id
    return {"text": Stage.TEXT, "first": Stage.FIRST}.get(kind, Stage.COMPLETE), task_id


def failed(task_id: str, body: Mapping[str, Any], *, default_code: int = 500) -> ProviderSnapshot:
    """A tool's failure report: its code (when it is not 200) and its reason, under any of their names."""
    code = body.get("code")
    data = body.get("data")
    reason = first_text(body, ("msg", "message", "errorMessage", "error_message"))
    if isinstance(data, Mapping):
        reason = first_text(data, ("errorMessage", "error_message", "error", "msg")) or reason
    usable = isinstance(code, int) and not isinstance(code, bool) and code != 200
    return ProviderSnapshot(
        task_id=task_id,
        stage=Stage.FAILED,
        error_code=code if usable else default_code,  # type: ignore[arg-type]
        error_message=reason,
    )


def http_url(value: object) -> str | None:
    """Only http(s) URLs are fetched: file:// or data: from a callback must never be."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    return None


def flag_stage(flag: object, *, success: object, pending: tuple[object, ...]) -> Stage:
    """A record-info `successFlag` (a string enum for some tools, an integer for others) as a stage."""
    if isinstance(flag, str):
        flag = flag.strip().upper()
    if flag == success:
        return Stage.COMPLETE
    if flag in pending or flag is None:
        return Stage.SUBMITTED
    return Stage.FAILED
