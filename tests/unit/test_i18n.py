"""The message catalogue: every language has every key, with the same placeholders."""

from __future__ import annotations

import pytest

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Texts, catalogue, pick_language, placeholders

OTHER_LANGUAGES = [code for code in LANGUAGES if code != DEFAULT_LANGUAGE]


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_key_exists_in_every_language(language: str) -> None:
    missing = sorted(set(catalogue(DEFAULT_LANGUAGE)) - set(catalogue(language)))
    assert missing == [], f"{language} lacks {missing}"


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_no_stray_keys(language: str) -> None:
    extra = sorted(set(catalogue(language)) - set(catalogue(DEFAULT_LANGUAGE)))
    assert extra == [], f"{language} has keys English does not: {extra}"


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_placeholders_match(language: str) -> None:
    english, other = catalogue(DEFAULT_LANGUAGE), catalogue(language)
    wrong = {
        key: (placeholders(english[key]), placeholders(other[key]))
        for key in english
        if key in other and placeholders(english[key]) != placeholders(other[key])
    }
    assert wrong == {}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_no_empty_texts(language: str) -> None:
    assert [key for key, text in catalogue(language).items() if not text.strip()] == []


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_text_formats_with_its_placeholders(language: str) -> None:
    texts = Texts(language)
    for key, template in catalogue(language).items():
        texts(key, **dict.fromkeys(placeholders(template), "x"))


@pytest.mark.parametrize(
    ("code", "language"),
    [("ru", "ru"), ("ru-RU", "ru"), ("en-GB", "en"), ("pt-br", "en"), ("", "en"), (None, "en"), ("RU", "ru")],
)
def test_pick_language(code: str | None, language: str) -> None:
    assert pick_language(code) == language
