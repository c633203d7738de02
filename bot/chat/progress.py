"""What a task's progress message says."""

from __future__ import annotations

from bot.i18n import Texts

# Our own failure codes live with the provider's, classified once in bot/provider/errors.py.
from bot.provider.errors import CODE_INTERNAL as CODE_INTERNAL
from bot.provider.errors import CODE_INTERRUPTED as CODE_INTERRUPTED
from bot.provider.errors import CODE_UNCONFIRMED as CODE_UNCONFIRMED
from bot.provider.errors import CODE_UNREACHABLE as CODE_UNREACHABLE
from bot.provider.errors import wording
from storage.models import Stage, Task

BAR_WIDTH = 10
_STAGE_STEPS = {Stage.QUEUED: 0, Stage.SUBMITTED: 1, Stage.TEXT: 2, Stage.FIRST: 3, Stage.COMPLETE: 4}
_STEPS = 4
_DESCRIPTION_PREVIEW = 120


def progress_bar(stage: Stage) -> str:
    done = round(BAR_WIDTH * _STAGE_STEPS.get(stage, 0) / _STEPS)
    return "▰" * done + "▱" * (BAR_WIDTH - done)


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def failure_text(texts: Texts, code: int | None, *, upload: bool = False, kind: str = "") -> str:
    """The message for a failure code: the situation in words, never the code itself."""
    return texts(wording(code, upload=upload, kind=kind))


def task_summary(task: Task) -> str:
    """The person's own words for the task, shortened, so they can tell their songs apart."""
    params = task.params
    text = params.get("title") or params.get("prompt") or params.get("tags") or params.get("style") or ""
    text = " ".join(str(text).split())
    if len(text) > _DESCRIPTION_PREVIEW:
        text = text[: _DESCRIPTION_PREVIEW - 1] + "…"
    return text


def render_progress(
    task: Task,
    texts: Texts,
    *,
    now: float,
    queue_position: int | None = None,
    track_count: int = 0,
    asked_by: str | None = None,
    recovering: int = 0,
) -> str:
    """`recovering`: tracks whose lost audio the provider is asked for again (bot/studio/recovery.py)."""
    lines = [f"🎵 {texts(f'kind.{task.kind.value}')}"]
    if asked_by is not None:
        lines.append(texts("progress.asked_by", name=asked_by))
    summary = task_summary(task)
    if summary:
        lines.append(f"“{summary}”")
    lines.append("")
    if task.stage is Stage.FAILED:
        lines.append(f"❌ {texts('stage.failed')}")
        lines.append(failure_text(texts, task.error_code, upload=task.kind.uses_upload, kind=task.kind.value))
    else:
        if task.stage is Stage.QUEUED and queue_position:
            label = texts("stage.queued_position", position=queue_position)
        elif task.kind.studio and texts.has(f"stage.studio.{task.stage.value}"):
            label = texts(f"stage.studio.{task.stage.value}")  # a tool writes no song
        else:
            label = texts(f"stage.{task.stage.value}")
        lines.append(f"{progress_bar(task.stage)} {label}")
    end = task.finished_at if task.finished_at is not None else now
    lines.append(texts("progress.elapsed", elapsed=format_elapsed(end - task.created_at)))
    if task.stage in (Stage.FIRST,) and task.stream_url:
        lines.append(texts("progress.stream", url=task.stream_url))
    if task.stage is Stage.COMPLETE and track_count:
        lines.append(texts("progress.tracks", count=track_count))
    if task.stage is Stage.COMPLETE and recovering:
        lines.append(texts("progress.recovering", count=recovering))
    return "\n".join(lines)
