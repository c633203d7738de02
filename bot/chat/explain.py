"""Turning broken request rules into sentences a person can act on."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import Texts
from bot.provider.models import RequestProblem


def explain_problems(
    texts: Texts, problems: list[RequestProblem], *, field_names: Mapping[str, str] | None = None
) -> str:
    """One line per problem. `field_names` maps a wire field to a catalogue key (prompt -> lyrics, say)."""
    lines = []
    for problem in problems:
        key = (field_names or {}).get(problem.field, f"field.{problem.field}")
        field = texts(key) if texts.has(key) else problem.field
        actual = int(problem.actual) if isinstance(problem.actual, int | float) else problem.actual
        values = {"field": field, "limit": problem.limit, "actual": actual}
        values |= {"low": problem.low, "choices": problem.choices}  # the studio's range and one_of
        lines.append(texts(f"problem.{problem.kind}", **values))
    return "\n".join(dict.fromkeys(lines))
