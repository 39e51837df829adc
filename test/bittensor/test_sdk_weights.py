"""Weights set with the bittensor SDK, directly and through commit-reveal, read back alike by the SDK
and by @polkadot/api: a subnet builder's localnet flow on a subnet the SDK creates itself.

The dev chain starts subnets with commit-reveal off (subtensor starts them on and the SDK then
commits timelocked to a drand round, which a chain without drand pulses cannot reveal), so
`set_weights` sets weights directly; the commit-reveal part switches it on as the subnet owner and
uses the SDK's hash-based `commit_weights`/`reveal_weights`.
"""

import pytest
from bittensor_wallet import Keypair, Wallet
from conftest import polkadot

U16_MAX = 65535


def _wallet(path, name: str, coldkey: Keypair, hotkey: Keypair) -> Wallet:
    w = Wallet(name=name, hotkey="default", path=str(path))
    w.set_coldkey(coldkey, encrypt=False, overwrite=True)
    w.set_coldkeypub(coldkey, overwrite=True)
    w.set_hotkey(hotkey, encrypt=False, overwrite=True)
    return w


def _new_wallet(path, name: str) -> Wallet:
    return _wallet(
        path,
        name,
        Keypair.create_from_mnemonic(Keypair.generate_mnemonic()),
        Keypair.create_from_mnemonic(Keypair.generate_mnemonic()),
    )


def _ok(response):
    assert response.success, f"{response.extrinsic_function}: {response.message} {response.error}"
    return response


def _advance(subtensor, blocks: int):
    """Produces empty blocks (the dev chain's `dev_newBlock`), as a localnet's clock would."""
    subtensor.substrate.rpc_request("dev_newBlock", [{"count": blocks}])


def _storage(subtensor, name: str, params):
    value = subtensor.query_subtensor(name, params=params)
    return getattr(value, "value", value)


@pytest.fixture(scope="module")
def subnet(endpoint, subtensor, tmp_path_factory):
    """A subnet created by the SDK: owner (uid 0), a staked validator (uid 1) and two miners (uids 2, 3)."""
    import bittensor as bt

    path = tmp_path_factory.mktemp("wallets")
    alice = Keypair.create_from_uri("//Alice")
    funder = _wallet(path, "alice", alice, alice)
    owner, validator = _new_wallet(path, "owner"), _new_wallet(path, "validator")
    miners = [_new_wallet(path, f"miner{i}") for i in (1, 2)]
    for w, tao in [(owner, 2_000), (validator, 200), *[(m, 10) for m in miners]]:
        _ok(subtensor.transfer(funder, w.coldkeypub.ss58_address, bt.Balance.from_tao(tao)))

    before = set(subtensor.get_all_subnets_netuid())
    _ok(subtensor.register_subnet(owner))
    (netuid,) = set(subtensor.get_all_subnets_netuid()) - before
    for w in (validator, *miners):
        _ok(subtensor.burned_register(w, netuid))
    # The SDK's own staking call: plain add_stake (its default; safe_staking=True sends add_stake_limit).
    _ok(subtensor.add_stake(validator, netuid, validator.hotkey.ss58_address, bt.Balance.from_tao(100)))
    return {"netuid": netuid, "owner": owner, "validator": validator, "miners": miners}


def _uid(subtensor, wallet, netuid) -> int:
    return subtensor.get_uid_for_hotkey_on_subnet(wallet.hotkey.ss58_address, netuid)


def _wait_for_rate_limit(subtensor, netuid, uid):
    """Advances past WeightsSetRateLimit since the uid's last update: the SDK checks it first."""
    gap = subtensor.weights_rate_limit(netuid) - subtensor.blocks_since_last_update(netuid, uid) + 1
    if gap > 0:
        _advance(subtensor, gap)


def _next_epoch(subtensor, netuid):
    start = _storage(subtensor, "SubnetEpochIndex", [netuid])
    while _storage(subtensor, "SubnetEpochIndex", [netuid]) == start:
        _advance(subtensor, 1)


def _sdk_rows(subtensor, netuid) -> dict:
    return {uid: sorted([list(p) for p in row]) for uid, row in subtensor.weights(netuid)}


def _reference_rows(reference) -> dict:
    return {uid: sorted(row) for uid, row in enumerate(reference["weights"]) if row}


def test_serve_axon_is_stored(endpoint, subtensor, subnet):
    import bittensor as bt

    miner = subnet["miners"][0]
    axon = bt.Axon(wallet=miner, port=8091, external_ip="10.1.2.3", external_port=8091)
    _ok(subtensor.serve_axon(subnet["netuid"], axon))
    uid = _uid(subtensor, miner, subnet["netuid"])
    assert polkadot("weights", endpoint, subnet["netuid"])["axons"][uid] == {
        "ip": str((10 << 24) + (1 << 16) + (2 << 8) + 3),
        "port": 8091,
        "ipType": 4,
    }
    info = subtensor.metagraph(subnet["netuid"]).axons[uid]
    assert (info.ip, info.port, info.ip_type) == ("10.1.2.3", 8091, 4)


