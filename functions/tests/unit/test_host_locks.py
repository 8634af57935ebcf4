"""The emulator's host-level lock: per key, bounded waits, no files left behind; and the
transaction runner that holds it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from core.errors import ContentionError
from emulator.host_lock import HostLockedTransactions, HostLocks


def test_a_held_key_makes_a_waiter_give_up_at_its_deadline(tmp_path):
    locks = HostLocks(tmp_path)
    with locks.hold("user:arda"):
        started = time.monotonic()
        with pytest.raises(ContentionError), locks.hold("user:arda", time.monotonic() + 0.2):
            pass
        assert 0.15 < time.monotonic() - started < 2


def test_unrelated_keys_never_wait_behind_each_other(tmp_path):
    """Keys get their own lock files, never a shared stripe."""
    locks = HostLocks(tmp_path)
    keys = [f"user:{n}" for n in range(2000)]
    with locks.hold(keys[0]):
        for key in keys[1:]:
            with locks.hold(key, time.monotonic()):  # would raise if it had to wait
                pass


def test_lock_files_are_removed_and_waiters_still_exclude_each_other(tmp_path):
    locks = HostLocks(tmp_path)
    inside = 0
    peak = 0
    guard = threading.Lock()

    def work(_: int) -> None:
        nonlocal inside, peak
        for _ in range(20):
            with locks.hold("user:same", time.monotonic() + 30):
                with guard:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1
    assert list(tmp_path.iterdir()) == []


def test_the_emulators_runner_holds_the_keys_lock_during_each_attempt(tmp_path):
    locks = HostLocks(tmp_path)
    runner = HostLockedTransactions(locks=locks)

    def attempt() -> str:
        with pytest.raises(ContentionError), locks.hold("user:arda", time.monotonic()):
            pass  # held by the attempt itself
        with locks.hold("user:other", time.monotonic()):  # other keys stay free
            pass
        return "done"

    assert runner.attempt(attempt, "user:arda", time.monotonic() + 5) == "done"
    with locks.hold("user:arda", time.monotonic()):  # released afterwards
        pass


def test_the_emulators_runner_gives_up_when_the_lock_is_not_had_by_its_deadline(tmp_path):
    locks = HostLocks(tmp_path)
    runner = HostLockedTransactions(locks=locks, deadline_seconds=0.2)

    def body(_: object) -> None:
        raise AssertionError("ran without the lock")

    with locks.hold("user:arda"):
        started = time.monotonic()
        with pytest.raises(ContentionError):
            runner.run(SimpleNamespace(), body, "user:arda")  # type: ignore[arg-type]
        assert 0.15 < time.monotonic() - started < 2
