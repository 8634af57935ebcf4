"""Per-user concurrency slots of one kind: at most `limit` holders per user at once, across every
process and instance (the leases live in a shared SlotStore)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from core.logging import info, warn

if TYPE_CHECKING:
    from core.clock import Clock
    from services.ports import SlotStore


class ConcurrencySlots:
    def __init__(
        self, store: SlotStore, clock: Clock, *, kind: str, limit: int, lease: timedelta
    ) -> None:
        """`lease` must outlast any holder: a lease older than that is taken to be a crashed
        holder's and may be taken over."""
        self._store = store
        self._clock = clock
        self._kind = kind
        self._limit = limit
        self._lease = lease

    @property
    def limit(self) -> int:
        return self._limit

    @contextmanager
    def hold(self, owner: str) -> Iterator[bool]:
        """Yields whether one of `owner`'s slots is held for the block; it is given back when the
        block ends. A store that fails counts as no slot (logged), and giving it back is best
        effort: neither fails the caller."""
        now, kind = self._clock.now(), self._kind
        try:
            lease = self._store.take(owner, self._limit, now, now + self._lease)
        except Exception as exc:
            warn("slot store failed", kind=kind, action="take", exception=repr(exc))
            lease = None
        else:
            if lease is None:
                info("all slots held", kind=kind, user_id=owner, limit=self._limit)
        try:
            yield lease is not None
        finally:
            if lease is not None:
                try:
                    self._store.release(lease)
                except Exception as exc:
                    warn("slot store failed", kind=kind, action="release", exception=repr(exc))

    def take(self, owner: str) -> Callable[[], None] | None:
        """One of `owner`'s slots for a holder that outlives a block (a stream): the function
        that gives it back (call it when done; later calls do nothing), or None when all are
        held. A failing store raises: the caller decides what that means."""
        now = self._clock.now()
        lease = self._store.take(owner, self._limit, now, now + self._lease)
        if lease is None:
            info("all slots held", kind=self._kind, user_id=owner, limit=self._limit)
            return None
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            try:
                self._store.release(lease)
            except Exception as exc:
                warn("slot store failed", kind=self._kind, action="release", exception=repr(exc))

        return release
