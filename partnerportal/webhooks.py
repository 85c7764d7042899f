"""Outbound webhooks, the transport half: Standard Webhooks signatures, the retry schedule, and
requests that cannot be turned against our own network.

Infrastructure: it knows URLs, secrets and bytes, not partners. `programs.webhooks` owns the
endpoints, the outbox and the delivery log, and calls this module to sign and send.
"""

import base64
import ipaddress
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.db import transaction
from django.db.models import QuerySet
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
MAX_URL_LENGTH = 2000
TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024  # what we read of an answer; the log keeps a shorter excerpt
USER_AGENT = "PartnerPortal-Webhooks/1.0"

# The Standard Webhooks schedule (each wait starts after the failure before it), then two daily
# tries: the last attempt comes a little over three days after the first.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=24),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # ± a tenth of each wait, so endpoints that failed together do not retry together


class UnsafeURL(ValueError):
    """The URL may not receive webhooks: the message says why, for the person who entered it."""


def new_secret() -> str:
    """Return a fresh signing secret in the Standard Webhooks form (`whsec_` + base64 of 24 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature_header(msg_id: str, sent_at: datetime, body: str, signing_secrets: Iterable[str]) -> str:
    """Return the `webhook-signature` value: one `v1,…` signature per secret, space-separated.

    During a rotation both the new and the previous secret sign, so a receiver that still holds
    the old one keeps verifying until it switches.
    """
    return " ".join(Webhook(secret).sign(msg_id, sent_at.astimezone(UTC), body) for secret in signing_secrets)


def signed_headers(msg_id: str, sent_at: datetime, body: str, signing_secrets: Iterable[str]) -> dict[str, str]:
    """Return the request headers of one delivery attempt (the timestamp is the attempt's, in UTC)."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.astimezone(UTC).timestamp())),
        "webhook-signature": signature_header(msg_id, sent_at, body, signing_secrets),
    }


def retry_delay(failed_attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """Return how long to wait after the `failed_attempts`-th failure, with jitter; None when no try is left."""
    if failed_attempts < 1 or failed_attempts > len(RETRY_DELAYS):
        return None
    base = RETRY_DELAYS[failed_attempts - 1]
    spread = (rng or random).uniform(-JITTER, JITTER)
    return base * (1 + spread)


def _host_allowed(hostname: str, allowed_hosts: Sequence[str]) -> bool:
    return hostname.lower().strip("[]") in {host.lower().strip("[]") for host in allowed_hosts}


def check_url(url: str, *, allowed_hosts: Sequence[str] = ()) -> str:
    """Return `url` if webhooks may be sent there, or raise UnsafeURL saying why.

    Only http(s), no credentials in the URL, and a host whose every address is public: private,
    loopback, link-local (cloud metadata), multicast and reserved ranges are refused unless the
    host is named in `allowed_hosts`. The check runs at registration and again before each send,
    after resolving the name, so a name that later points inside is caught.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"The URL is too long: at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise UnsafeURL(f"This is not a valid URL ({error}).") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Webhook URLs must start with https:// (or http://).")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no user name or password in the URL: verify our signature instead.")
    if _host_allowed(parts.hostname, allowed_hosts):
        return url
    for address in _addresses(parts.hostname, port):
        _refuse_internal(address, parts.hostname, port)
    return url


def _addresses(hostname: str, port: int) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The host name “{hostname}” does not resolve.") from None


def is_internal(address: str) -> bool:
    """Return True for an address webhooks must not reach: requests-hardened's rule (private,
    loopback, link-local, multicast and its extra ranges, IPv4-mapped IPv6 unwrapped) and reserved."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    blocked = any(ip in net for net in EXTRA_BLOCKED_NET_RANGES if net.version == ip.version)
    return ip.is_private or ip.is_multicast or ip.is_reserved or ip.is_unspecified or blocked


