"""Start the local emulator stack and stop everything it started (`make dev`, every test run).

Usage: python scripts/stack/emulators.py dev
       python scripts/stack/emulators.py exec <env profile> <emulators> <command...>
       python scripts/stack/emulators.py seed

`dev` runs the steps of DEV_STEPS until a stop signal; `exec` runs <command> inside
`firebase emulators:exec` and exits with its status; `seed` seeds a running stack as `dev` does,
with the admin key. A stop SIGTERMs firebase-tools, then kills every descendant left (it leaves
Python workers and detached Java emulators behind); this process is their subreaper, so orphans
stay in its tree. See docs/architecture.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    import requests

# requests and env_local (the functions' config) are imported where used: they take a while to
# load, and a stop signal must be handled from the first moments on.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ports
import toolchain

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PROJECT = "feraset-imagen"
BASE = f"http://127.0.0.1:5551/{PROJECT}/us-central1"
DEV_EMULATORS = "functions,firestore,tasks,pubsub,hosting,auth"
EXPORT = "docs/firestore-export"
FIREBASE = HERE / "firebase.sh"
# firebase.json as the local stack serves it (console-src/build.mjs --emulators writes it).
CONFIG = ["--config", "firebase.emulators.local.json"]
STORAGE_HOST = "http://127.0.0.1:9199"
FIRESTORE_HOST = "127.0.0.1:5561"
STORAGE = [
    sys.executable, str(HERE / "storage_emulator_in_memory.py"), "start", "--host", "127.0.0.1",
    "--port", "9199", "--in-memory", "--default-bucket", f"{PROJECT}.appspot.com", "--quiet",
]  # fmt: skip
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_SECONDS = 30.0
READY_SECONDS = 180
PR_SET_CHILD_SUBREAPER = 36
# A signed checkout.session.completed to stripeWebhook, as `stripe trigger` would send it.
TEST_PURCHASE = (
    "functions/venv/bin/python scripts/stripe_event.py"
    " checkout-completed --user arda --pack pack_200"
)
BANNER = f"""
  Feraset Imagen API is running (Ctrl-C to stop)
    Web UI     http://127.0.0.1:8888
    Functions  {BASE}/<functionName>
    Storage    http://127.0.0.1:9199 (generated images)
    Sign in    <userId>@example.com (e.g. arda@example.com) or admin@example.com,
               password feraset-demo (Auth emulator accounts; the uid is the userId)
    Try        curl "{BASE}/getUserCredits?userId=arda"
    Buy        {TEST_PURCHASE}
               (a signed test purchase to stripeWebhook; nothing reaches Stripe)
