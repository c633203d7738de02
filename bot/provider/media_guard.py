"""Which media URLs the bot may fetch, or hand to Telegram to fetch: public http(s) addresses only.

A callback names the URLs of its tracks and covers, and whoever can post one (the provider, or anyone who
learns a callback URL) would otherwise make the bot fetch from its own network: loopback admin ports,
the cloud's metadata service, the LAN. So every URL, and every hop of a redirect, must be http(s) on an
address that is public; names are resolved and refused when any address they resolve to is not. The
configured provider's own origins (SUNO_API_URL, SUNO_UPLOAD_URL) are trusted as they are: the operator
chose them, and the emulators serve media from loopback.

The check happens where the connection is made (`GuardedResolver`, the resolver of the media session),
so a name that resolves to a public address for a check and to a private one a moment later (DNS
rebinding) is still refused; IP literals never reach a resolver and are checked from the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = frozenset({"http", "https"})
# IPv6 prefixes that carry an IPv4 address a gateway forwards to: judged by that IPv4 address.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# Shared address space (carrier-grade NAT): not private in Python's table, not public either.
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


class MediaRefused(OSError):
    """A URL the bot will not fetch. An OSError so that aiohttp's connector passes it on as a DNS error."""


@dataclass(frozen=True)
class Origin:
    host: str
    port: int

    @classmethod
    def of(cls, url: URL) -> Origin:
        return cls(_normal_host(url.host or ""), url.port or (443 if url.scheme == "https" else 80))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, 6to4, NAT64, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, the deprecated "compatible" form
        return ipaddress.IPv4Address(int(address))
    return None


def is_public(address: IPAddress | str) -> bool:
    """True for an address on the public internet; loopback, private, link-local, multicast, reserved,
    unspecified, shared and documentation ranges are not, nor IPv6 forms of such IPv4 addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and not is_public(inner):
            return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or ip.is_unspecified
    )


class MediaGuard:
    """The address policy: `check_url` for what the URL itself says, `check_resolved` for a name's
    addresses, `check` for both (resolving the name here: before a URL is handed to Telegram)."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self._trusted = frozenset(Origin.of(URL(base)) for base in trusted)

    def trusted(self, host: str, port: int) -> bool:
        return Origin(_normal_host(host), port) in self._trusted

    def check_url(self, url: str | URL) -> URL:
        """The parsed URL; MediaRefused for a scheme other than http(s), no host, or a literal address
        that is not public (outside the trusted origins). Names are left to `check_resolved`."""
        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError):
            raise MediaRefused("not a URL") from None
        if parsed.scheme.lower() not in _SCHEMES:
            raise MediaRefused(f"scheme {parsed.scheme or 'none'!r} is not http(s)")
        if not parsed.host:
            raise MediaRefused("the URL names no host")
        origin = Origin.of(parsed)
        if origin in self._trusted:
            return parsed
        literal = _literal(origin.host)
        if literal is not None and not is_public(literal):
            raise MediaRefused(f"{literal} is not a public address")
        return parsed

    def check_resolved(self, host: str, port: int, addresses: Iterable[str]) -> None:
        """MediaRefused unless every address `host` resolved to is public (or the origin is trusted)."""
        if self.trusted(host, port):
            return
        found = list(addresses)
        if not found:
            raise MediaRefused(f"{host} resolves to nothing")
        refused = [a for a in found if not is_public(a)]
        if refused:
            # One private address among public ones is refused too: it is how rebinding is tried.
            raise MediaRefused(f"{host} resolves to {refused[0]}, not a public address")

    async def check(self, url: str | URL) -> URL:
        """`check_url`, then the host's addresses resolved and checked: for a URL someone else fetches."""
        parsed = self.check_url(url)
        origin = Origin.of(parsed)
        if origin in self._trusted or _literal(origin.host) is not None:
            return parsed
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise MediaRefused(f"{origin.host} does not resolve ({error})") from None
        self.check_resolved(origin.host, origin.port, (str(info[4][0]) for info in infos))
        return parsed


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to addresses `guard` does not allow."""

    def __init__(self, guard: MediaGuard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        self._guard.check_resolved(host, port, (r["host"] for r in results))
        return results

    async def close(self) -> None:
        await self._inner.close()


def _normal_host(host: str) -> str:
    return host.rstrip(".").lower().strip("[]")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
