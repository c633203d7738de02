"""POST /api/v1/generate/mashup (provider-tools.md §10): two songs fetched, then a music-shaped task.

Both doc revisions are accepted, each with its own rules (§18.1): the snapshot's customMode and models
V4..V5, the newer copy's V6 / V6_WILD / V6_MINI (V5_5 kept as deprecated), `lyrics`, `variety` and
`duration`. `uploadUrlList` holds exactly two http(s) URLs, both of which are fetched before the task
runs (as the provider does): one it cannot fetch, or that is no audio, fails the task with 451/400.
An account may take only one family: `provider.studio.mashup_models = {"V6", ...}` refuses the others
with a 422 naming the model (the bot then tries the other family). Runs text → first → complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from emulators.provider.rules import (
    Finder,
    RuleError,
    _limit,
    _model,
    _optional_bool,
    _require_bool,
    _string,
    _tuning,
    _url,
)

if TYPE_CHECKING:
    from emulators.provider.studio.files import StudioHost
    from emulators.provider.tasks import EmulatedTask, TaskHost

ENDPOINT = "generate/mashup"
KIND = "mashup"
TYPE = "MASHUP"
STAGES = ("text", "first", "complete")  # text and first may be skipped by the real one (drop_stages)
INSTRUMENTAL = False  # it sings the prompt (or the lyrics) unless asked for an instrumental
CLASSIC_MODELS = frozenset({"V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"})
V6_MODELS = frozenset({"V6", "V6_WILD", "V6_MINI"})
MODELS = CLASSIC_MODELS | V6_MODELS
MODEL_NAMES = {"V6": "chirp-v6", "V6_WILD": "chirp-v6-wild", "V6_MINI": "chirp-v6-mini"}
FIELDS = frozenset(
    {
        "uploadUrlList",
        "customMode",
        "model",
        "callBackUrl",
        "prompt",
        "lyrics",
        "style",
        "title",
        "instrumental",
        "vocalGender",
        "styleWeight",
        "weirdnessConstraint",
        "audioWeight",
        "variety",
        "duration",
        "personaId",
        "personaModel",
    }
)
NON_CUSTOM_PROMPT_LIMIT = 500


def _limits(model: str) -> tuple[int, int, int]:
    """(prompt, style, title): V4 is the tightest; V4_5ALL and the V6 family cap titles at 80."""
    if model == "V4":
        return 3000, 200, 80
    if model == "V4_5ALL" or model in V6_MODELS:
        return 5000, 1000, 80
    return 5000, 1000, 100


def check(body: Mapping[str, Any], _find: Finder) -> str:
    urls = body.get("uploadUrlList")
    if not isinstance(urls, list) or len(urls) != 2:
        raise RuleError(400, "uploadUrlList must hold exactly 2 URLs")
    for index in range(2):
        _url({"uploadUrlList": urls[index]}, "uploadUrlList")
    if urls[0] == urls[1]:
        raise RuleError(400, "uploadUrlList must name two different files")
    model = _model(body, MODELS)
    _url(body, "callBackUrl")
    _tuning(body)
    # The snapshot requires customMode; the newer copy is always custom and lets it be left out.
    custom = (
        _require_bool(body, "customMode")
        if model not in V6_MODELS
        else _optional_bool(body, "customMode", True)
    )
    instrumental = _optional_bool(body, "instrumental", False)
    prompt_limit, style_limit, title_limit = _limits(model)
    if custom:
        _string(body, "style", required=True)
        _string(body, "title", required=True)
        if model not in V6_MODELS:  # the snapshot marks prompt required; the newer copy takes lyrics too
            _string(body, "prompt", required=True)
        _limit(body, "prompt", prompt_limit, f"for model {model}")
        _limit(body, "style", style_limit, f"for model {model}")
        _limit(body, "title", title_limit, f"for model {model}")
    else:
        _string(body, "prompt", required=True)
        _limit(body, "prompt", NON_CUSTOM_PROMPT_LIMIT, "in non-custom mode")
    if body.get("lyrics") is not None:
        if model not in V6_MODELS:
            raise RuleError(400, f"lyrics is not available on {model}")
        _string(body, "lyrics", required=True)
        _limit(body, "lyrics", prompt_limit, f"for model {model}")
    elif model in V6_MODELS and not instrumental:
        _string(body, "prompt", required=True)
    _whole(body, "variety", 0, 4, models=V6_MODELS, model=model)
    _whole(body, "duration", 10, 360, models=V6_MODELS | {"V5_5"}, model=model)
    return model


def _whole(
    body: Mapping[str, Any], name: str, low: int, high: int, *, models: frozenset[str], model: str
) -> None:
    value = body.get(name)
    if value is None:
        return
    if model not in models:
        raise RuleError(400, f"{name} is not available on {model}")
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RuleError(400, f"{name} must be an integer from {low} to {high}")


def model_refusal(host: StudioHost, model: str) -> str | None:
    """An account that takes one model family only (`host.mashup_models`): the others are refused."""
    allowed = host.mashup_models
    if allowed is None or model in allowed:
        return None
    return (
        f"model {model} is not supported for mashup on this account; use one of {', '.join(sorted(allowed))}"
    )


async def fetch_sources(host: TaskHost, task: EmulatedTask) -> tuple[int, str] | None:
    """Both songs downloaded as the provider would, before anything is made; a problem fails the task.
    A failure scripted with `provider.studio.fail_next` fails it here too, as a failure callback."""
    for index, url in enumerate(task.body["uploadUrlList"]):
        problem = await host.fetch_upload(task, url=str(url), part=str(index))
        if problem:
            return problem
    studio = getattr(host, "studio", None)
    return studio.take_failure() if studio is not None else None
