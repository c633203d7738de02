"""Boost style: the provider rewrites a short style into a fuller one (provider-tools.md §12).

Asked from /custom's style question (handlers/forms.py): the person sends their style, the boosted one
comes back as a message with "Use it" / "Keep mine", and either answers the question. Synchronous: the
POST's answer is the result, but it costs credits, so it runs as a task like any other tool (quotas,
credits, exactly-once submission) and its answer is delivered by bot/studio/delivery.py.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import model_validator
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Texts
from bot.provider.models import ProviderRequest, ProviderSnapshot, first_text, limits_for
from bot.studio.tool import Tool, failed
from storage.models import FileData, Stage, Task, TaskKind

# No limit is documented for `content`: the longest style any model takes, so that what the form
# accepts as a style can always be boosted.
CONTENT_LIMIT = limits_for("V5").style
SUCCESS, PENDING = "1", "0"


class BoostRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/style/generate"

    content: str

    @model_validator(mode="after")
    def _rules(self) -> BoostRequest:
        self._require("content")
        self._check_lengths(content=(self.content, CONTENT_LIMIT))
        return self


def read_answer(task_id: str, data: dict[str, Any]) -> ProviderSnapshot:
    """`successFlag` is a string: "1" done; "0" (pending, undocumented for a synchronous call, §18.10)
    and "2" are failures, as is a success with no text."""
    flag = str(data.get("successFlag") or "").strip()
    result = first_text(data, ("result",))
    if flag != SUCCESS or not result:
        code = data.get("errorCode")
        reason = data.get("errorMessage") or ("the style is still being boosted" if flag == PENDING else None)
        body = {"code": code if isinstance(code, int) and code != 200 else 500, "msg": reason or ""}
        return failed(task_id, body)
    return ProviderSnapshot(
        task_id=task_id, stage=Stage.COMPLETE, files=[FileData(name="style", media="text", text=result)]
    )


def present(texts: Texts, task: Task, boosted: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """The boosted style with the two answers to the open style question (`boost:<task>:use|keep`)."""
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts("boost.use"), callback_data=f"boost:{task.id}:use")],
            [InlineKeyboardButton(texts("boost.keep"), callback_data=f"boost:{task.id}:keep")],
        ]
    )
    return texts("boost.result", style=boosted, mine=str(task.params.get("content") or "")), markup


TOOL = Tool(
    kind=TaskKind.BOOST_STYLE, request=BoostRequest, poll_path=None, read_answer=read_answer, present=present
)
