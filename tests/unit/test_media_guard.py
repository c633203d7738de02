"""The media address policy: public http(s) only, the provider's own origins excepted."""

from __future__ import annotations

import pytest

from bot.provider.media_guard import GuardedResolver, MediaGuard, MediaRefused, is_public

PROVIDER = "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"],
)
def test_public_addresses(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",  # all of 127/8 is loopback
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "0.0.0.0",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "224.0.0.251",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "ff0e::1",  # global-scope multicast is still multicast
        "2001:db8::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "not an address",
    ],
)
def test_addresses_that_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://8.8.8.8/a.mp3",
        "gopher://8.8.8.8:70/",
        "javascript:alert(1)",
        "a.mp3",
        "http:///a.mp3",
        "http://127.0.0.1/a.mp3",
        "http://127.0.0.1:8124/a.mp3",  # the provider's host, another port: another service
        "http://10.0.0.7:8080/a.mp3",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8123/a.mp3",
        "http://[::ffff:127.0.0.1]/a.mp3",
        "http://[fe80::1]/a.mp3",
    ],
)
def test_urls_refused_from_what_they_say(url: str) -> None:
    guard = MediaGuard(trusted=[PROVIDER])
    with pytest.raises(MediaRefused):
        guard.check_url(url)


def test_the_providers_own_origins_and_public_addresses_pass() -> None:
    guard = MediaGuard(trusted=[PROVIDER, "https://uploads.example.com"])
    for url in (
        f"{PROVIDER}/media/audio/1.mp3",
        "https://uploads.example.com/media/x.mp3",
        "https://UPLOADS.example.com./media/x.mp3",  # case and a trailing dot name the same host
        "https://8.8.8.8/a.mp3",
        "http://[2606:4700:4700::1111]/a.mp3",
        "https://cdn.example.com/a.mp3",  # a name: judged when resolved
    ):
        guard.check_url(url)


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    guard = MediaGuard(trusted=["http://media.internal:9000"])
    guard.check_resolved("cdn.example.com", 443, ["8.8.8.8", "2606:4700:4700::1111"])
    for addresses in (["10.0.0.5"], ["8.8.8.8", "127.0.0.1"], ["::ffff:192.168.0.1"], []):
        with pytest.raises(MediaRefused):
            guard.check_resolved("cdn.example.com", 443, addresses)
    guard.check_resolved("media.internal", 9000, ["10.0.0.5"])  # the operator's own provider host
    with pytest.raises(MediaRefused):
        guard.check_resolved("media.internal", 9001, ["10.0.0.5"])


async def test_a_name_resolving_to_loopback_is_refused_unless_it_is_the_providers() -> None:
    """`localhost` is a real name resolving to loopback (/etc/hosts), like a rebinding attacker's name."""
    guard = MediaGuard(trusted=["http://localhost:8123"])
    with pytest.raises(MediaRefused):
        await guard.check("http://localhost:8124/a.mp3")
    await guard.check("http://localhost:8123/a.mp3")
    resolver = GuardedResolver(guard)
    try:
        with pytest.raises(MediaRefused):
            await resolver.resolve("localhost", 8124)
        assert await resolver.resolve("localhost", 8123)
    finally:
        await resolver.close()