def _refuse_internal(address: str, hostname: str, port: int) -> None:
    # Every address the name has, not just the first (checked as resolved: no second lookup).
    if is_internal(address):
        raise UnsafeURL(f"“{hostname}” points to an internal address ({address}): webhooks go to public hosts only.")


@dataclass(frozen=True)
class Outcome:
    """What one attempt got back: a status (None when no answer came), the answer's start, how long it took."""

    status: int | None
    body: str
    duration_ms: int
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _manager(*, filtered: bool) -> Manager:
    return Manager(
        Config(
            ip_filter_enable=filtered,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=(TIMEOUT_SECONDS, TIMEOUT_SECONDS),
        )
    )


_FILTERED = _manager(filtered=True)
_UNFILTERED = _manager(filtered=False)  # only for hosts named in WEBHOOK_ALLOWED_HOSTS


def session_for(url: str, *, allowed_hosts: Sequence[str] = ()) -> requests.Session:
    """Return a session for `url`: one that re-checks the address it connects to, unless the host is allowed.

    Reuse it for several sends to the same endpoint to keep the connection alive.
    """
    hostname = urlsplit(url).hostname or ""
    manager = _UNFILTERED if _host_allowed(hostname, allowed_hosts) else _FILTERED
    session = manager.get_session()
    # No proxy from the environment: a proxy would resolve the name itself, after our check.
    session.trust_env = False
    return session


def post(
    session: requests.Session,
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    allowed_hosts: Sequence[str] = (),
    timeout: float = TIMEOUT_SECONDS,
) -> Outcome:
    """POST one signed delivery and return its outcome; never raises for the receiver's faults.

    Redirects are not followed (a 3xx is a failed attempt), connecting and each read wait at most
    `timeout` seconds, reading the answer too, and at most MAX_RESPONSE_BYTES of it are read.
    """
    started = time.monotonic()
    try:
        check_url(url, allowed_hosts=allowed_hosts)
        with session.post(
            url, data=body.encode(), headers=headers, stream=True, allow_redirects=False, timeout=(timeout, timeout)
        ) as response:
            answer = _read_capped(response, timeout)
            status = response.status_code
    except UnsafeURL as error:
        return Outcome(None, "", _ms_since(started), str(error))
    except requests.Timeout:
        return Outcome(None, "", _ms_since(started), f"No answer within {timeout:g} s.")
    except InvalidIPAddress as error:
        return Outcome(None, "", _ms_since(started), f"Refused: the host now points to an internal address ({error}).")
    except requests.RequestException as error:
        return Outcome(None, "", _ms_since(started), f"Could not connect: {type(error).__name__}.")
    except Exception as error:
        return Outcome(None, "", _ms_since(started), f"Failed: {type(error).__name__}.")
    return Outcome(status, answer, _ms_since(started))


def _read_capped(response: requests.Response, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=1024):  # small reads: the deadline is checked often
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES].decode("utf-8", errors="replace")


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def claim_due(pending: QuerySet[Any], *, now: datetime, limit: int, lease_seconds: int) -> list[int]:
    """Take up to `limit` rows of `pending` whose `next_attempt_at` has come; hold them for the lease.

    The rows' `next_attempt_at` moves to the lease's end in the same transaction as the
    `SELECT … FOR UPDATE SKIP LOCKED` that found them, so two workers never take the same row, and
    a worker that dies leaves its rows to be taken again once the lease is over. Returns their ids,
    the most overdue first.
    """
    with transaction.atomic():
        ids = list(
            pending.filter(next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            pending.model._default_manager.filter(pk__in=ids).update(
                next_attempt_at=now + timedelta(seconds=lease_seconds)
            )
    return ids


def until_idle(step: Callable[[], int], *, seconds: float = 50.0) -> int:
    """Run `step` (one batch of an outbox, returning how many it handled) until it handles nothing
    or `seconds` have passed; return the total. What a worker's task does for each outbox."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        done = step()
        if not done:
            break
        total += done
    return total
