"""The message catalogue: every text the bot sends, by key and language."""

from __future__ import annotations

import importlib
import string
from functools import cache

DEFAULT_LANGUAGE = "en"
LANGUAGES = {"en": "English", "ru": "Русский"}


@cache
def catalogue(language: str) -> dict[str, str]:
    module = importlib.import_module(f"bot.locales.{language}")
    return dict(module.MESSAGES)


def pick_language(code: str | None) -> str:
    """Map Telegram's language_code (e.g. 'ru', 'en-GB', 'pt-br') to a language we speak."""
    if code:
        base = code.lower().replace("_", "-").split("-")[0]
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Texts:
    """Texts in one language, falling back to English for a key a translation lacks."""

    def __init__(self, language: str | None) -> None:
        self.language = pick_language(language)
        self._messages = catalogue(self.language)
        self._fallback = catalogue(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **values: object) -> str:
        template = self._messages.get(key) or self._fallback[key]
        return template.format(**values)

    def has(self, key: str) -> bool:
        return key in self._fallback
