"""Signed result callbacks for graders, and the rules that keep them from being SSRF.

A run may name a ``callback_url``; when it is done its result is POSTed there with
``X-MUSCode-Signature: sha256=<hex HMAC-SHA256 of the body with callback_secret>``,
retried with exponential backoff. Only http(s) URLs are accepted, and only to public
addresses: loopback, private, link-local, multicast and reserved addresses are refused
unless the host is listed in ``callback_allow_hosts``. The address is checked when the
run is submitted and again when connecting (a resolver that refuses such addresses),
so a name that later resolves elsewhere (DNS rebinding) gains nothing; redirects are
not followed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.netutil import DefaultLoopResolver, Resolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from ..errors import Invalid

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MUSCode-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


@dataclass(frozen=True)
class CallbackPolicy:
    secret: str
    allow_hosts: frozenset[str]
    attempts: int = 4
    first_delay: float = 1.0
    timeout: float = 10.0

    def allowed_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allow_hosts


class _GuardedResolver(Resolver):
    """Resolves like the default resolver, then drops addresses a callback may not reach."""

    def initialize(self, policy: CallbackPolicy) -> None:
        self.policy = policy
        self.inner = DefaultLoopResolver()

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        found = await self.inner.resolve(host, port, family)
        if self.policy.allowed_host(host):
            return found
        kept = [(fam, addr) for fam, addr in found if not _forbidden(addr[0])]
        if not kept:
            raise OSError(f"callback host {host!r} resolves only to non-public addresses")
        return kept

    def close(self) -> None:
        self.inner.close()


async def check_url(policy: CallbackPolicy, url: str) -> str:
    """Validate a callback URL when a run is submitted (422 saying what is wrong)."""
    if not policy.secret:
        raise Invalid.field(
            "callback_url",
            "this server has no callback_secret, so it cannot sign callbacks; ask the "
            "operator to set MUSCODE_CALLBACK_SECRET",
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Invalid.field("callback_url", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise Invalid.field("callback_url", "must name a host")
    if parts.username or parts.password:
        raise Invalid.field("callback_url", "must not carry a user name or password")
    host = parts.hostname
    if policy.allowed_host(host):
        return url
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as e:
        raise Invalid.field("callback_url", f"host {host!r} cannot be resolved ({e})") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    bad = [a for a in addresses if _forbidden(a)]
    if bad:
        raise Invalid.field(
            "callback_url",
            f"host {host!r} is a loopback, private or link-local address ({bad[0]}); "
            "callbacks go to public hosts unless the operator lists the host in "
            "callback_allow_hosts",
        )
    return url


class CallbackSender:
    """POSTs signed results; retries with backoff; never raises to its caller."""

    def __init__(self, policy: CallbackPolicy) -> None:
        self.policy = policy
        self._tasks: set[asyncio.Task[bool]] = set()

    def send_later(self, url: str, result: dict[str, Any]) -> None:
        """Deliver in the background (tracked, so ``close`` can wait for it)."""
        task = asyncio.create_task(self.send(url, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, url: str, result: dict[str, Any]) -> bool:
        body = json.dumps(result, ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.policy.secret, body),
            "User-Agent": "MUSCode-callback",
        }
        client = SimpleAsyncHTTPClient(
            force_instance=True, resolver=_GuardedResolver(policy=self.policy)
        )
        delay = self.policy.first_delay
        try:
            for attempt in range(1, self.policy.attempts + 1):
                request = HTTPRequest(
                    url,
                    method="POST",
                    body=body,
                    headers=headers,
                    follow_redirects=False,
                    request_timeout=self.policy.timeout,
                    connect_timeout=self.policy.timeout,
                )
                try:
                    response = await client.fetch(request, raise_error=False)
                    if 200 <= response.code < 300:
                        return True
                    problem = f"HTTP {response.code}"
                    if 400 <= response.code < 500 and response.code not in (408, 429):
                        log.warning("callback to %s refused (%s); not retrying", url, problem)
                        return False
                except (OSError, HTTPClientError) as e:
                    problem = str(e)
                log.info("callback to %s failed (attempt %d: %s)", url, attempt, problem)
                if attempt < self.policy.attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
            log.warning("callback to %s given up after %d attempts", url, self.policy.attempts)
            return False
        finally:
            client.close()

    async def close(self, timeout: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


def normalise_hosts(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".") for h in hosts if h.strip())
