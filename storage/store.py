"""The storage facade the rest of the bot receives: one database, one repository per table group."""

from __future__ import annotations

from pathlib import Path

from storage.broadcasts import BroadcastRepository
from storage.chats import ChatRepository
from storage.conversations import ConversationRepository
from storage.db import Database, open_database
from storage.events import EventRepository
from storage.kv import KeyValueRepository
from storage.ledger import LedgerRepository
from storage.library import LibraryRepository
from storage.limits import LimitRepository
from storage.people import PeopleRepository
from storage.privacy import PrivacyRepository
from storage.recovery import RecoveryRepository
from storage.results import ResultRepository
from storage.shares import ShareRepository
from storage.tasks import TaskRepository
from storage.uploads import UploadRepository
from storage.work import WorkRepository


class Storage:
    def __init__(self, path: Path, *, url: str | None = None) -> None:
        """SQLite at `path`, or PostgreSQL when `url` (DATABASE_URL) is given."""
        self.db: Database = open_database(path=path, url=url)
        self.people = PeopleRepository(self.db)
        self.tasks = TaskRepository(self.db)
        self.events = EventRepository(self.db)
        self.uploads = UploadRepository(self.db)
        self.kv = KeyValueRepository(self.db)
        self.work = WorkRepository(self.db)
        self.conversations = ConversationRepository(self.db)
        self.broadcasts = BroadcastRepository(self.db)
        self.chats = ChatRepository(self.db)
        self.privacy = PrivacyRepository(self.db)
        self.library = LibraryRepository(self.db)
        self.shares = ShareRepository(self.db)
        self.ledger = LedgerRepository(self.db)
        self.results = ResultRepository(self.db)  # the studio's files and personas
        self.limits = LimitRepository(self.db)  # replicas' shared limits (PostgreSQL only)
        self.recovery = RecoveryRepository(self.db)  # lost audio asked for again

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        await self.db.open()
        await self.db.migrate()

    async def close(self) -> None:
        await self.db.close()
