"""The Telegram and provider emulators in their own process, so the bot's CPU and memory are measured alone.

Started by `bench.common.EmulatorProcess`; prints one JSON line with its URLs, then serves a small control
API on loopback that the benchmark uses to act as many people and to read what the emulators counted:

- POST /people   {"first_user", "count", "spread", "text"}: people send `text` within `spread` seconds
- GET  /stats    violations of both emulators, API calls, audio per chat checked against the provider
- GET  /events   every chat event (message, edit, audio) with its arrival time (time.monotonic, which
                 is one clock for every process on the machine)
- GET  /tasks    the provider's tasks: id, the person's prompt, the callback URL, creation time
- GET  /payload  ?task=&stage=: the callback body the provider would send for that stage
- POST /outage   {"seconds", "mode"}: Telegram's front proxy answers for a down API ("502" or "reset")
- GET  /calls    the chat calls Telegram accepted (not those an outage refused): time, method, chat
- POST /inline   {"user", "query", "offset"}: the person types `@bot query`; waits for the bot's answer
                 and returns it with the seconds from the update being queued to the answer arriving
- POST /stop
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, served
from emulators.provider import tasks as provider_tasks
from emulators.provider.server import ProviderEmulator
from emulators.telegram.outage import Outage
from emulators.telegram.server import ChatEvent, TelegramEmulator

_USER_IN_PROMPT = re.compile(r"#(\d+)")


class Control:
    def __init__(self, telegram: TelegramEmulator, provider: ProviderEmulator) -> None:
        self.telegram = telegram
        self.provider = provider
        self.events: list[dict[str, Any]] = []
        self.stop = asyncio.Event()
        self._outages: list[Outage] = []
        telegram.subscribe(self._on_event)

    def _on_event(self, event: ChatEvent) -> None:
        if event.kind not in ("bot_message", "bot_edit", "bot_audio"):
            return
        record: dict[str, Any] = {"kind": event.kind, "chat": event.chat_id, "at": event.time}
        if event.kind == "bot_audio" and event.message is not None and event.message.audio:
            record["sha256"] = event.message.audio.get("sha256")
            record["sent_by"] = event.message.audio.get("sent_by")
            record["file_id"] = event.message.audio.get("file_id")
        else:
            record["text"] = event.text
        self.events.append(record)

    async def people(self, request: web.Request) -> web.Response:
        spec = await request.json()
        first, count = int(spec["first_user"]), int(spec["count"])
        spread, text = float(spec.get("spread", 1.0)), str(spec["text"])
        started = time.monotonic()
        for index in range(count):
            due = started + spread * index / max(1, count)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            user = first + index
            await self.telegram.user_sends_text(user, text.format(user=user), first_name=f"P{user}")
        return web.json_response({"first_at": started, "last_at": time.monotonic()})

    def _expected_audio(self) -> dict[int, set[str]]:
        expected: dict[int, set[str]] = {}
        for task in self.provider.tasks.values():
            match = _USER_IN_PROMPT.search(str(task.body.get("prompt", "")))
            if match:
                expected.setdefault(int(match.group(1)), set()).update(t.sha256 for t in task.tracks)
        return expected

    async def stats(self, request: web.Request) -> web.Response:
        tg, pv = self.telegram, self.provider
        by_method: dict[str, int] = {}
        for r in tg.requests:
            by_method[r.method] = by_method.get(r.method, 0) + 1
        expected = self._expected_audio()
        received: dict[int, list[str]] = {}
        last_audio = None
        by_how: dict[str, int] = {}
        for event in self.events:
            if event["kind"] == "bot_audio":
                received.setdefault(event["chat"], []).append(event["sha256"])
                last_audio = event["at"]
                by_how[event["sent_by"]] = by_how.get(event["sent_by"], 0) + 1
        lost = duplicated = foreign = 0
        for chat, shas in expected.items():
            got = received.get(chat, [])
            lost += len(shas - set(got))
            duplicated += len(got) - len(set(got))
            foreign += len(set(got) - shas)
        counted = [r.time for r in tg.requests if r.chat_id is not None and r.method in _COUNTED]
        submits = [r.arrived for r in pv.api_requests() if r.method == "POST"]
        # Chat calls in each second since the first one (all counted ones, then sendAudio alone): where the
        # global budget went unused shows as a second below the limit.
        timeline: dict[str, list[int]] = {"all": [], "sendAudio": []}
        if counted:
            origin = min(counted)
            for r in tg.requests:
                if r.chat_id is None or r.method not in _COUNTED:
                    continue
                second = int(r.time - origin)
                for key in ("all", r.method) if r.method == "sendAudio" else ("all",):
                    line = timeline[key]
                    line.extend([0] * (second + 1 - len(line)))
                    line[second] += 1
        body = {
            "telegram": {
                "violations_per_chat": sum(1 for v in tg.violations if v.kind == "per_chat"),
                "violations_global": sum(1 for v in tg.violations if v.kind == "global"),
                "violation_details": [v.detail for v in tg.violations[:5]],
                "by_method": by_method,
                "chat_calls": len(counted),
                "first_chat_call_at": min(counted) if counted else None,
                "last_chat_call_at": max(counted) if counted else None,
                "max_in_any_second": _max_in_window(sorted(counted), 1.0),
                "timeline": timeline,
                "last_calls": [
                    [round(r.time - min(counted), 2), r.method, r.chat_id]
                    for r in sorted(
                        (r for r in tg.requests if r.chat_id is not None and r.method in _COUNTED),
                        key=lambda r: r.time,
                    )[-16:]
                ],
            },
            "provider": {
                "violations": len(pv.violations),
                "api_requests": len(pv.api_requests()),
                "tasks": len(pv.tasks),
                "first_submit_at": min(submits) if submits else None,
                "last_submit_at": max(submits) if submits else None,
            },
            "audio": {
                "expected": sum(len(s) for s in expected.values()),
                "received": sum(len(v) for v in received.values()),
                "lost": lost,
                "duplicated": duplicated,
                "foreign": foreign,
                "last_at": last_audio,
                "by_how": by_how,  # how the bot sent each audio: "url", "upload" or "file_id"
            },
        }
        return web.json_response(body)

    async def events_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.events)

    async def tasks(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "task_id": t.task_id,
                    "prompt": t.body.get("prompt"),
                    "callback_url": t.body.get("callBackUrl"),
                    "created_at": t.created_at,
                }
                for t in self.provider.tasks.values()
            ]
        )

    async def payload(self, request: web.Request) -> web.Response:
        task = self.provider.tasks[request.query["task"]]
        stage = request.query["stage"]
        if stage == "first":
            for track in task.tracks:
                track.stream_ready = True
            task.tracks[0].audio_ready = True
            tracks = task.tracks[:1]
        elif stage == "complete":
            for track in task.tracks:
                track.stream_ready = track.audio_ready = True
            tracks = task.tracks
        else:
            tracks = []
        items = [t.callback_item(self.provider.url) for t in tracks]
        body = {
            "code": 200,
            "msg": provider_tasks.STAGE_MESSAGES[stage],
            "data": {"callbackType": stage, "task_id": task.task_id, "data": items},
        }
        return web.json_response(body)

    async def outage(self, request: web.Request) -> web.Response:
        spec = await request.json()
        outage = self.telegram.outage(float(spec["seconds"]), mode=spec.get("mode", "502"))
        self._outages.append(outage)
        return web.json_response({"until": outage.until})

    async def outage_view(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"refused": self.telegram.outage_refused, "active": any(o.active for o in self._outages)}
        )

    async def calls(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                [r.time, r.method, r.chat_id]
                for r in self.telegram.requests
                if r.chat_id is not None and r.method in _COUNTED and r.status == 200 and r.fault is None
            ]
        )

    async def inline(self, request: web.Request) -> web.Response:
        body = await request.json()
        started = time.monotonic()
        query_id = await self.telegram.user_types_inline(
            int(body["user"]), str(body.get("query", "")), offset=str(body.get("offset", ""))
        )
        await self.telegram.wait_for(lambda: self.telegram.inline_answer(query_id) is not None, timeout=30)
        seconds = time.monotonic() - started
        answer = self.telegram.inline_answer(query_id)
        assert answer is not None
        return web.json_response(
            {
                "seconds": seconds,
                "ids": answer.result_ids(),
                "next_offset": answer.next_offset,
                "is_personal": answer.is_personal,
                "cache_time": answer.cache_time,
            }
        )

    async def stop_view(self, request: web.Request) -> web.Response:
        self.stop.set()
        return web.json_response({"ok": True})


_COUNTED = frozenset({"sendMessage", "sendAudio", "editMessageText", "sendDocument", "sendVoice"})


def _max_in_window(times: list[float], window: float) -> int:
    best, lo = 0, 0
    for hi, at in enumerate(times):
        while times[lo] <= at - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def main(config: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-emulators-") as scratch:
        telegram = TelegramEmulator(
            EMULATOR_BOT_TOKEN,
            files_dir=Path(scratch) / "telegram",
            global_per_second=int(config.get("global_per_second", 30)),
        )
        provider = ProviderEmulator(
            EMULATOR_API_KEY,
            credits=10**9,
            budget=int(config.get("budget", 20)),
            budget_window=float(config.get("budget_window", 10.0)),
            stage_delays=tuple(config.get("stage_delays", (0.2, 0.4, 0.6))),  # type: ignore[arg-type]
            track_seconds=float(config.get("track_seconds", 2.0)),
            track_bytes=config.get("track_bytes"),
        )
        telegram.inline_mode = bool(config.get("inline_mode", False))
        await telegram.start()
        await provider.start()
        control = Control(telegram, provider)
        app = web.Application()
        app.router.add_post("/people", control.people)
        app.router.add_get("/stats", control.stats)
        app.router.add_get("/events", control.events_view)
        app.router.add_get("/tasks", control.tasks)
        app.router.add_get("/payload", control.payload)
        app.router.add_post("/outage", control.outage)
        app.router.add_get("/outage", control.outage_view)
        app.router.add_get("/calls", control.calls)
        app.router.add_post("/inline", control.inline)
        app.router.add_post("/stop", control.stop_view)
        try:
            async with served(app) as control_url:
                print(
                    json.dumps({"telegram": telegram.url, "provider": provider.url, "control": control_url}),
                    flush=True,
                )
                await control.stop.wait()
        finally:
            await provider.close()
            await telegram.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("config", help="JSON settings for the emulators")
    args = parser.parse_args()
    try:
        asyncio.run(main(json.loads(args.config)))
    except KeyboardInterrupt:
        sys.exit(0)
