"""`python -m bot demo`: the whole bot against the built-in emulators, offline, with the chat printed live."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.ops.logging_setup import setup_logging
from emulators.audio_fixtures import make_mp3, make_ogg_opus
from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, emulator_settings, running_bot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import ChatEvent, TelegramEmulator
from storage.ledger import EntryKind, LedgerRepository

ALICE = 424242
# Payments on for the demo: one pack, bought first, pays for all six songs and the five studio tasks
# (lyrics with timings, stems, a video, a persona and /lyrics; the twelfth credit is left).
DEMO_PACK = "12:60"
# Long enough for a persona's 10-30 s vocal window (bot/studio/persona.py).
TRACK_SECONDS = 12.0
# Stages more than a second apart, so every progress edit can reach the chat at Telegram's pace.
STAGE_DELAYS = (1.2, 2.4, 3.6)


class ChatPrinter:
    """Prints the emulated chat as it happens and saves every received audio file."""

    def __init__(self, output: Path, write: Callable[[str], None]) -> None:
        self.output = output
        self.write = write
        self.saved: list[Path] = []
        self.started = time.monotonic()

    def __call__(self, event: ChatEvent) -> None:
        stamp = f"[{time.monotonic() - self.started:5.1f}s]"
        message = event.message
        if event.kind == "user_message" and message is not None and "successful_payment" in message.raw:
            paid = message.raw["successful_payment"]
            self._say(stamp, "👤 Alice", f"pays {paid['total_amount']} ⭐ (Telegram confirms the payment)")
        elif event.kind == "user_message" and message is not None:
            what = event.text or f"<{message.kind}: {(message.media or {}).get('file_name') or message.kind}>"
            self._say(stamp, "👤 Alice", what)
        elif event.kind == "user_callback":
            label = self._button_label(event)
            self._say(stamp, "👤 Alice", f"presses [{label}]")
        elif event.kind == "bot_message" and message is not None and "invoice" in message.raw:
            invoice = message.raw["invoice"]
            self._say(stamp, "🤖 Bot", f"🧾 invoice: {invoice['title']}, {invoice['total_amount']} ⭐")
        elif event.kind == "bot_message" and message is not None:
            self._say(stamp, "🤖 Bot", (event.text or "") + _buttons(message.reply_markup))
        elif event.kind == "bot_edit" and message is not None:
            self._say(stamp, f"🤖 Bot ✎ edits message #{message.message_id}", event.text or "")
        elif event.kind == "bot_audio" and message is not None and message.audio:
            self._save(stamp, message.audio)
        elif event.kind == "bot_audio" and message is not None and message.media is not None:
            icon = {"video": "🎬", "photo": "🖼"}.get(message.kind, "📎")
            name = message.media.get("file_name") or message.kind
            caption = f" “{event.text}”" if event.text else ""
            self._say(stamp, "🤖 Bot", f"{icon} sends {message.kind}: {name}{caption}")

    def _button_label(self, event: ChatEvent) -> str:
        markup = (event.message.reply_markup if event.message else None) or {}
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                if button.get("callback_data") == event.text:
                    return str(button["text"])
        return event.text or "?"

    def _say(self, stamp: str, who: str, text: str) -> None:
        lines = text.splitlines() or [""]
        self.write(f"{stamp} {who}: {lines[0]}")
        for line in lines[1:]:
            self.write(f"{' ' * len(stamp)}   {line}")

    def _save(self, stamp: str, audio: dict[str, object]) -> None:
        source = audio.get("path")
        title = str(audio.get("title") or "track")
        name = f"{len(self.saved) + 1:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', title).strip('-') or 'track'}.mp3"
        target = self.output / name
        if isinstance(source, str | Path) and Path(source).is_file():
            shutil.copyfile(source, target)
            self.saved.append(target)
        size = target.stat().st_size if target.exists() else 0
        by = f" by {audio['performer']}" if audio.get("performer") else ""
        self.write(
            f"{stamp} 🎵 Bot sends audio: “{title}”{by}, {audio.get('duration')} s, "
            f"{size / 1024:.0f} kB → saved to {target}"
        )


def _buttons(markup: dict[str, object] | None) -> str:
    rows = (markup or {}).get("inline_keyboard") or []
    labels = [f"[{b['text']}]" for row in rows for b in row]  # type: ignore[union-attr,index]
    return ("\n" + " ".join(labels)) if labels else ""


Step = Callable[[ScriptedPerson], Awaitable[None]]


async def _buy(alice: ScriptedPerson) -> None:
    """A pack through the whole payment: invoice, pre-checkout answered by the bot, successful_payment."""
    await alice.say("/buy")
    await alice.wait_for_text("Choose a pack")
    await alice.press("12 credits")
    telegram = alice.telegram
    await telegram.wait_for(lambda: bool(telegram.invoices_in(alice.user_id)), timeout=alice.timeout)
    invoice = telegram.invoices_in(alice.user_id)[-1]
    paid = await telegram.user_pays(alice.user_id, invoice.message_id)
    if not paid.paid:
        raise AssertionError(f"the payment did not go through: {paid.error_message}")
    await alice.wait_for_text("credits added")


async def _generate(alice: ScriptedPerson) -> None:
    await alice.say("/start")
    await alice.wait_for_text("I make music")
    await alice.say("/generate a calm lo-fi song about rain on a tin roof")
    await alice.wait_for_audios(2)


async def _cover(alice: ScriptedPerson) -> None:
    await alice.send_audio(make_mp3(14.0, frequency=294), file_name="Rainy Demo.mp3", title="Rainy Demo")
    await alice.answer("What should I do with it?", button="Cover")
    await alice.answer("Which style?", text="bossa nova, nylon guitar, soft female vocals")
    await alice.answer("What is the title?", button="Use")
    await alice.answer("Send the lyrics", button="Instrumental")
    await alice.wait_for_audios(4)


async def _extend_delivered(alice: ScriptedPerson) -> None:
    await alice.press("Extend")
    await alice.answer("From which second", button="From the end")
    await alice.answer("Which style?", button="Same style")
    await alice.answer("Send the lyrics", text="[Outro]\nThe rain stops, the night is still")
    await alice.wait_for_audios(6)


async def _add_vocals(alice: ScriptedPerson) -> None:
    await alice.send_audio(make_ogg_opus(12.0, frequency=220), kind="voice", mime_type="audio/ogg")
    await alice.answer("What should I do with it?", button="Add vocals")
    await alice.answer("Send the lyrics to sing", text="[Verse]\nHumming along with the radio")
    await alice.answer("Which style?", text="indie folk")
    await alice.answer("What is the title?", text="Radio Hum")
    await alice.answer("Any styles to avoid?", button="Just avoid")
    await alice.answer("Which model?", button="V4_5PLUS")
    await alice.wait_for_audios(10)


async def _add_instrumental(alice: ScriptedPerson) -> None:
    await alice.send_audio(make_mp3(12.0, frequency=392), file_name="acapella.mp3")
    await alice.answer("What should I do with it?", button="Add instrumental")
    await alice.answer("Which style?", text="warm piano ballad")
    await alice.answer("What is the title?", button="Use")
    await alice.answer("Any styles to avoid?", button="Just avoid")
    await alice.answer("Which model?", button="V5")
    await alice.wait_for_audios(8)


async def _studio_tools(alice: ScriptedPerson) -> None:
    """More… under the newest track (the sung one): its stems and video side by side, its timed lyrics."""
    telegram = alice.telegram
    audios = len(telegram.audios(alice.user_id))
    await alice.press("More…")
    await telegram.wait_for(
        lambda: any(label == "Lyrics" for _, label, _ in alice.buttons()), timeout=alice.timeout
    )
    await alice.press("Separate vocals")
    await alice.press("Music video")  # two at once: the person's limit of tasks in the making
    await alice.wait_for_audios(audios + 2)
    await telegram.wait_for(lambda: _has(alice, "video"), timeout=alice.timeout)
    await alice.press("Lyrics")
    await telegram.wait_for(lambda: _has(alice, "document"), timeout=alice.timeout)


def _has(alice: ScriptedPerson, kind: str) -> bool:
    return any(m.kind == kind for m in alice.telegram.bot_messages(alice.user_id))


async def _persona(alice: ScriptedPerson) -> None:
    await alice.press("Make a persona")
    await alice.answer("What should this voice be called?", text="Velvet")
    await alice.answer("Describe the voice", text="warm breathy alto, jazzy phrasing")
    await alice.answer("Which 10 to 30 seconds", button="Seconds")
    await alice.wait_for_text("is saved")


async def _lyrics_song(alice: ScriptedPerson) -> None:
    audios = len(alice.telegram.audios(alice.user_id))
    await alice.say("/lyrics a peaceful night in the city")
    await alice.wait_for_text("[Verse]")
    await alice.press("Use these")
    await alice.answer("What is the title?", button="Use")
    await alice.answer("Which style?", text="smooth jazz, brushed drums")
    await alice.answer("In whose voice?", button="In the voice of Velvet")
    await alice.wait_for_audios(audios + 2)


async def _status(alice: ScriptedPerson) -> None:
    await alice.say("/status")
    await alice.wait_for_text("Your recent songs")


STEPS: list[tuple[str, Step]] = [
    ("Buy credits with Telegram Stars", _buy),
    ("Generate a song from a description", _generate),
    ("Cover an uploaded file", _cover),
    ("Extend a delivered track", _extend_delivered),
    ("Add an instrumental to an a cappella", _add_instrumental),
    ("Add vocals to a voice note", _add_vocals),
    ("The studio: lyrics, stems and a video of a track", _studio_tools),
    ("Make a persona from the track", _persona),
    ("Write lyrics with /lyrics, sing them in the persona's voice", _lyrics_song),
    ("Check /status", _status),
]


async def _credits_summary(ledger: LedgerRepository) -> str:
    entries = await ledger.entries(ALICE)
    bought = [e for e in entries if e.kind is EntryKind.PURCHASE]
    spent = sum(1 for e in entries if e.kind is EntryKind.SETTLE)
    stars = sum(e.stars or 0 for e in bought)
    return (
        f"bought {sum(e.amount for e in bought)} credits for {stars} ⭐ and spent {spent} on songs and tools "
        f"({await ledger.balance(ALICE)} left)"
    )


async def run_demo(output: Path, *, verbose: bool = False, write: Callable[[str], None] = print) -> int:
    """Run every step; `output` must exist. Returns the process exit code."""
    setup_logging("INFO" if verbose else "WARNING", "text")
    if not verbose:
        # The emulators log each scripted fault and retry; the printed chat is the demo's output.
        logging.getLogger("emulators").setLevel(logging.ERROR)
    printer = ChatPrinter(output, write)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="music-bot-demo-") as scratch:
        scratch_dir = Path(scratch)
        async with (
            TelegramEmulator(EMULATOR_BOT_TOKEN, files_dir=scratch_dir / "telegram") as telegram,
            ProviderEmulator(
                EMULATOR_API_KEY, stage_delays=STAGE_DELAYS, track_seconds=TRACK_SECONDS
            ) as provider,
        ):
            settings = emulator_settings(
                scratch_dir / "bot",
                telegram_url=telegram.url,
                provider_url=provider.url,
                STARS_PACKS=DEMO_PACK,
            )
            telegram.subscribe(printer)
            write(
                f"Demo: the bot at {settings.public_url}, Telegram emulator at {telegram.url}, "
                f"provider emulator at {provider.url}; nothing leaves this machine.\n"
            )
            async with running_bot(settings) as bot:
                alice = ScriptedPerson(telegram, ALICE, first_name="Alice", timeout=60)
                for title, step in STEPS:
                    write(f"\n=== {title} ===")
                    try:
                        await step(alice)
                    except (TimeoutError, AssertionError) as error:
                        failures += 1
                        write(f"!!! step failed: {error}")
                await bot.services.tasks.idle()
                credits = await _credits_summary(bot.services.storage.ledger)
            violations = len(telegram.violations) + len(provider.violations)
    write(
        f"\nDone: {len(printer.saved)} tracks received and saved in {output}; {credits}; "
        f"{failures} failed steps; {violations} rate-limit violations."
    )
    return 0 if failures == 0 and printer.saved else 1
