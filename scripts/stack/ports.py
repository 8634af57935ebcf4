"""Which of the emulator suite's ports are taken, and by which process.

Usage: python scripts/stack/ports.py          # exit 1, naming each holder, when any port is busy
       python scripts/stack/ports.py --list   # print the ports, one per line

The ports are the emulators of firebase.json plus the defaults firebase-tools uses for the
ones it does not list (hub, logging, the Firestore websocket, Eventarc) and the Cloud Storage
emulator that emulators.py starts beside them. A process of another user shows as "unknown
process" unless run as root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
# firebase-tools' defaults for emulators firebase.json does not configure.
DEFAULT_PORTS = {"hub": 4400, "logging": 4500, "firestore websocket": 9150, "eventarc": 9299}
# Started beside the suite, not by firebase-tools (emulators.py).
OWN_PORTS = {"storage (gcp-storage-emulator)": 9199}


def suite_ports() -> dict[int, str]:
    """Port -> emulator name."""
    emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
    ports = {port: name for name, port in (DEFAULT_PORTS | OWN_PORTS).items()}
    for name, conf in emulators.items():
        if isinstance(conf, dict) and "port" in conf and conf.get("enabled", True):
            ports[int(conf["port"])] = name
    return ports


def holder(pid: int) -> str:
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        command = "?"
    return f"pid {pid}: {command[:160]}"


def busy_ports() -> dict[int, list[str]]:
    """Busy suite port (listening, IPv4 or IPv6, any address) -> its holders (empty list when
    the holder cannot be seen)."""
    ports = suite_ports()
    busy: dict[int, set[int]] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports:
            pids = busy.setdefault(conn.laddr.port, set())
            if conn.pid is not None:
                pids.add(conn.pid)
    return {port: [holder(pid) for pid in sorted(pids)] for port, pids in busy.items()}


def report_busy() -> bool:
    """Name each busy port's holders on stderr; whether any port was busy."""
    ports = suite_ports()
    busy = busy_ports()
    for port, who in sorted(busy.items()):
        print(f"port {port} ({ports[port]}) is in use by:", file=sys.stderr)
        for line in who or ["unknown process (see `ss -ltnp`)"]:
            print(f"    {line}", file=sys.stderr)
    if busy:
        print(
            "Stop that process (an earlier `make dev` or test run?) and try again.",
            file=sys.stderr,
        )
    return bool(busy)


def main() -> int:
    if sys.argv[1:] == ["--list"]:
        print("\n".join(str(port) for port in sorted(suite_ports())))
        return 0
    return 1 if report_busy() else 0


if __name__ == "__main__":
    sys.exit(main())
