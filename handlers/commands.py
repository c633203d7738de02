"""The one command table: every command, who may use it, and whether Telegram's menu shows it.

The command menus (bot/telegram/application.py) and the handler registrations (handlers/__init__.py,
handlers/admin.py, handlers/forms.py) are both made from it; tests/unit/test_command_table.py checks that
every command here has a handler and every handler's command is here. A menu entry's description is the
catalogue's `commands.<name>` text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    admin: bool = False  # only admins may use it; others get a polite "admins only"
    menu: bool = True  # listed in the command menu (for admins, in their own menu)


COMMANDS = (
    Command("start"),
    Command("generate"),
    Command("custom"),
    Command("status"),
    Command("library"),
    Command("sound"),  # the studio (handlers/studio.py)
    Command("lyrics"),
    Command("mashup"),  # handlers/mashup.py
    Command("language"),
    Command("help"),
    Command("cancel"),
    Command("forget"),
    # Payments: always registered; with no STARS_PACKS they answer that payments are off.
    Command("buy"),
    Command("balance"),
    Command("paysupport"),
    Command("terms"),
    Command("credits", admin=True),
    Command("stats", admin=True),
    Command("broadcast", admin=True),
    Command("allow", admin=True, menu=False),
    Command("block", admin=True, menu=False),
    Command("refund", admin=True, menu=False),
)

PUBLIC_MENU = tuple(c.name for c in COMMANDS if c.menu and not c.admin)
ADMIN_MENU = PUBLIC_MENU + tuple(c.name for c in COMMANDS if c.menu and c.admin)
ADMIN_COMMANDS = tuple(c.name for c in COMMANDS if c.admin)
