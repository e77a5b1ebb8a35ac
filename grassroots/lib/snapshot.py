"""Process-wide snapshots of small, read-mostly reference data (the matter catalog, the
territory above the grids, the departments), so that a hot path like case intake asks the
database nothing it asked a moment ago.

A snapshot is loaded on first use and kept until
  * this process changes the data (the owning app's signals or services call invalidate()), or
  * another process changed it: at most every SNAPSHOT_CHECK_SECONDS (the grid index's
    setting, 5 s by default) one cheap `stamp` query (a count and a latest-change time) is
    compared with the stamp the snapshot was loaded under.
So a change made in one process is seen in the others within those seconds, the same promise the
grid index makes (territory.geo).
"""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings

T = TypeVar("T")
_ALL: list["Snapshot"] = []


class Snapshot(Generic[T]):
    def __init__(self, name: str, load: Callable[[], T], stamp: Callable[[], object]):
        self.name = name
        self._load = load
        self._stamp = stamp
        self._lock = threading.Lock()
        self._value: T | None = None
        self._seen: object = None
        self._checked = 0.0
        _ALL.append(self)

    def get(self) -> T:
        now = time.monotonic()
        if self._value is not None and now - self._checked < settings.GRID_INDEX_CHECK_SECONDS:
            return self._value
        with self._lock:
            if self._value is not None and now - self._checked < settings.GRID_INDEX_CHECK_SECONDS:
                return self._value
            stamp = self._stamp()
            if self._value is None or stamp != self._seen:
                self._value = self._load()
                self._seen = stamp
            self._checked = now
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None
            self._seen = None
            self._checked = 0.0


def invalidate_all() -> None:
    """Forget every snapshot (a bulk load that sent no signals; tests between databases)."""
    for snapshot in _ALL:
        snapshot.invalidate()
