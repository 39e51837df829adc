"""Our nodes serve a subnet the Python tools built: wallets from bittensor_wallet, the subnet,
registrations and stake from the bittensor SDK, then `node neurons/miner.js` and
`node neurons/validator.js` run unchanged on it, and the weights the validator sets are what the
SDK and @polkadot/api read back.

Bounded: the chain advances only when the test asks (`dev_newBlock`), and the wait for weights
gives up after WEIGHTS_DEADLINE_S with the nodes' logs in the failure.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest
from bittensor_wallet import Keypair, Wallet
from conftest import ROOT, _free_port, polkadot

CHUNK = 64 * 1024
# Rate limit (100 blocks) plus a couple of tempos at one block per 50 ms is a few seconds; this
# bounds a broken node, not a slow machine.
WEIGHTS_DEADLINE_S = 120
BLOCK_PAUSE_S = 0.05


def _ok(response):
    assert response.success, f"{response.extrinsic_function}: {response.message} {response.error}"
    return response


def _python_wallet(path: str, name: str) -> Wallet:
    """A wallet as `btcli wallet create --no-use-password` writes it (bittensor_wallet underneath)."""
    w = Wallet(name=name, hotkey="default", path=path)
    w.create_new_coldkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    w.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    return w


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
def python_built_subnet(endpoint, subtensor):
    import bittensor as bt

    path = tempfile.mkdtemp(prefix="interop-wallets-")
    alice = Keypair.create_from_uri("//Alice")
    funder = Wallet(name="alice", hotkey="default", path=path)
    funder.set_coldkey(alice, encrypt=False, overwrite=True)
    funder.set_coldkeypub(alice, overwrite=True)
    funder.set_hotkey(alice, encrypt=False, overwrite=True)
    owner, validator, miner = (_python_wallet(path, n) for n in ("owner", "validator", "miner"))
    for w, tao in [(owner, 2_000), (validator, 200), (miner, 10)]:
        _ok(subtensor.transfer(funder, w.coldkeypub.ss58_address, bt.Balance.from_tao(tao)))

    before = set(subtensor.get_all_subnets_netuid())
    _ok(subtensor.register_subnet(owner))
    (netuid,) = set(subtensor.get_all_subnets_netuid()) - before
    for w in (validator, miner):
        _ok(subtensor.burned_register(w, netuid))
    stake = subtensor.compose_call(
        "SubtensorModule",
        "add_stake",
        {"hotkey": validator.hotkey.ss58_address, "netuid": netuid, "amount_staked": bt.Balance.from_tao(100).rao},
    )
    _ok(subtensor.sign_and_send_extrinsic(call=stake, wallet=validator, sign_with="coldkey"))
    return {"netuid": netuid, "path": path, "validator": validator, "miner": miner}


def test_our_nodes_serve_a_subnet_built_with_the_sdk(endpoint, subtensor, python_built_subnet):
    netuid, path = python_built_subnet["netuid"], python_built_subnet["path"]
    validator, miner = python_built_subnet["validator"], python_built_subnet["miner"]
    validator_uid = subtensor.get_uid_for_hotkey_on_subnet(validator.hotkey.ss58_address, netuid)
    miner_uid = subtensor.get_uid_for_hotkey_on_subnet(miner.hotkey.ss58_address, netuid)
    work = tempfile.mkdtemp(prefix="interop-nodes-")
    common = ["--netuid", str(netuid), "--subtensor.chain_endpoint", endpoint, "--wallet.path", path]
    common += ["--wallet.hotkey", "default", "--chunk_size", str(CHUNK)]
    miner_proc = _start(
        "neurons/miner.js",
        [*common, "--wallet.name", "miner", "--db_root_path", os.path.join(work, "miner")]
        + ["--axon.ip", "127.0.0.1", "--axon.port", str(_free_port()), "--threshold", "0.01"],
        os.path.join(work, "miner.log"),
    )
    validator_proc = _start(
        "neurons/validator.js",
        [*common, "--wallet.name", "validator", "--db_root_path", os.path.join(work, "validator")]
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

    # The validator scored the SDK-registered miner; the SDK and @polkadot/api read the same row.
    assert miner_uid in [dest for dest, _ in row]
    reference = polkadot("weights", endpoint, netuid)
    assert sorted([list(p) for p in row]) == sorted(reference["weights"][validator_uid])
    assert codes == [0, 0], logs()