"""


class StartFailed(Exception):
    """The stack could not start; the message says why."""


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Stack:
    """The processes of one run: started in sessions of their own, all stopped by stop()."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.firebase: subprocess.Popen[bytes] | None = None
        self.started: list[subprocess.Popen[bytes]] = []
        self.recorded: set[psutil.Process] = set()

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.signal is None:
            self.signal = signum

    @property
    def stop_requested(self) -> bool:
        return self.signal is not None

    def start(self, command: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.started.append(process)
        return process

    def start_emulators(self, firebase_args: list[str], env: Mapping[str, str]) -> None:
        self.start(STORAGE, env)
        self.firebase = self.start([str(FIREBASE), *firebase_args], env)

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False as soon as a stop is requested."""
        self.reap_orphans()
        deadline = time.monotonic() + seconds
        while not self.stop_requested:
            if time.monotonic() >= deadline:
                return True
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return False

    def wait(self, process: subprocess.Popen[bytes]) -> int | None:
        """The exit status of `process`, or None when a stop is requested first."""
        while process.poll() is None:
            if not self.sleep(0.5):
                return None
        return process.returncode

    def reap_orphans(self) -> None:
        """Collect exited orphans re-parented to us (the subreaper), not our own children."""
        own = {process.pid for process in self.started}
        for child in psutil.Process().children():
            if child.pid not in own and not alive(child):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(child.pid, os.WNOHANG)

    def record(self) -> None:
        """Add every live descendant to the set stop() kills (orphans included: we are their
        subreaper), before anything is stopped and again while firebase-tools shuts down."""
        self.recorded |= set(psutil.Process().children(recursive=True))

    def stop(self) -> None:
        """firebase-tools first with SIGTERM, then every process of the run with SIGKILL."""
        self.record()
        firebase = self.firebase
        if firebase is not None and firebase.poll() is None:
            firebase.terminate()
            deadline = time.monotonic() + GRACE_SECONDS
            while firebase.poll() is None and time.monotonic() < deadline:
                self.record()
                time.sleep(0.2)
        for _ in range(5):
            self.record()
            left = [p for p in self.recorded if alive(p)]
            if not left:
                break
            for process in left:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            for started in self.started:  # reaped here, they keep their exit status
                with contextlib.suppress(subprocess.TimeoutExpired):
                    started.wait(timeout=5)
            psutil.wait_procs(left, timeout=5)


def become_subreaper() -> None:
    """Orphans among our descendants are re-parented to this process instead of init, so every
    process the run started stays in its tree, whoever exits first (Linux)."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def environment(profile: str) -> dict[str, str]:
    """Write functions/.env.local for `profile` and the local Hosting (pages and config that add
    the emulators' origins to the CSP); the environment for firebase-tools."""
    import env_local

    env_local.write(profile, os.environ)
    compile_functions()
    env = os.environ | toolchain.exports()
    build = subprocess.run(
        ["node", str(ROOT / "console-src/build.mjs"), "--emulators"], cwd=ROOT, env=env, check=False
    )
    if build.returncode != 0:
        raise StartFailed("could not build the local Hosting pages (console-src/build.mjs)")
    return env


def compile_functions() -> None:
    """Byte-compile the functions' source, as pip does for installed packages: the emulator
    starts a Python process per concurrent call, and where PYTHONDONTWRITEBYTECODE is set each
    would compile every module it imports again (about 140 ms for all of them)."""
    import compileall
    import re

    compileall.compile_dir(ROOT / "functions", rx=re.compile(r"[/\\](venv|tests)[/\\]"), quiet=1)


def get(path: str, timeout: float) -> requests.Response | None:
    import requests

    try:
        return requests.get(f"{BASE}/{path}", timeout=timeout)
    except requests.RequestException:
        return None


def healthy() -> bool:
    """`health` answers 200 (before the functions load, the emulator answers it with a 404)."""
    answer = get("health", timeout=2)
    return answer is not None and answer.ok


# `make dev`, step by step. Each step runs only when no stop was requested before it, and a
# long step polls Stack.stop_requested itself.


def check_ports(stack: Stack) -> None:
    """Every port of the suite is free (else name who holds it)."""
    if ports.report_busy():
        raise StartFailed("make dev: the emulator suite's ports are busy")


def start_emulators(stack: Stack) -> None:
    """firebase-tools with the reference data of docs/firestore-export when there is one."""
    env = environment("dev")
    firebase_args = [*CONFIG, "emulators:start", "--project", PROJECT, "--only", DEV_EMULATORS]
    if (ROOT / EXPORT / "firebase-export-metadata.json").is_file():
        firebase_args.append(f"--import={EXPORT}")
    if not stack.stop_requested:
        stack.start_emulators(firebase_args, env)


def wait_until_ready(stack: Stack) -> None:
    """The functions emulator answers `health`."""
    assert stack.firebase is not None
    for _ in range(READY_SECONDS):
        if healthy() or stack.stop_requested:
            return
        if stack.firebase.poll() is not None:
            raise StartFailed("emulators exited during start-up")
        stack.sleep(1)
    if not healthy():
        raise StartFailed(f"functions emulator not ready after {READY_SECONDS} s")


def admin_headers() -> dict[str, str]:
    """The stack's admin key (functions/.secret.local): what opens the admin functions when the
    stack requires auth (REQUIRE_AUTH=true); the open mode ignores it."""
    import env_local

    return {"Authorization": f"Bearer {env_local.admin_key()}"}


def seeded() -> bool:
    """The seed users are there (e.g. from the import): listUsers names `arda`."""
    import requests

    try:
        answer = requests.get(f"{BASE}/listUsers", headers=admin_headers(), timeout=30)
        users = answer.json().get("users", []) if answer.ok else []
    except (requests.RequestException, ValueError):
        return False
    return any(user.get("userId") == "arda" for user in users)


def seed_database(stack: Stack) -> bool:
    """POST seed_database with the admin key; whether it answered 2xx (its answer printed)."""
    print("Seeding reference data and users...")
    answers: list[requests.Response] = []

    def seed() -> None:
        import requests

        with contextlib.suppress(requests.RequestException):
            answers.append(
                requests.post(
                    f"{BASE}/seed_database", json={}, headers=admin_headers(), timeout=120
                )
            )

    seeder = threading.Thread(target=seed, daemon=True)  # a stop must not wait 2 minutes
    seeder.start()
    while seeder.is_alive() and stack.sleep(0.5):
        pass
    if not answers:
        print("seed_database: no answer")
        return False
    print(f"seed_database: HTTP {answers[0].status_code} {answers[0].text}")
    return answers[0].ok


def seed_reference_data(stack: Stack) -> None:
    """Seed through seed_database, unless the import already holds the seed users."""
    if not seeded():
        seed_database(stack)


def seed_auth_accounts(stack: Stack) -> int | None:
    """The Auth emulator starts empty every time: the seed users' sign-in accounts (and the
    admin's); its exit status. A failure does not stop the stack."""
    env = os.environ | {"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}
    return stack.wait(stack.start([sys.executable, str(ROOT / "scripts/data/seed_auth.py")], env))


def prepare_first_run(stack: Stack) -> None:
    """The seeded requests' pictures and the seeded anomalous week's report, with the values
    the functions have (scripts/data/first_run.py). A failure does not stop the stack."""
    import env_local

    env = os.environ | env_local.profile_values("dev", os.environ)
    env |= {"FIRESTORE_EMULATOR_HOST": FIRESTORE_HOST, "GCLOUD_PROJECT": PROJECT}
    print("Storing the seeded pictures and the seeded week's report...")
    stack.wait(stack.start([sys.executable, str(ROOT / "scripts/data/first_run.py")], env))


def print_banner(stack: Stack) -> None:
    print(BANNER)


DEV_STEPS: list[Callable[[Stack], None]] = [
    check_ports,
    start_emulators,
    wait_until_ready,
    seed_reference_data,
    seed_auth_accounts,
    prepare_first_run,
    print_banner,
]


def dev(stack: Stack, _args: argparse.Namespace) -> int:
    """Run DEV_STEPS, then until the emulators exit; a requested stop is a success."""
    for step in DEV_STEPS:
        if stack.stop_requested:
            return 0
        step(stack)
    assert stack.firebase is not None
    stack.wait(stack.firebase)
    return 0


def run_seed(stack: Stack, _args: argparse.Namespace) -> int:
    """Seed a running stack as `make dev` does, always: 0 when both steps succeeded."""
    ok = seed_database(stack)
    return 0 if seed_auth_accounts(stack) == 0 and ok else 1


def run_exec(stack: Stack, args: argparse.Namespace) -> int:
    """The command's exit status, or 128 + the signal that stopped the run."""
    # The command reaches Cloud Storage through this (the functions through .env.local).
    env = environment(args.profile) | {"STORAGE_EMULATOR_HOST": STORAGE_HOST}
    command = " ".join(args.command)
    if not stack.stop_requested:
        stack.start_emulators(
            ["--project", PROJECT, *CONFIG, "emulators:exec", "--only", args.emulators, command],
            env,
        )
    status = None if stack.firebase is None else stack.wait(stack.firebase)
    if status is None:
        assert stack.signal is not None
        return 128 + stack.signal
    return status


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(required=True)
    modes.add_parser("dev", help="run the stack in the foreground").set_defaults(run=dev)
    run = modes.add_parser("exec", help="run a command inside emulators:exec")
    run.add_argument("profile", help="env_local.py's profile: dev, test, bench or load")
    run.add_argument("emulators", help="comma-separated, as firebase --only takes them")
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(run=run_exec)
    seed = modes.add_parser("seed", help="seed a running stack (data and sign-in accounts)")
    seed.set_defaults(run=run_seed)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    stack = Stack()
    for signum in STOP_SIGNALS:
        signal.signal(signum, stack.on_signal)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    args = parse(argv)
    become_subreaper()
    try:
        return int(args.run(stack, args))
    except StartFailed as failed:
        print(failed, file=sys.stderr)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
