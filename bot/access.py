"""Who may use the bot: the operator's variables, then per-person decisions stored by admins."""

from __future__ import annotations

from bot.settings import Settings
from storage.models import Person


def may_use(person: Person, settings: Settings) -> bool:
    if person.user_id in settings.admin_user_ids:
        return True
    if person.access == "blocked":
        return False
    if person.access == "allowed":
        return True
    return not settings.allowed_user_ids or person.user_id in settings.allowed_user_ids
