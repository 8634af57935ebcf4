"""The deployed console's Content-Security-Policy (Hosting's header in firebase.json and each
page's meta tag) names no loopback emulator origin; the local stack's build adds them. Both come
from console-src/csp.mjs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
LOOPBACK = re.compile(r"127\.0\.0\.1|localhost|\[::1\]", re.IGNORECASE)
EMULATOR_ORIGINS = [
    "http://127.0.0.1:5551",  # Functions
    "http://127.0.0.1:9099",  # Auth
    "http://127.0.0.1:5561",  # Firestore
    "http://127.0.0.1:9199",  # Storage (images)
]
META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


def csp(expression: str) -> str:
    """The value of a JS expression over console-src/csp.mjs (imported as `m`)."""
    script = f"import('./console-src/csp.mjs').then((m) => process.stdout.write({expression}))"
    done = subprocess.run(
        [str(NODE), "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def committed_header() -> str:
    hosting = json.loads((ROOT / "firebase.json").read_text())["hosting"]
    (value,) = [
        header["value"]
        for rule in hosting["headers"]
        for header in rule["headers"]
        if header["key"] == "Content-Security-Policy"
    ]
    return str(value)


def directives(policy: str) -> dict[str, list[str]]:
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: sources for name, *sources in parts}


def test_the_committed_header_is_the_deployed_policy_and_names_no_loopback():
    header = committed_header()
    assert header == csp("m.headerPolicy()")
    assert not LOOPBACK.search(header), header
    assert directives(header)["frame-ancestors"] == ["'none'"]


def test_the_deployed_pages_meta_names_no_loopback(tmp_path):
    subprocess.run(
        ["node", "console-src/build.mjs", "--pages", str(tmp_path)], cwd=ROOT, check=True
    )
    for page in ("index.html", "report.html"):
        (meta,) = META.findall((tmp_path / page).read_text())
        assert not LOOPBACK.search(meta), (page, meta)
        assert meta == csp(f"m.pagePolicy({page!r})")
        assert "frame-ancestors" not in meta  # ignored in a meta tag


def test_the_local_stacks_policy_adds_the_emulators():
    header = directives(csp("m.headerPolicy({ emulators: true })"))
    meta = directives(csp("m.pagePolicy('index.html', { emulators: true })"))
    for policy in (header, meta):
        sources = policy["connect-src"] + policy["img-src"]
        assert all(origin in sources for origin in EMULATOR_ORIGINS), policy
    deployed = directives(committed_header())
    assert set(deployed["connect-src"]) < set(header["connect-src"])
