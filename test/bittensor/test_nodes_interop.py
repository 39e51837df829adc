"""Our nodes serve a subnet a builder made with btcli: `btcli wallet create`/`new-hotkey`, funding
from //Alice, `btcli subnets create`, `btcli subnets register` (burned) for a validator and a miner
and `btcli stake add` to the validator; then `node neurons/miner.js` and `node neurons/validator.js`
run unchanged on btcli's wallet files, and the weights the validator sets are what the SDK and
@polkadot/api read back.

Bounded: the chain advances only when the test asks (`dev_newBlock`), and the wait for weights
gives up after WEIGHTS_DEADLINE_S with the nodes' logs in the failure.
"""

import os
import signal
import subprocess
import time

import pytest
from btcli_flow import BuilderFlow, add_stake, create_subnet, create_wallets, fund_coldkey, register_neurons
from conftest import ROOT, _free_port, polkadot

CHUNK = 64 * 1024
# Rate limit (100 blocks) plus a couple of tempos at one block per 50 ms is a few seconds; this
# bounds a broken node, not a slow machine.
WEIGHTS_DEADLINE_S = 120
BLOCK_PAUSE_S = 0.05
# The subnet's lock cost, two burned registrations and the validator's stake, with room for fees
# (the builder flow's figure).
FUNDING_TAO = 3_000
VALIDATOR_STAKE_TAO = 100


def _start(script: str, args: list, log_path: str) -> subprocess.Popen:
    log = open(log_path, "w")  # closed by _stop
    proc = subprocess.Popen(
        ["node", script, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    proc.log = log
    return proc


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.log.close()
    return proc.returncode


@pytest.fixture(scope="module")
def btcli_built_subnet(endpoint, tmp_path_factory) -> BuilderFlow:
    home = tmp_path_factory.mktemp("interop-home")
    flow = BuilderFlow(endpoint=endpoint, home=home, wallets=home / "wallets")
    create_wallets(flow, ("validator", "miner"))
    fund_coldkey(flow, FUNDING_TAO)
    create_subnet(flow)
    register_neurons(flow, ("validator", "miner"))
    add_stake(flow, "validator", VALIDATOR_STAKE_TAO)
    return flow


def test_our_nodes_serve_a_subnet_built_with_btcli(endpoint, subtensor, btcli_built_subnet, tmp_path):
    flow = btcli_built_subnet
    netuid = flow.netuid
    validator_uid = subtensor.get_uid_for_hotkey_on_subnet(flow.hotkeys["validator"], netuid)
    miner_uid = subtensor.get_uid_for_hotkey_on_subnet(flow.hotkeys["miner"], netuid)
    work = str(tmp_path)
    # btcli's wallet files as they are: one coldkey ("owner") holding each node's hotkey.
    common = ["--netuid", str(netuid), "--subtensor.chain_endpoint", endpoint]
    common += ["--wallet.path", str(flow.wallets), "--wallet.name", flow.wallet_name, "--chunk_size", str(CHUNK)]
    miner_proc = _start(
        "neurons/miner.js",
        [*common, "--wallet.hotkey", "miner", "--db_root_path", os.path.join(work, "miner")]
        + ["--axon.ip", "127.0.0.1", "--axon.port", str(_free_port()), "--threshold", "0.01"],
        os.path.join(work, "miner.log"),
    )
    validator_proc = _start(
        "neurons/validator.js",
        [*common, "--wallet.hotkey", "validator", "--db_root_path", os.path.join(work, "validator")]
        + ["--neuron.challenge_interval", "0.2", "--neuron.challenge_timeout", "2"]
        + ["--neuron.epoch_length", "1"],
        os.path.join(work, "validator.log"),
    )

    def logs() -> str:
        return "".join(
            f"--- {name}\n{open(os.path.join(work, name)).read()[-3000:]}" for name in ("miner.log", "validator.log")
        )

    try:
        row = None
        deadline = time.monotonic() + WEIGHTS_DEADLINE_S
        while row is None and time.monotonic() < deadline:
            assert miner_proc.poll() is None and validator_proc.poll() is None, logs()
            subtensor.substrate.rpc_request("dev_newBlock", [{"count": 1}])
            row = dict(subtensor.weights(netuid)).get(validator_uid)
            time.sleep(BLOCK_PAUSE_S)
        assert row is not None, f"the validator set no weights within {WEIGHTS_DEADLINE_S} s\n{logs()}"
    finally:
        codes = [_stop(validator_proc), _stop(miner_proc)]

    # The validator scored the btcli-registered miner; the SDK and @polkadot/api read the same row.
    assert miner_uid in [dest for dest, _ in row]
    reference = polkadot("weights", endpoint, netuid)
    assert sorted([list(p) for p in row]) == sorted(reference["weights"][validator_uid])
    assert codes == [0, 0], logs()
