"""scripts/stack/ports.py: a listening port of the suite is busy, named with its holder."""

from __future__ import annotations

import os
import socket

from tests.support.scripts import load_script


def test_a_listening_suite_port_is_busy_until_closed(monkeypatch):
    ports = load_script("stack/ports")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        monkeypatch.setattr(ports, "suite_ports", lambda: {port: "an emulator"})
        assert ports.busy_ports() == {}  # bound, not yet listening
        listener.listen()
        busy = ports.busy_ports()
        assert list(busy) == [port]
        assert busy[port][0].startswith(f"pid {os.getpid()}: ")
        assert ports.report_busy() is True
    assert ports.busy_ports() == {}
    assert ports.report_busy() is False


def test_the_suite_ports_are_firebase_json_s_and_the_storage_emulator_s():
    ports = load_script("stack/ports").suite_ports()
    assert {4400, 5551, 5561, 8888, 9099, 9199} <= set(ports)
