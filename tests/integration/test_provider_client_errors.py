"""The provider client against the provider emulator, and against what may stand in front of it.

What each failure proves is decided in one place (bot/provider/errors.py); these check that the client
reports each one with the code that says so, and that nothing that may create a task is sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import aiohttp
import pytest
from aiohttp import web

from bot.provider.budget import SlidingWindowBudget
from bot.provider.client import ProviderClient
from bot.provider.errors import CODE_UNREADABLE, Outcome, ProviderError, ProviderUnavailable, wording
from bot.provider.models import GenerateRequest
from bot.settings import Settings
from emulators.harness import EMULATOR_API_KEY, RunningBot, free_port, served
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage

REQUEST = GenerateRequest(custom_mode=False, model="V4_5", prompt="a calm lo-fi song about rain")
CALLBACK = "https://bot.example.com/callbacks/1.x"
MakeClient = Callable[[str], ProviderClient]


@pytest.fixture
async def client() -> AsyncIterator[MakeClient]:
    async with aiohttp.ClientSession() as session:

        def make(url: str) -> ProviderClient:
            return ProviderClient(
                session,
                base_url=url,
                upload_url=url,
                api_key=EMULATOR_API_KEY,
                budget=SlidingWindowBudget(20, 10.0),
                backoff=0.01,
                timeout=5.0,
            )

        yield make


@pytest.mark.parametrize("fault", ["lost 500", "envelope 500", "reset"])
async def test_a_task_creating_post_is_sent_once_whatever_the_answer(
    client: MakeClient, provider: ProviderEmulator, fault: str
) -> None:
    if fault == "lost 500":
        provider.lose_next_answer("500")  # the task is made, then HTTP 500 comes back
    elif fault == "reset":
        provider.lose_next_answer("reset")
    else:
        provider.fail_next_request("generate", 500, "Server error")
    with pytest.raises(ProviderError) as caught:
        await client(provider.url).submit(REQUEST, callback_url=CALLBACK)
    assert caught.value.outcome is Outcome.UNKNOWN  # the submitter's "unknown outcome" rule applies
    assert len(provider.api_requests("generate")) == 1  # never retried: each try may be a charged task


async def test_reads_are_retried_on_a_server_error(client: MakeClient, provider: ProviderEmulator) -> None:
    task_id = await client(provider.url).submit(REQUEST, callback_url=CALLBACK)
    provider.fail_next_request("record-info", 500, "Server error")
    snapshot = await client(provider.url).record_info(task_id)
    assert snapshot.task_id == task_id
    assert [r.code for r in provider.api_requests("record-info")] == [500, 200]


async def test_busy_and_maintenance_prove_nothing_was_made(
    client: MakeClient, provider: ProviderEmulator
) -> None:
    for code in (405, 430, 455):
        provider.fail_next_request("generate", code, "Busy")
        with pytest.raises(ProviderError) as caught:
            await client(provider.url).submit(REQUEST, callback_url=CALLBACK)
        assert caught.value.outcome is Outcome.NOT_MADE and caught.value.code == code
    assert provider.tasks == {}


@pytest.mark.parametrize("code", [400, 401, 413, 429])
async def test_definite_refusals(client: MakeClient, provider: ProviderEmulator, code: int) -> None:
    provider.fail_next_request("generate", code, "No")
    with pytest.raises(ProviderError) as caught:
        await client(provider.url).submit(REQUEST, callback_url=CALLBACK)
    assert caught.value.outcome is Outcome.REFUSED and caught.value.code == code


async def test_an_error_envelope_with_message_instead_of_msg(
    client: MakeClient, provider: ProviderEmulator
) -> None:
    provider.vary(message_key="message")
    provider.fail_next_request("generate", 413, "Theme or prompt too long")
    with pytest.raises(ProviderError) as caught:
        await client(provider.url).submit(REQUEST, callback_url=CALLBACK)
    assert caught.value.message == "Theme or prompt too long"


async def test_connection_refused_proves_nothing_was_made(client: MakeClient) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await client(f"http://127.0.0.1:{free_port()}").submit(REQUEST, callback_url=CALLBACK)
    assert caught.value.outcome is Outcome.NOT_MADE
    assert wording(caught.value.code) == "error.unreachable"


def proxy(status: int) -> web.Application:
    """What a proxy or CDN in front of the provider answers: an HTML page, no envelope."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=status, text=f"<html><h1>{status}</h1></html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    return app


@pytest.mark.parametrize(
    ("status", "code", "expected", "words"),
    [
        (502, CODE_UNREADABLE, Outcome.UNKNOWN, "error.unreachable"),
        (504, CODE_UNREADABLE, Outcome.UNKNOWN, "error.unreachable"),
        (200, CODE_UNREADABLE, Outcome.UNKNOWN, "error.unreachable"),
        # A proxy's own rate limit: not the provider's "insufficient credits", which alerts the admins.
        (429, 430, Outcome.NOT_MADE, "error.busy"),
    ],
)
async def test_an_answer_that_is_no_envelope(
    client: MakeClient, status: int, code: int, expected: Outcome, words: str
) -> None:
    async with served(proxy(status)) as url:
        with pytest.raises(ProviderError) as caught:
            await client(url).submit(REQUEST, callback_url=CALLBACK)
    error = caught.value
    assert (error.code, error.outcome, wording(error.code)) == (code, expected, words)
    assert not error.out_of_credits


def throttling_proxy(upstream: str, session: aiohttp.ClientSession, *, throttled: int) -> web.Application:
    """A proxy in front of the provider that answers its own HTML 429 to the first `throttled` POSTs."""
    left = {"throttled": throttled}

    async def forward(request: web.Request) -> web.Response:
        if request.method == "POST" and left["throttled"] > 0:
            left["throttled"] -= 1
            return web.Response(status=429, text="<html>Too Many Requests</html>", content_type="text/html")
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with session.request(
            request.method, upstream + request.rel_url.path_qs, headers=headers, data=await request.read()
        ) as answer:
            return web.Response(
                status=answer.status, body=await answer.read(), content_type="application/json"
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def test_a_proxys_429_is_retried_not_taken_for_out_of_credits(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    http: aiohttp.ClientSession,
) -> None:
    async with (
        served(throttling_proxy(provider.url, http, throttled=1)) as url,
        start_bot(make_settings(SUNO_API_URL=url, ADMIN_USER_IDS="9001")) as bot,
    ):
        await telegram.user_sends_text(1001, "/generate a calm lo-fi song about rain")
        await telegram.wait_for(lambda: len(telegram.audios(1001)) == 2, timeout=20)
        await bot.services.tasks.idle()
        task = await bot.services.storage.tasks.require(1)
        assert task.stage is Stage.COMPLETE and task.error_code is None
    assert len(provider.api_requests("generate")) == 1  # the throttled try never reached it
    assert telegram.bot_messages(9001) == []  # no "out of credits" alert
