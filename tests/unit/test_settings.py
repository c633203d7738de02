"""Settings: every missing or malformed variable stops start-up with one line naming it (design §3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, Settings, load_settings
from tests.design_contract import DESIGN_VARIABLES

_VARIABLES = DESIGN_VARIABLES
TOKEN = "123456789:ABCdef_ghi-JKL"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real environment and no real .env: the tests run in an empty folder with the variables unset."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def load(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def config_error(**values: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load(**values)
    text = str(caught.value)
    assert "\n" not in text, f"the message must be one line: {text!r}"
    assert "Traceback" not in text
    return text


def test_missing_bot_token_names_the_variable() -> None:
    text = config_error(SUNO_API_KEY="key")
    assert text.startswith("TELEGRAM_BOT_TOKEN")
    assert "not set" in text


def test_missing_api_key_names_the_variable() -> None:
    text = config_error(TELEGRAM_BOT_TOKEN=TOKEN)
    assert text.startswith("SUNO_API_KEY")


def test_empty_api_key_is_refused() -> None:
    assert config_error(TELEGRAM_BOT_TOKEN=TOKEN, SUNO_API_KEY="").startswith("SUNO_API_KEY")


def test_nothing_set_names_a_required_variable() -> None:
    text = config_error()
    assert text.split()[0] in ("TELEGRAM_BOT_TOKEN", "SUNO_API_KEY")


@pytest.mark.parametrize("token", ["not-a-token", "abc:def", "123456", "123:has space"])
def test_malformed_bot_token(token: str) -> None:
    assert config_error(TELEGRAM_BOT_TOKEN=token, SUNO_API_KEY="key").startswith("TELEGRAM_BOT_TOKEN")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("SUNO_MODEL", "V4.5"),
        ("SUNO_MODEL", "chirp-v3-5"),
        ("SUNO_MODEL", "v4_5"),
        ("ALLOWED_USER_IDS", "1,x"),
        ("ADMIN_USER_IDS", "1;two"),
        ("PUBLIC_URL", "bot.example.com"),
        ("PUBLIC_URL", "ftp://bot.example.com"),
        ("PUBLIC_URL", "https://bot example.com"),
        ("SUNO_API_URL", "api.sunoapi.org"),
        ("TELEGRAM_API_URL", "file:///etc/passwd"),
        ("SUNO_POLL_INTERVAL", "0"),
        ("SUNO_POLL_INTERVAL", "soon"),
        ("WEBHOOK_SECRET", "short"),
        ("WEBHOOK_SECRET", "has spaces in it but long enough"),
        ("LOG_LEVEL", "LOUD"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_malformed_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SUNO_API_KEY", "key")
    monkeypatch.setenv(variable, value)
    text = config_error()
    assert text.startswith(f"{variable} "), text
    assert "invalid" in text


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SUNO_API_KEY", "key")
    settings = load()
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.suno_api_url == "https://api.sunoapi.org"
    assert settings.suno_upload_url == "https://sunoapiorg.redpandaai.co"
    assert settings.suno_model == "V4_5"
    assert settings.suno_poll_interval == 30
    assert settings.public_url is None and settings.webhook_mode is False
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.data_dir == Path("data")
    assert settings.webhook_secret is None
    assert settings.allowed_user_ids == [] and settings.admin_user_ids == []
    assert settings.log_level == "INFO" and settings.log_format == "text"


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f"  {TOKEN} ")
    monkeypatch.setenv("SUNO_API_KEY", "key")
    monkeypatch.setenv("ALLOWED_USER_IDS", "1, 2,3")
    monkeypatch.setenv("ADMIN_USER_IDS", "42")
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com")
    monkeypatch.setenv("PORT", "8443")
    monkeypatch.setenv("SUNO_MODEL", "V5")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    settings = load()
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)  # secrets never show when settings are printed
    assert settings.allowed_user_ids == [1, 2, 3]
    assert settings.admin_user_ids == [42]
    assert settings.public_url == "https://bot.example.com"
    assert settings.webhook_mode is True
    assert settings.port == 8443
    assert settings.suno_model == "V5"
    assert settings.telegram_api_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("http://bot.example.com", "must start with https://"),
        ("https://bot.example.com/", "remove the trailing slash: PUBLIC_URL=https://bot.example.com"),
        ("https://bot.example.com/telegram-bot", "no path: PUBLIC_URL=https://bot.example.com"),
        ("https://bot.example.com:8443?x=1", "no path: PUBLIC_URL=https://bot.example.com:8443"),
    ],
)
def test_a_public_url_telegram_cannot_use_says_what_to_write(value: str, words: str) -> None:
    text = config_error(TELEGRAM_BOT_TOKEN=TOKEN, SUNO_API_KEY="key", PUBLIC_URL=value)
    assert text.startswith("PUBLIC_URL is invalid") and words in text, text


@pytest.mark.parametrize("value", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"])
def test_http_public_url_is_allowed_on_loopback_only(value: str) -> None:
    # The emulators and the tests serve the bot over plain http on this machine.
    assert load(TELEGRAM_BOT_TOKEN=TOKEN, SUNO_API_KEY="key", PUBLIC_URL=value).public_url == value


@pytest.mark.parametrize("variable", ["TELEGRAM_BOT_TOKEN", "SUNO_API_KEY"])
def test_an_env_copied_unfilled_calls_the_variable_empty(variable: str, tmp_path: Path) -> None:
    env_file = tmp_path / "unfilled.env"
    filled = {"TELEGRAM_BOT_TOKEN": TOKEN, "SUNO_API_KEY": "key"}
    env_file.write_text(
        "".join(f"{name}={'' if name == variable else value}\n" for name, value in filled.items()),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=env_file)
    assert str(caught.value).startswith(f"{variable} is empty: copy ")


def test_an_empty_variable_with_a_default_says_how_to_get_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "")
    text = config_error(TELEGRAM_BOT_TOKEN=TOKEN, SUNO_API_KEY="key")
    assert text == "PORT is empty: give it a value, or delete the line to use the default (8080)"


def test_empty_public_url_means_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(TELEGRAM_BOT_TOKEN=TOKEN, SUNO_API_KEY="key", PUBLIC_URL="")
    assert settings.public_url is None and not settings.webhook_mode


def test_dotenv_is_read_when_asked(tmp_path: Path) -> None:
    env_file = tmp_path / "test.env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nSUNO_API_KEY=from-file\nPORT=9000\n", encoding="utf-8")
    settings = load_settings(_env_file=env_file)
    assert settings.suno_api_key.get_secret_value() == "from-file" and settings.port == 9000


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "test.env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nSUNO_API_KEY=from-file\n", encoding="utf-8")
    monkeypatch.setenv("SUNO_API_KEY", "from-env")
    assert load_settings(_env_file=env_file).suno_api_key.get_secret_value() == "from-env"


def test_delivery_by_url_takes_https_only_unless_told_otherwise() -> None:
    base = {"TELEGRAM_BOT_TOKEN": TOKEN, "SUNO_API_KEY": "key"}
    assert load(**base).delivery_url_schemes == ("https",)  # Telegram fetches from the public internet
    assert load(**base, DELIVERY_URL_SCHEMES="HTTPS, http").delivery_url_schemes == ("https", "http")
    assert load(**base, DELIVERY_URL_SCHEMES="").delivery_url_schemes == ()  # never by URL
    assert config_error(**base, DELIVERY_URL_SCHEMES="https,ftp").startswith("DELIVERY_URL_SCHEMES")
