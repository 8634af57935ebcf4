"""scripts/stack/emulator_worker_connections.cjs: the Functions emulator's calls to its workers.

The emulator forwards each call with http.request through Node's global agent, with the
caller's headers (`Connection: keep-alive` from most clients). With the module loaded (as
scripts/stack/firebase.sh loads it into firebase-tools), two calls in a row reach the worker on two
connections: none is kept idle for the worker's server to close under the next call. Without
it Node sends the second call on the first connection: the control run shows the test can fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support.scripts import SCRIPTS, load_script

# Two calls in a row the way the emulator forwards them (no agent given, the caller's
# keep-alive header passed on), to a server that counts the connections it accepted.
PROBE = r"""
const http = require('node:http');
const server = http.createServer((req, res) => res.end('ok'));
let accepted = 0;
server.on('connection', () => { accepted += 1; });
const call = (port) => new Promise((resolve, reject) => {
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/',
    headers: { connection: 'keep-alive' } }, (res) => {
    res.resume();
    res.on('end', resolve);
  });
  req.on('error', reject);
  req.end('{}');
});
server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  await call(port);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await call(port);
  console.log(JSON.stringify({ accepted }));
  server.closeAllConnections();
  server.close();
});
"""

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def probe(*node_args: str) -> dict[str, int]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, *node_args, "-e", PROBE], capture_output=True, text=True, timeout=30, check=True
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_with_the_module_every_call_has_a_connection_of_its_own():
    module = SCRIPTS / "stack" / "emulator_worker_connections.cjs"
    assert probe("--require", str(module)) == {"accepted": 2}


def test_without_it_node_keeps_the_connection_for_the_next_call():
    assert probe() == {"accepted": 1}


def test_the_emulator_stack_starts_firebase_tools_with_the_module():
    launcher = (SCRIPTS / "stack" / "firebase.sh").read_text()
    assert "--require" in launcher and "emulator_worker_connections.cjs" in launcher
    emulators = load_script("stack/emulators")
    assert emulators.FIREBASE == SCRIPTS / "stack" / "firebase.sh"
    assert "npx" not in (SCRIPTS / "stack" / "emulators.py").read_text()
