"""Requests the integration sends again: retries (the retry tax) and repeated page creates after
a timeout (likely duplicate pages). In memory only, keyed by hashes: never a body or a token.

A request is a *retry* when the same token sent the same method, path, query and body within
RETRY_WINDOW after an attempt that failed in a way SDKs retry (429, 5xx, no answer). Its
`client_wait` is the gap between that failure's answer and the retry (the SDK's Retry-After or
backoff sleep); its `redo` is the time the failed attempt took, unless that was a 429 (429
answers count in the tax by themselves).

A *likely duplicate* is a page create (POST /v1/pages) with the same parent and body as one
still unanswered (the client gave up waiting and sent it again) or one that ended without an
answer (a timeout, a 504) within DUPLICATE_WINDOW: Notion may have created the first page
anyway.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict

RETRY_WINDOW = 120.0  # seconds a failed attempt is remembered for its retry
DUPLICATE_WINDOW = 60.0  # seconds an unanswered create is remembered
MAX_REMEMBERED = 10_000  # entries per table; the oldest go first


@dataclasses.dataclass(frozen=True)
class Repeat:
    """What the repeats know about one request when it arrives."""

    attempt: int = 0  # 0: a first attempt; n: the n-th retry
    client_wait: float = 0.0
    redo: float = 0.0
    likely_duplicate: bool = False


@dataclasses.dataclass(frozen=True)
class _Failure:
    answered_at: float
    attempt: int
    cost: float  # the failed attempt's time, 0 for a 429


def request_key(budget: str, method: str, target: str, body: bytes) -> str:
    """A digest of one request (budget, method, path with query, body) (pure)."""
    digest = hashlib.sha256(f"{budget}\n{method}\n{target}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def create_key(budget: str, body: bytes) -> str | None:
    """A digest of a page create's parent and body, or None if it names no parent (pure)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("parent"), dict):
        return None
    parent = json.dumps(data["parent"], sort_keys=True)
    digest = hashlib.sha256(f"{budget}\n{parent}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def is_create(method: str, path: str) -> bool:
    """POST /v1/pages: a page create (pure)."""
    return method == "POST" and path.rstrip("/") == "/v1/pages"


def retryable(status: int | None) -> bool:
    """An outcome SDKs retry: no answer, 429, or a 5xx (pure)."""
    return status is None or status == 429 or status >= 500


class Repeats:
    """The recent failures and unanswered creates, one table each (bounded, oldest out)."""

    def __init__(self) -> None:
        self._failures: OrderedDict[str, _Failure] = OrderedDict()
        self._creates: OrderedDict[str, float] = OrderedDict()
        self._open_creates: dict[str, int] = {}  # create key -> how many are in flight

    def arrive(self, key: str, create: str | None, now: float) -> Repeat:
        """What this request repeats (its failure is forgotten: a retry starts a new chain)."""
        failure = self._failures.pop(key, None)
        if failure is not None and now - failure.answered_at > RETRY_WINDOW:
            failure = None
        duplicate = False
        if create is not None:
            sent = self._creates.pop(create, None)
            duplicate = (sent is not None and now - sent <= DUPLICATE_WINDOW) or (
                self._open_creates.get(create, 0) > 0)
            self._open_creates[create] = self._open_creates.get(create, 0) + 1
        if failure is None:
            return Repeat(likely_duplicate=duplicate)
        return Repeat(attempt=failure.attempt + 1, client_wait=max(0.0, now - failure.answered_at),
                      redo=failure.cost, likely_duplicate=duplicate)

    def answered(self, key: str, create: str | None, *, status: int | None, attempt: int,
                 took: float, now: float) -> None:
        """Remember a failure SDKs retry, and a create that got no answer."""
        if retryable(status):
            _remember(self._failures, key,
                      _Failure(now, attempt, 0.0 if status == 429 else took))
        if create is None:
            return
        left = self._open_creates.pop(create, 1) - 1
        if left > 0:
            self._open_creates[create] = left
        if status is None or status == 504:
            _remember(self._creates, create, now)


def _remember(table: OrderedDict[str, _Failure] | OrderedDict[str, float], key: str,
              value: object) -> None:
    table.pop(key, None)
    table[key] = value  # type: ignore[assignment]
    while len(table) > MAX_REMEMBERED:
        table.popitem(last=False)
