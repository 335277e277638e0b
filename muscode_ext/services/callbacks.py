"""Signed result callbacks for graders, and the rules that keep them from being SSRF.

A run may name a ``callback_url``; when it is done its result is POSTed there with
``X-MUSCode-Signature: sha256=<hex HMAC-SHA256 of the body with callback_secret>``,
retried with exponential backoff. Only http(s) URLs are accepted, and only to public
addresses: loopback, private, link-local, multicast and reserved addresses, and IPv6
addresses that lead to one (6to4, Teredo, NAT64, IPv4-mapped or -compatible forms), are
refused unless the host is listed in ``callback_allow_hosts``. The address is checked when the
run is submitted and again when connecting (a resolver that refuses such addresses),
so a name that later resolves elsewhere (DNS rebinding) gains nothing; redirects are
not followed.

A run's callback is sent once, by whichever process first claims it: two processes
may both finish one run (a worker thought dead finishes after another took its run
over), and each would otherwise send it. With Redis the claim is a ``SET NX`` on the
run's key, shared by every server and worker (:class:`RedisClaims`); without, it is
kept in the process (:class:`InProcessClaims`). The claim comes before the first
delivery: a process that dies between the two loses that callback rather than
sending it twice.

The sender is a configurable part: ``c.CallbackSender.secret``, ``.allow_hosts``,
``.attempts``, ``.first_delay``, ``.timeout``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.netutil import DefaultLoopResolver, Resolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from traitlets import Float, Int, Set, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..errors import Invalid
from ..redis_common import REDIS_DOWN, RedisKeys, close_client, connect
from ..setting_checks import check_hosts

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MUSCode-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


#: IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or the host
#: itself reaches: NAT64 (well-known and local-use), IPv4-compatible, IPv4-translated.
_LOW_32_BITS_IPV4 = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: 6to4 (``2002::/16``),
    Teredo (``2001::/32``: its server and its client), NAT64 and the other forms with
    the IPv4 address in the last 32 bits."""
    found = [ip.sixtofour] if ip.sixtofour is not None else []
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in net for net in _LOW_32_BITS_IPV4):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _forbidden(address: str) -> bool:
    """May a callback not go to ``address``? Loopback, private, link-local, multicast,
    reserved and other non-global addresses are refused, and so is an IPv6 address
    that leads to such an IPv4 address (6to4, Teredo, NAT64, IPv4-mapped...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # the IPv4 address itself, as the host's stack uses it
    if _not_public(ip):
        return True
    return isinstance(ip, ipaddress.IPv6Address) and any(
        _not_public(v4) for v4 in _embedded_ipv4(ip)
    )


@dataclass(frozen=True)
class CallbackPolicy:
    secret: str
    allow_hosts: frozenset[str]
    attempts: int = 4
    first_delay: float = 1.0
    timeout: float = 10.0

    def allowed_host(self, host: str) -> bool:
        """Is ``host`` (a name or an address) listed, or an address in a listed network?"""
        host = host.lower().rstrip(".").strip("[]")
        if host in self.allow_hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in _networks(self.allow_hosts))


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
        kept = [
            (fam, addr)
            for fam, addr in found
            if not _forbidden(addr[0]) or self.policy.allowed_host(addr[0])
        ]
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
    bad = [a for a in addresses if _forbidden(a) and not policy.allowed_host(a)]
    if bad:
        raise Invalid.field(
            "callback_url",
            f"host {host!r} is a loopback, private or link-local address ({bad[0]}); "
            "callbacks go to public hosts unless the operator lists the host in "
            "callback_allow_hosts",
        )
    return url


#: How long a callback's claim is kept (seconds): far longer than any run and its retries.
CALLBACK_CLAIM_TTL = 7 * 24 * 3600


class InProcessClaims:
    """Callback claims of one process (an embedded server): the most recent runs'."""

    def __init__(self, keep: int = 100_000) -> None:
        self.keep = keep
        self._claimed: OrderedDict[str, None] = OrderedDict()

    async def first(self, execution_id: str) -> bool:
        """True for the first claim of ``execution_id``'s callback, False after."""
        if execution_id in self._claimed:
            return False
        self._claimed[execution_id] = None
        if len(self._claimed) > self.keep:
            self._claimed.popitem(last=False)
        return True

    async def close(self) -> None:
        self._claimed.clear()


