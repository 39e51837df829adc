"""Fixtures for the bittensor conformance suite: a dev chain of its own and @polkadot/api reads.

Run with `npm run test:bittensor` (it builds dist/ and the pinned virtualenv first).
"""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).with_name("polkadot-reference.mjs")
NETUID = 1
# Starting the chain takes well under a second; this bounds a broken build, not a slow machine.
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def endpoint():
    """A dev chain producing a block per transaction, as a builder's localnet would."""
    cli = ROOT / "dist" / "chain" / "devchain" / "cli.js"
    if not cli.exists():
        pytest.fail(f"{cli} is missing: run `npm run build` (npm run test:bittensor does)")
    port = _free_port()
    proc = subprocess.Popen(
        ["node", str(cli), "--port", str(port), "--instant"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line or proc.poll() is not None:
            break
    if "listening on" not in line:
        proc.kill()
        pytest.fail(f"dev chain did not start: {line!r}")
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def polkadot(mode: str, endpoint: str, netuid: int = NETUID) -> dict:
    """Runs the @polkadot/api side and returns its JSON."""
    out = subprocess.run(
        ["node", str(REFERENCE), mode, endpoint, str(netuid)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    if out.returncode != 0:
        raise AssertionError(f"polkadot-reference {mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def populated(endpoint):
    """The chain with two burned-registered miners and stake on two hotkeys of netuid 1."""
    return polkadot("populate", endpoint)


@pytest.fixture(scope="session")
def subtensor(endpoint):
    import bittensor as bt

    st = bt.Subtensor(network=endpoint)
    try:
        yield st
    finally:
        st.close()
