"""Signed tokens for callback and file URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from bot.web import signing
from bot.web.signing import Signer

SECRET = "s" * 32


def test_callback_token_round_trip() -> None:
    signer = Signer(SECRET)
    for task_id in (1, 42, 10**12):
        assert signer.verify_callback(signer.callback_token(task_id)) == task_id


def test_tokens_stay_what_they_were() -> None:
    # Callback URLs outlive a restart or an upgrade at the provider's side: the token's recipe is fixed.
    mac = hmac.new(SECRET.encode(), b"callback:42", hashlib.sha256).digest()
    assert Signer(SECRET).callback_token(42) == "42." + base64.urlsafe_b64encode(mac).decode()[:32]


def test_callback_token_is_url_safe() -> None:
    token = Signer(SECRET).callback_token(7)
    assert all(c.isalnum() or c in "-_." for c in token)


def test_tampered_callback_token() -> None:
    signer = Signer(SECRET)
    token = signer.callback_token(5)
    task_part, mac = token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert signer.verify_callback(f"{task_part}.{flipped}") is None
    assert signer.verify_callback(f"{task_part}.{mac[:-1]}") is None
    assert signer.verify_callback(task_part) is None


def test_callback_token_of_another_task() -> None:
    signer = Signer(SECRET)
    mac = signer.callback_token(5).split(".")[1]
    assert signer.verify_callback(f"6.{mac}") is None


def test_callback_token_of_another_secret() -> None:
    assert Signer("t" * 32).verify_callback(Signer(SECRET).callback_token(5)) is None


@pytest.mark.parametrize(
    "token",
    ["", ".", "garbage", "abc.def", "-1.abc", "1.2.3", "9" * 40 + ".abc", " 1.abc", "1 .abc",
     "².abc", "¹²³.abc", "١.abc", "Ⅻ.abc", "1².", "1.é", "1.\udcff"],
)  # fmt: skip
def test_garbage_callback_tokens_are_refused_not_raised(token: str) -> None:
    assert Signer(SECRET).verify_callback(token) is None


def test_file_token_round_trip_and_expiry() -> None:
    signer = Signer(SECRET)
    token = signer.file_token(3, ttl=60, now=1000)
    assert signer.verify_file(token, now=1000) == 3
    assert signer.verify_file(token, now=1060) == 3
    assert signer.verify_file(token, now=1061) is None


def test_file_token_for_another_upload() -> None:
    signer = Signer(SECRET)
    _, expires, mac = signer.file_token(3, ttl=60, now=1000).split(".")
    assert signer.verify_file(f"4.{expires}.{mac}", now=1000) is None


def test_file_token_with_a_stretched_expiry() -> None:
    signer = Signer(SECRET)
    upload, expires, mac = signer.file_token(3, ttl=60, now=1000).split(".")
    assert signer.verify_file(f"{upload}.{int(expires) + 3600}.{mac}", now=1000) is None


def test_callback_and_file_tokens_are_not_interchangeable() -> None:
    signer = Signer(SECRET)
    callback_mac = signer.callback_token(3).split(".")[1]
    assert signer.verify_file(f"3.99999999999.{callback_mac}", now=0) is None
    file_mac = signer.file_token(3, now=0).split(".")[2]
    assert signer.verify_callback(f"3.{file_mac}") is None


@pytest.mark.parametrize(
    "token", ["", "1.2", "a.b.c", "1.2.3.4", "².100.abc", "1.²³.abc", "١.100.abc", "-1.100.abc", "1.100.é"]
)
def test_garbage_file_tokens_are_refused_not_raised(token: str) -> None:
    assert Signer(SECRET).verify_file(token, now=0) is None


def test_derive_is_stable_and_purpose_bound() -> None:
    signer = Signer(SECRET)
    assert signer.derive("telegram") == Signer(SECRET).derive("telegram")
    assert signer.derive("telegram") != signer.derive("other")
    assert SECRET not in signer.derive("telegram")


def test_a_verified_token_is_remembered_and_a_forged_one_never_is() -> None:
    signer = Signer(SECRET)
    tokens = [signer.callback_token(task_id) for task_id in range(1, 4)]
    assert [signer.verify_callback(t) for t in tokens * 2] == [1, 2, 3] * 2  # the second time from memory
    task_part, mac = tokens[0].split(".")
    forged = f"{task_part}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}"
    for _ in range(2):
        assert signer.verify_callback(forged) is None
    other = Signer("another secret of the same length!!")
    assert other.verify_callback(tokens[0]) is None  # memory is per secret: nothing leaks between signers


def test_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "_VERIFIED_KEPT", 3)
    signer = Signer(SECRET)
    for task_id in range(1, 10):
        assert signer.verify_callback(signer.callback_token(task_id)) == task_id
    assert signer.remembered == 3
    assert signer.verify_callback(signer.callback_token(1)) == 1  # forgotten, so checked again: still valid


def _mac_of(token: str) -> str:
    return token.rsplit(".", 1)[1]


def test_absurd_file_tokens_are_refused_quickly() -> None:
    signer = Signer(SECRET)
    mac = _mac_of(signer.file_token(1, ttl=60, now=40))  # a valid MAC for upload 1, expiry 100
    absurd = [
        f"1.{'9' * 5000}.{mac}",  # int() of this raises, after a long parse: once a 500 with a traceback
        f"1.{'9' * 13}.{mac}",
        f"{'9' * 5000}.100.{mac}",
        f"1.100.{mac * 200}",
        f"1.0100.{mac}",  # a leading zero: another spelling of the same expiry
        f"01.100.{mac}",
        f"1.100.{mac[:-1]}!",
        f"1.100.{mac}=",
        "1." * 3000 + mac,
    ]
    for token in absurd:
        started = time.perf_counter()
        assert signer.verify_file(token, now=0) is None, token[:40]
        assert time.perf_counter() - started < 0.05, token[:40]
    assert signer.verify_file(f"1.100.{mac}", now=0) == 1  # the same MAC, spelt canonically


def test_absurd_callback_tokens_are_refused_quickly() -> None:
    signer = Signer(SECRET)
    mac = _mac_of(signer.callback_token(1))
    absurd = [
        f"01.{mac}",  # a leading zero: another spelling of task 1
        f"{'0' * 17}1.{mac}",
        f"{'9' * 5000}.{mac}",
        f"1.{mac * 200}",
        f"1.{mac}.{mac}",
        f"1.{mac}\x00",
        "." * 10_000,
        "1" * 100_000,
    ]
    for token in absurd:
        started = time.perf_counter()
        assert signer.verify_callback(token) is None, token[:40]
        assert time.perf_counter() - started < 0.05, token[:40]
    assert signer.verify_callback(f"1.{mac}") == 1
