"""Broken rules of the studio's requests, as problems the chat explains (bot/chat/explain.py)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_core import PydanticCustomError


def out_of_range(field: str, low: float, high: float, actual: object) -> PydanticCustomError:
    return PydanticCustomError(
        "range",
        "{field} must be from {low} to {limit}",
        {"field": field, "low": low, "limit": high, "actual": actual},
    )


def not_one_of(field: str, choices: Iterable[str], actual: object) -> PydanticCustomError:
    return PydanticCustomError(
        "one_of",
        "{field} must be one of {choices}",
        {"field": field, "choices": ", ".join(choices), "actual": str(actual)},
    )


def not_for_model(field: str, model: str) -> PydanticCustomError:
    return PydanticCustomError(
        "not_for_model", "{field} is not available on {actual}", {"field": field, "actual": model}
    )


def too_long(field: str, limit: int, actual: int) -> PydanticCustomError:
    return PydanticCustomError(
        "too_long",
        "{field} is {actual} characters; at most {limit}",
        {"field": field, "limit": limit, "actual": actual},
    )


def required(field: str) -> PydanticCustomError:
    return PydanticCustomError("required", "{field} is required", {"field": field})
