"""Absurd tokens on the signed routes: 403 (404 for a gone file, as design §5 says), never a 500."""

from __future__ import annotations

import time

import aiohttp

from emulators.harness import RunningBot

MAC = "A" * 32


def file_tokens(valid_mac: str) -> list[str]:
    return [
        f"1.{'9' * 5000}.{valid_mac}",  # 5,000 digits: int() refuses them (a 500 with a traceback, once)
        f"1.{'9' * 4000}.{MAC}",
        f"{'9' * 5000}.100.{MAC}",
        f"1.{int(time.time()) + 60}.{MAC * 100}",
        f"1.-5.{MAC}",
        f"1.1e9.{MAC}",
        f"1.0x10.{MAC}",
        f"1.{'١' * 10}.{MAC}",
        f"1.²³.{MAC}",
        "1..",
        "." * 2000,
        "%00",
        "%FF%FE",
        "1.2.3.4.5",
        "😀" * 500,
    ]


def callback_tokens(valid_mac: str) -> list[str]:
    return [
        f"{'9' * 5000}.{valid_mac}",
        f"1.{valid_mac * 100}",
        f"01.{valid_mac}",
        f"1.{valid_mac}.{valid_mac}",
        f"-1.{MAC}",
        f"1e3.{MAC}",
        "." * 2000,
        "%00",
        "%FF%FE",
        "😀" * 500,
    ]


async def test_absurd_file_tokens_are_403_never_500(bot: RunningBot, http: aiohttp.ClientSession) -> None:
    valid_mac = bot.services.signer.file_token(1).rsplit(".", 1)[1]
    for token in file_tokens(valid_mac):
        async with http.get(f"{bot.url}/files/{token}") as response:
            assert response.status == 403, (token[:60], response.status, await response.text())


async def test_a_valid_token_for_a_file_that_is_gone_is_404(
    bot: RunningBot, http: aiohttp.ClientSession
) -> None:
    token = bot.services.signer.file_token(999)
    async with http.get(f"{bot.url}/files/{token}") as response:
        assert response.status == 404


async def test_absurd_callback_tokens_are_403_never_500(bot: RunningBot, http: aiohttp.ClientSession) -> None:
    valid_mac = bot.services.signer.callback_token(1).rsplit(".", 1)[1]
    body = {"code": 200, "msg": "ok", "data": {"callbackType": "text", "task_id": "x", "data": []}}
    for token in callback_tokens(valid_mac):
        async with http.post(f"{bot.url}/callbacks/{token}", json=body) as response:
            assert response.status == 403, (token[:60], response.status, await response.text())
