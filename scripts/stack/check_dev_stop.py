"""`make check-dev-stop`: `make dev` always stops, leaving no process and no busy port.

Starts `emulators.py dev` again and again and stops it with SIGTERM (sent to it, as `kill`
does) and with SIGINT (sent to its whole process group, as Ctrl-C in a terminal does) at three
moments: during start-up, idle, and while requests are running. After each stop it checks that
it exited with status 0, that no process of the run is left (everything it started, and
everything in their sessions) and that every port of the suite (ports.py) is free.

Needs the suite's ports free (nothing else running the emulators). Takes about a minute per
stop; `--rounds N` repeats the six combinations N times (default 2).
Usage: python scripts/stack/check_dev_stop.py [--rounds N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ports import busy_ports

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://127.0.0.1:5551/feraset-imagen/us-central1"
READY_MARK = "Feraset Imagen API is running"
START_TIMEOUT = 240.0
STOP_TIMEOUT = 90.0
MOMENTS = ("startup", "idle", "busy")
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


@dataclass
class Outcome:
    signal: str
    moment: str
    stopped_in: float = 0.0
    exit_code: int | None = None
    left: list[str] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.left and not self.busy


def all_processes() -> dict[int, tuple[int, int]]:
    """Pid -> (parent pid, session id) of every live process (zombies excluded)."""
    found = {}
    for process in psutil.process_iter(["ppid", "status"]):
        if process.info["status"] in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            continue
        with contextlib.suppress(OSError):
            found[process.pid] = (process.info["ppid"], os.getsid(process.pid))
    return found


def run_members(root: int) -> tuple[set[int], set[int]]:
    """The descendants of `root` (itself included) and the sessions they belong to."""
    processes = all_processes()
    members, sessions = {root}, set()
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in processes.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    for pid in members:
        if pid in processes:
            sessions.add(processes[pid][1])
    return members, sessions


def command(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())[:120]
    except psutil.Error:
        return "?"


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


class Traffic:
    """Clients sending requests until stopped (errors expected once the stack goes down)."""

    def __init__(self, clients: int = 4) -> None:
        self._stop = threading.Event()
        self.sent = 0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        session = requests.Session()
        calls = [
            ("POST", "createGenerationRequest", {
                "userId": "arda", "model": "Model A", "style": "realistic",
                "color": "vibrant", "size": "512x512", "prompt": "stop check",
            }),
            ("GET", "getUserCredits?userId=arda", None),
            ("GET", "getCatalog", None),
        ]  # fmt: skip
        while not self._stop.is_set():
            method, path, body = random.choice(calls)
            try:
                session.request(method, f"{BASE}/{path}", json=body, timeout=5)
            except requests.RequestException:
                time.sleep(0.1)
            self.sent += 1

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def one_stop(sig_name: str, moment: str, rng: random.Random, log: Path) -> Outcome:
    outcome = Outcome(sig_name, moment)
    with log.open("w") as out:
        dev = subprocess.Popen(
            [sys.executable, "scripts/stack/emulators.py", "dev"], cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def ready() -> bool:
        return READY_MARK in log.read_text(errors="replace")

    traffic: Traffic | None = None
    if moment == "startup":
        delay = rng.uniform(0.5, 15.0)
        time.sleep(delay)
        outcome.note = f"after {delay:.1f} s" + (" (already up)" if ready() else "")
    else:
        if not wait_for(ready, START_TIMEOUT):
            outcome.note = "never became ready"
        time.sleep(rng.uniform(0.5, 3.0))
        if moment == "busy":
            traffic = Traffic().__enter__()
            time.sleep(rng.uniform(1.0, 4.0))
    members, sessions = run_members(dev.pid)

    started = time.monotonic()
    if sig_name == "SIGINT":
        os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
    else:
        os.kill(dev.pid, signal.SIGTERM)
    try:
        outcome.exit_code = dev.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        outcome.note += "; it did not exit"
    outcome.stopped_in = time.monotonic() - started
    if traffic is not None:
        outcome.note += f"; {traffic.sent} requests sent"
        traffic.__exit__()

    # Whatever was started after the snapshot is in one of the run's sessions.
    members, sessions = run_members(dev.pid) if outcome.exit_code is None else (members, sessions)
    time.sleep(0.5)
    left = {pid for pid, (_, sid) in all_processes().items() if pid in members or sid in sessions}
    outcome.left = [f"{pid} {command(pid)}" for pid in sorted(left)]
    outcome.busy = sorted(busy_ports())
    if not outcome.ok:
        for sid in sessions:  # clean up so the next round can start
            subprocess.run(["pkill", "-KILL", "-s", str(sid)], check=False)
        wait_for(lambda: not busy_ports(), 30)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    if busy := busy_ports():
        print(f"check_dev_stop: ports busy before starting: {sorted(busy)}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    logs = Path(tempfile.mkdtemp(prefix="check-dev-stop-"))
    print(f"check_dev_stop: seed {args.seed}, output in {logs}")
    outcomes = []
    for round_no in range(1, args.rounds + 1):
        for moment in MOMENTS:
            for sig_name in SIGNALS:
                log = logs / f"{round_no}-{moment}-{sig_name}.log"
                outcome = one_stop(sig_name, moment, rng, log)
                outcomes.append(outcome)
                verdict = "ok  " if outcome.ok else "FAIL"
                print(
                    f"{verdict} round {round_no} {sig_name:7} {moment:7} stopped in "
                    f"{outcome.stopped_in:5.1f} s, exit {outcome.exit_code} {outcome.note}",
                    flush=True,
                )
                for line in outcome.left:
                    print(f"       left running: {line}")
                if outcome.busy:
                    print(f"       ports still busy: {outcome.busy}")
    failed = [o for o in outcomes if not o.ok]
    print(f"check_dev_stop: {len(outcomes) - len(failed)}/{len(outcomes)} stops clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
