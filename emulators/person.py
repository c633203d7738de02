"""A scripted person in the emulated chat: what the demo and the tests do as the bot's user."""

from __future__ import annotations

from typing import Any

from emulators.telegram.server import TelegramEmulator


class ScriptedPerson:
    def __init__(
        self,
        telegram: TelegramEmulator,
        user_id: int,
        *,
        first_name: str = "Alice",
        language_code: str = "en",
        timeout: float = 30.0,
    ) -> None:
        self.telegram = telegram
        self.user_id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.timeout = timeout
        # Bot messages before this index came before the person's latest action: a question asked again
        # in a later flow must be waited for anew, not found in the history.
        self._mark = 0

    def _acted(self) -> None:
        self._mark = len(self.telegram.bot_messages(self.user_id))

    async def say(self, text: str) -> None:
        self._acted()
        await self.telegram.user_sends_text(
            self.user_id, text, first_name=self.first_name, language_code=self.language_code
        )

    async def send_audio(self, data: bytes, **kwargs: Any) -> None:
        self._acted()
        await self.telegram.user_sends_audio(self.user_id, data, language_code=self.language_code, **kwargs)

    def buttons(self) -> list[tuple[int, str, str]]:
        """(message id, label, callback data) of every button the bot shows, newest message first."""
        found = []
        for message in reversed(self.telegram.bot_messages(self.user_id)):
            for row in (message.reply_markup or {}).get("inline_keyboard") or []:
                found += [(message.message_id, b["text"], b.get("callback_data", "")) for b in row]
        return found

    async def press(self, label: str) -> None:
        """Press the newest button whose label starts with `label`."""
        for message_id, text, data in self.buttons():
            if text.startswith(label):
                self._acted()
                await self.telegram.user_presses_button(self.user_id, message_id, data)
                return
        raise AssertionError(f"no button {label!r}; the bot shows {[b[1] for b in self.buttons()]}")

    def bot_said(self, fragment: str, *, since_last_action: bool = True) -> bool:
        messages = self.telegram.bot_messages(self.user_id)
        if since_last_action:
            messages = messages[self._mark :]
        return any(fragment in (m.text or "") for m in messages)

    async def wait_for_text(self, fragment: str) -> None:
        await self.telegram.wait_for(lambda: self.bot_said(fragment), timeout=self.timeout)

    async def wait_for_audios(self, count: int) -> None:
        await self.telegram.wait_for(
            lambda: len(self.telegram.audios(self.user_id)) >= count, timeout=self.timeout
        )

    async def answer(self, question: str, *, text: str | None = None, button: str | None = None) -> None:
        """Wait for a question, then answer it by typing or by pressing a button."""
        await self.wait_for_text(question)
        if button is not None:
            await self.press(button)
        else:
            assert text is not None
            await self.say(text)
