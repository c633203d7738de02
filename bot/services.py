"""The objects handlers and routes work with, built once per app in bot.app."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import CallbackContext, ExtBot

from bot.chat.audio_intake import AudioIntake
from bot.chat.forms import Draft
from bot.ops.broadcast import BroadcastDesk
from bot.ops.metrics import Metrics
from bot.provider.client import ProviderClient
from bot.settings import Settings
from bot.tasks.service import TaskService
from bot.web.signing import Signer
from storage.store import Storage


@dataclass
class Services:
    settings: Settings
    storage: Storage
    provider: ProviderClient
    tasks: TaskService
    signer: Signer
    metrics: Metrics
    telegram_secret: str
    intake: AudioIntake
    broadcasts: BroadcastDesk


class BotData:
    """PTB's bot_data, typed: PTB creates it with no arguments, the app fills `services` at start."""

    def __init__(self) -> None:
        self.services: Services | None = None


class UserData:
    """PTB's per-person user_data, typed: the Draft of the question the person is answering.

    Persistent: bot/telegram/persistence.py stores it as JSON while a question is open, so a restart keeps
    the question; a field added here needs a line in its user_data_to_json and user_data_from_json.
    """

    def __init__(self) -> None:
        self.draft: Draft | None = None


BotContext = CallbackContext[ExtBot[None], UserData, dict, BotData]  # type: ignore[type-arg]


def services_of(context: BotContext) -> Services:
    services = context.bot_data.services
    if services is None:
        raise RuntimeError("the bot is not started yet")
    return services
