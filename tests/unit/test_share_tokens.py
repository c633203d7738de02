"""Share-link tokens: they name one share row, fit a t.me deep link, and cannot be made up."""

from __future__ import annotations

import re

import pytest

from bot.web.signing import Signer

DEEP_LINK_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def test_share_token_round_trip_and_fits_a_deep_link() -> None:
    signer = Signer("s3cret")
    for share_id in (1, 42, 10**17):
        token = signer.share_token(share_id)
        assert signer.verify_share(token) == share_id
        assert DEEP_LINK_PAYLOAD.fullmatch("s_" + token), token


def test_share_token_of_another_share_secret_or_purpose_is_refused() -> None:
    signer = Signer("s3cret")
    token = signer.share_token(7)
    _, _, mac = token.partition("_")
    assert signer.verify_share(f"8_{mac}") is None
    assert Signer("other").verify_share(token) is None
    assert signer.verify_share(signer.callback_token(7).replace(".", "_")) is None  # not a share's MAC


@pytest.mark.parametrize("token", ["", "_", "7", "7_", "07_" + "A" * 32, "x" * 500, "7_" + "é" * 32])
def test_garbage_share_tokens_are_refused_not_raised(token: str) -> None:
    assert Signer("s3cret").verify_share(token) is None