class RedisClaims:
    """Callback claims shared by every process on one Redis (``P:callback:{id}``)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.keys = RedisKeys(prefix)
        self.client = connect(url)

    async def first(self, execution_id: str) -> bool:
        """True for the first claim of ``execution_id``'s callback in any process.

        Redis unreachable: True (and a warning), since a callback sent twice can be
        told apart by the grader (same run id), a lost one cannot."""
        try:
            won = await self.client.set(
                self.keys.callback(execution_id), "1", nx=True, ex=CALLBACK_CLAIM_TTL
            )
        except REDIS_DOWN as e:
            log.warning("callback of execution %s: cannot claim it in Redis (%s)", execution_id, e)
            return True
        return bool(won)

    async def close(self) -> None:
        await close_client(self.client)


class CallbackSender(LoggingConfigurable):
    """POSTs signed results; retries with backoff; never raises to its caller."""

    secret = Unicode(
        help="""Key that signs result callbacks (X-MUSCode-Signature: sha256=HMAC of the
        body), from $MUSCODE_CALLBACK_SECRET. Empty: runs with a callback_url are refused.""",
    ).tag(config=True)

    @default("secret")
    def _default_secret(self) -> str:
        return os.environ.get("MUSCODE_CALLBACK_SECRET", "")

    allow_hosts = Set(
        Unicode(),
        help="""Hosts callbacks may reach even though they are loopback, private or
        link-local (e.g. a grader on the school network): host names, IP addresses or
        networks (CIDR, 10.1.0.0/16). Others must be public. On the command line, one
        per option: --CallbackSender.allow_hosts=a --CallbackSender.allow_hosts=b.""",
    ).tag(config=True)

    @validate("allow_hosts")
    def _hosts(self, proposal: dict[str, Any]) -> set[str]:
        check_hosts("CallbackSender.allow_hosts", proposal["value"])
        return set(proposal["value"])

    attempts = Int(4, help="Deliveries tried per callback (with backoff).").tag(config=True)

    first_delay = Float(
        1.0, help="Seconds before the first retry of a callback; doubled each time."
    ).tag(config=True)

    timeout = Float(10.0, help="Seconds one delivery may take to connect, and to be answered.").tag(
        config=True
    )

    @validate("attempts", "first_delay", "timeout")
    def _positive(self, proposal: dict[str, Any]) -> Any:
        if proposal["value"] <= 0:
            raise TraitError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    def __init__(self, claims: InProcessClaims | RedisClaims | None = None, **kwargs: Any) -> None:
        """``claims``: where a run's callback is claimed before it is sent (default: in
        this process; :class:`RedisClaims` when several processes may finish a run)."""
        super().__init__(**kwargs)
        self.claims = claims if claims is not None else InProcessClaims()
        self._tasks: set[asyncio.Task[bool]] = set()

    @property
    def policy(self) -> CallbackPolicy:
        """The rules a callback URL is checked against, from the settings above."""
        return CallbackPolicy(
            secret=self.secret,
            allow_hosts=normalise_hosts(self.allow_hosts),
            attempts=self.attempts,
            first_delay=self.first_delay,
            timeout=self.timeout,
        )

    def send_later(self, url: str, result: dict[str, Any]) -> None:
        """Deliver a run's ``result`` in the background, unless its callback was claimed
        already (tracked, so ``close`` can wait for it)."""
        task = asyncio.create_task(self.deliver(url, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, url: str, result: dict[str, Any]) -> bool:
        """Claim the callback of the run ``result`` is about, then send it; False when
        another process (or an earlier call) claimed it, or when it was not delivered."""
        execution_id = str(result.get("id", ""))
        if not await self.claims.first(execution_id):
            log.info(
                "callback of execution %s: already sent by another process; not sent again",
                execution_id,
            )
            return False
        return await self.send(url, result)

    async def send(self, url: str, result: dict[str, Any]) -> bool:
        policy = self.policy
        body = json.dumps(result, ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(policy.secret, body),
            "User-Agent": "MUSCode-callback",
        }
        resolver = _GuardedResolver(policy=policy)
        client = SimpleAsyncHTTPClient(force_instance=True, resolver=resolver)
        delay = policy.first_delay
        try:
            for attempt in range(1, policy.attempts + 1):
                request = HTTPRequest(
                    url,
                    method="POST",
                    body=body,
                    headers=headers,
                    follow_redirects=False,
                    request_timeout=policy.timeout,
                    connect_timeout=policy.timeout,
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
                if attempt < policy.attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
            log.warning("callback to %s given up after %d attempts", url, policy.attempts)
            return False
        finally:
            client.close()

    async def close(self, timeout: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self.claims.close()


def _networks(hosts: frozenset[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks (CIDR) among the allowed hosts."""
    return [ipaddress.ip_network(h, strict=False) for h in hosts if "/" in h]


def normalise_hosts(hosts: Iterable[str]) -> frozenset[str]:
    return frozenset(h.strip().lower().rstrip(".").strip("[]") for h in hosts if h.strip())
