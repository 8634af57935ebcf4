"""Which of the emulator suite's ports are taken, and by which process.

Usage: python scripts/ports.py          # exit 1, naming each holder, when any port is busy
       python scripts/ports.py --list   # print the ports, one per line

The ports are the emulators of firebase.json plus the defaults firebase-tools uses for the
ones it does not list (hub, logging, the Firestore websocket, Eventarc) and Cloud Storage's
emulator (scripts/storage_emulator.sh). Holders are found by
matching /proc/net/tcp{,6} LISTEN sockets to /proc/<pid>/fd, the same as `ss -ltnp` (no
dependency); a process of another user shows as "unknown process" unless run as root.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# firebase-tools' defaults for emulators firebase.json does not configure.
DEFAULT_PORTS = {"hub": 4400, "logging": 4500, "firestore websocket": 9150, "eventarc": 9299}
# Started beside the suite, not by firebase-tools (scripts/storage_emulator.sh).
OWN_PORTS = {"storage (gcp-storage-emulator)": 9199}
LISTEN = "0A"


def suite_ports() -> dict[int, str]:
    """Port -> emulator name."""
    emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
    ports = {port: name for name, port in (DEFAULT_PORTS | OWN_PORTS).items()}
    for name, conf in emulators.items():
        if isinstance(conf, dict) and "port" in conf and conf.get("enabled", True):
            ports[int(conf["port"])] = name
    return ports


def listening_inodes() -> dict[int, set[str]]:
    """Port -> inodes of the sockets listening on it (IPv4 and IPv6, any address)."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                found.setdefault(port, set()).add(fields[9])
    return found


def holders(inodes: set[str]) -> list[str]:
    """`pid command` of every process with one of these socket inodes open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    result = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(os.readlink(f"/proc/{pid}/fd/{fd}") in wanted for fd in fds):
                continue
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        result.append(f"pid {pid}: {command[:160]}")
    return result


def busy_ports() -> dict[int, list[str]]:
    """Busy suite port -> its holders (empty list when the holder cannot be seen)."""
    listening = listening_inodes()
    return {port: holders(listening[port]) for port in suite_ports() if port in listening}


def main() -> int:
    ports = suite_ports()
    if sys.argv[1:] == ["--list"]:
        print("\n".join(str(port) for port in sorted(ports)))
        return 0
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
    return 1 if busy else 0


if __name__ == "__main__":
    sys.exit(main())
