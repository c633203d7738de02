"""Typed keys for what the aiohttp application holds (aiohttp's "no singletons" advice)."""

from __future__ import annotations

from aiohttp import web
from telegram.ext import Application

from bot.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
TELEGRAM: web.AppKey[Application] = web.AppKey("telegram", Application)  # type: ignore[type-arg]
