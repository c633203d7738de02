"""STARS_PACKS, FREE_CREDITS and CREDITS_PER_TASK (design §3): payments off unless packs are configured."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, Settings, StarsPack, load_settings

REQUIRED = {"TELEGRAM_BOT_TOKEN": "123456789:ABCdef_ghi-JKL", "SUNO_API_KEY": "key"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STARS_PACKS", "FREE_CREDITS", "CREDITS_PER_TASK"):
        monkeypatch.delenv(name, raising=False)


def load(**values: object) -> Settings:
    return load_settings(_env_file=None, **REQUIRED, **values)


def test_payments_are_off_by_default() -> None:
    settings = load()
    assert settings.stars_packs == ()
    assert not settings.payments_on
    assert (settings.free_credits, settings.credits_per_task) == (0, 1)


def test_packs_are_credits_colon_stars() -> None:
    settings = load(STARS_PACKS=" 10:50, 50:200 ", FREE_CREDITS="2", CREDITS_PER_TASK="3")
    assert settings.stars_packs == (StarsPack(10, 50), StarsPack(50, 200))
    assert settings.payments_on
    assert (settings.free_credits, settings.credits_per_task) == (2, 3)


@pytest.mark.parametrize("value", ["10", "10:", "ten:50", "0:50", "10:0", "10:50,10:60", "10:-5"])
def test_a_malformed_pack_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^STARS_PACKS is invalid"):
        load(STARS_PACKS=value)


def test_the_providers_price_per_song_is_optional_and_a_malformed_one_names_the_variable() -> None:
    assert load().provider_stars_per_song is None
    assert load(PROVIDER_STARS_PER_SONG="").provider_stars_per_song is None
    assert load(PROVIDER_STARS_PER_SONG="4.5").provider_stars_per_song == 4.5
    for value in ("five", "0", "-1"):
        with pytest.raises(ConfigError, match=r"^PROVIDER_STARS_PER_SONG is invalid: [^\n]+$"):
            load(PROVIDER_STARS_PER_SONG=value)