def test_set_weights_directly(endpoint, subtensor, subnet):
    netuid, validator = subnet["netuid"], subnet["validator"]
    assert not subtensor.commit_reveal_enabled(netuid)
    # The validator's permit comes with the first epoch after its stake.
    _next_epoch(subtensor, netuid)
    uid = _uid(subtensor, validator, netuid)
    miner_uids = [_uid(subtensor, m, netuid) for m in subnet["miners"]]
    assert polkadot("weights", endpoint, netuid)["validatorPermit"][uid]
    _wait_for_rate_limit(subtensor, netuid, uid)

    _ok(subtensor.set_weights(validator, netuid, uids=miner_uids, weights=[0.25, 0.75]))

    reference = polkadot("weights", endpoint, netuid)
    assert reference["weights"][uid] == [[miner_uids[0], U16_MAX // 3], [miner_uids[1], U16_MAX]]
    assert _sdk_rows(subtensor, netuid) == _reference_rows(reference)


def test_commit_reveal_with_the_sdk(endpoint, subtensor, subnet):
    netuid, validator, owner = subnet["netuid"], subnet["validator"], subnet["owner"]
    # The subnet owner switches commit-reveal on, as `btcli sudo set` would.
    call = subtensor.compose_call(
        "AdminUtils", "sudo_set_commit_reveal_weights_enabled", {"netuid": netuid, "enabled": True}
    )
    _ok(subtensor.sign_and_send_extrinsic(call=call, wallet=owner, sign_with="coldkey"))
    assert subtensor.commit_reveal_enabled(netuid)

    uid = _uid(subtensor, validator, netuid)
    miner_uids = [_uid(subtensor, m, netuid) for m in subnet["miners"]]
    # The commit hashes the u16 values as given, and reveal_weights max-upscales before it sends,
    # so the SDK's pattern is to commit values already scaled to a maximum of 65535.
    salt, weights = [11, 22, 33], [U16_MAX, U16_MAX * 2 // 3]
    _wait_for_rate_limit(subtensor, netuid, uid)
    # Commit at the start of an epoch, so the early reveal a block later is in the same epoch
    # whatever block the earlier tests left the chain at.
    _next_epoch(subtensor, netuid)
    _ok(
        subtensor.commit_weights(
            validator, netuid, salt=salt, uids=miner_uids, weights=weights, wait_for_inclusion=True
        )
    )
    commits = _storage(subtensor, "WeightCommits", [netuid, validator.hotkey.ss58_address])
    assert len(commits) == 1

    # Revealing in the commit's own epoch is refused; one epoch later it is accepted.
    early = subtensor.reveal_weights(validator, netuid, uids=miner_uids, weights=weights, salt=salt, max_attempts=1)
    assert not early.success and "RevealTooEarly" in str(early.message)
    _next_epoch(subtensor, netuid)
    _ok(subtensor.reveal_weights(validator, netuid, uids=miner_uids, weights=weights, salt=salt))

    reference = polkadot("weights", endpoint, netuid)
    assert reference["weights"][uid] == [[miner_uids[0], U16_MAX], [miner_uids[1], U16_MAX * 2 // 3]]
    assert _sdk_rows(subtensor, netuid) == _reference_rows(reference)


def test_metagraph_after_epochs_matches_polkadot(endpoint, subtensor, subnet):
    netuid = subnet["netuid"]
    _next_epoch(subtensor, netuid)
    _next_epoch(subtensor, netuid)
    reference = polkadot("weights", endpoint, netuid)
    metagraph = subtensor.metagraph(netuid, lite=False)
    miner_uids = [_uid(subtensor, m, netuid) for m in subnet["miners"]]
    validator_uid = _uid(subtensor, subnet["validator"], netuid)

    # The revealed weights (0.6 : 0.4) earn the miners incentive, and the validator dividends.
    incentive = [v / U16_MAX for v in reference["incentive"]]
    dividends = [v / U16_MAX for v in reference["dividends"]]
    assert incentive[miner_uids[0]] > incentive[miner_uids[1]] > 0
    assert dividends[validator_uid] > 0
    assert [round(v, 4) for v in metagraph.I.tolist()] == [round(v, 4) for v in incentive]
    assert [round(v, 4) for v in metagraph.D.tolist()] == [round(v, 4) for v in dividends]
    assert metagraph.last_update.tolist() == reference["lastUpdate"]
    assert metagraph.validator_permit.tolist() == reference["validatorPermit"]

    # Full metagraph weights: each row normalised to sum 1 over the u16 values @polkadot/api reads.
    for uid, row in enumerate(reference["weights"]):
        total = sum(w for _, w in row)
        for dest, w in row:
            assert metagraph.W[uid][dest].item() == pytest.approx(w / total, abs=1e-4)
    neurons = subtensor.neurons(netuid)
    assert {n.uid: sorted([list(p) for p in n.weights]) for n in neurons if n.weights} == _reference_rows(reference)
