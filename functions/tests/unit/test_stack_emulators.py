"""scripts/stack/emulators.py: a stop leaves no process of the run, whatever it started.

The fake firebase-tools below behaves as the real one does in the ways that matter here: it
starts a process detached in a session of its own (as it starts the Java emulators) and one in
its own session (a Python function worker), and on SIGTERM it exits without stopping either.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from types import ModuleType

import psutil
import pytest
import requests

from tests.support.scripts import load_script

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
FAKE_FIREBASE = f"""
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, {{on_sigterm}})
subprocess.Popen({SLEEPER!r}, start_new_session=True)  # a Java emulator, detached
subprocess.Popen({SLEEPER!r})  # a function worker
time.sleep(60)
"""
EXITS = "lambda *_: sys.exit(0)"
IGNORES = "signal.SIG_IGN"


@pytest.fixture(scope="module")
def emulators() -> ModuleType:
    return load_script("stack/emulators")


def start_fake_firebase(emulators: ModuleType, on_sigterm: str):
    stack = emulators.Stack()
    stack.firebase = stack.start(
        [sys.executable, "-c", FAKE_FIREBASE.format(on_sigterm=on_sigterm)]
    )
    parent = psutil.Process(stack.firebase.pid)
    deadline = time.monotonic() + 20
    while len(parent.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = parent.children()
    assert len(children) == 2
    return stack, [parent, *children]


def test_firebase_tools_gets_sigterm_then_everything_it_left_is_killed(emulators):
    stack, run = start_fake_firebase(emulators, EXITS)
    assert os.getsid(stack.firebase.pid) == stack.firebase.pid  # a Ctrl-C does not reach it
    stack.stop()
    assert stack.firebase.returncode == 0  # it stopped on SIGTERM, not killed
    assert [p.pid for p in run if emulators.alive(p)] == []


def test_firebase_tools_that_does_not_stop_in_time_is_killed(emulators, monkeypatch):
    monkeypatch.setattr(emulators, "GRACE_SECONDS", 0.5)
    stack, run = start_fake_firebase(emulators, IGNORES)
    stack.stop()
    assert stack.firebase.returncode == -signal.SIGKILL
    assert [p.pid for p in run if emulators.alive(p)] == []


def test_a_stop_requested_before_the_first_step_starts_nothing(emulators):
    stack = emulators.Stack()
    stack.on_signal(signal.SIGTERM, None)
    stack.on_signal(signal.SIGINT, None)  # a second signal changes nothing
    assert emulators.dev(stack, None) == 0
    assert stack.started == [] and stack.signal == signal.SIGTERM


class FakeAnswer:
    def __init__(self, body: dict) -> None:
        self.status_code, self.ok, self.text, self._body = 200, True, "{}", body

    def json(self) -> dict:
        return self._body


def test_dev_seeds_with_the_admin_key_then_the_accounts_then_the_banner(emulators, monkeypatch):
    """The seeding step works where auth is required too: it sends the stack's admin key."""
    steps = [step.__name__ for step in emulators.DEV_STEPS]
    assert steps[-4:] == [
        "seed_reference_data",
        "seed_auth_accounts",
        "prepare_first_run",
        "print_banner",
    ]
    monkeypatch.setattr(load_script("stack/env_local"), "admin_key", lambda: "k" * 40)
    sent: list[tuple[str, str, dict[str, str]]] = []

    def answer(method: str, body: dict):
        def send(url: str, **kwargs):
            sent.append((method, url.rsplit("/", 1)[-1], kwargs["headers"]))
            return FakeAnswer(body)

        return send

    monkeypatch.setattr(requests, "get", answer("GET", {"users": [{"userId": "emma_photo"}]}))
    monkeypatch.setattr(requests, "post", answer("POST", {"success": True}))
    emulators.seed_reference_data(emulators.Stack())
    assert sent == [
        ("GET", "listUsers", {"Authorization": f"Bearer {'k' * 40}"}),
        ("POST", "seed_database", {"Authorization": f"Bearer {'k' * 40}"}),
    ]


def test_the_banner_says_how_to_send_a_test_purchase_the_script_accepts(emulators):
    """The banner's command runs as printed: the script exists, parses it, and the buyer is a
    seeded user (with a sign-in account, so the purchase can be watched in the console)."""
    from services.seeding.reference_data import USERS

    line = next(line for line in emulators.BANNER.splitlines() if "stripe_event.py" in line)
    python, script, *argv = line.split(maxsplit=1)[1].split()
    assert python == "functions/venv/bin/python"
    assert (emulators.ROOT / script).is_file()
    args = load_script("stripe_event").parse(argv)
    assert args.command == "checkout-completed" and args.user in USERS
