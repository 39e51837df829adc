"""A subnet builder's localnet flow, driven through btcli alone, checked against @polkadot/api.

The flow is what a builder types against subtensor's localnet: create a wallet, fund it from the
dev account (//Alice), create a subnet with an identity, start it, register a validator and two
miners (burned, in btcli's default safe mode), stake to the validator and take some back (safe
staking, btcli's default), serve a miner's axon and set weights with the SDK (directly, then by
commit-reveal) as subnet code does, let epochs pay out, then read the subnet back with `subnets
show`, `subnets metagraph`, `wallet overview`, `stake list`, `subnets hyperparameters` and the
SDK's metagraph. Every value read is compared with what @polkadot/api reads from the same chain.

MEV protection is turned off (`--no-mev-protection`): the dev chain has no MevShield pallet.
"""

import pytest

from btcli_flow import (
    IDENTITY,
    BuilderFlow,
    add_stake,
    create_subnet,
    create_wallets,
    fund_coldkey,
    register_neurons,
)
from conftest import polkadot

FUNDING_TAO = 3000
VALIDATOR_STAKE_TAO = 100
UNSTAKE_TAO = 10
# Staked to the first miner with --unsafe (plain add_stake), distinct from the validator's stake.
MINER_STAKE_TAO = 7
MINERS = ("miner1", "miner2")
RAO = 1_000_000_000
U16_MAX = 65535
AXON_IP = "10.1.2.3"
# Set directly with the SDK (normalised to u16 so the largest is 65535) ...
DIRECT_WEIGHTS = [0.25, 0.75]
# ... then committed and revealed, as u16 values already scaled to a maximum of 65535 (the SDK's
# reveal_weights max-upscales before it sends, so the commit must hash the scaled values).
REVEALED_WEIGHTS = [U16_MAX, U16_MAX // 2]


def stake(flow: BuilderFlow) -> None:
    """btcli's default safe staking (add_stake_limit, then remove_stake_limit for part of it) on
    the validator, and a plain add_stake to a miner with --unsafe."""
    validator = flow.hotkeys["validator"]
    flow.extrinsics["stake add"] = add_stake(flow, "validator", VALIDATOR_STAKE_TAO)

    removed = flow.btcli_json("stake", "remove", *flow.on_subnet("validator", "--amount", str(UNSTAKE_TAO)))
    assert [(r["netuid"], r["hotkey_ss58"], r["success"]) for r in removed] == [(flow.netuid, validator, True)]
    flow.extrinsics["stake remove"] = removed[0]["extrinsic_identifier"]

    flow.extrinsics["stake add --unsafe"] = add_stake(flow, MINERS[0], MINER_STAKE_TAO, "--unsafe")

    read = polkadot("read", flow.endpoint, flow.netuid)
    flow.staked = dict(zip(read["hotkeys"], map(int, read["stakes"])))


def _advance(subtensor, blocks: int) -> None:
    """Produces empty blocks (the dev chain's `dev_newBlock`), as a localnet's clock would."""
    subtensor.substrate.rpc_request("dev_newBlock", [{"count": blocks}])


def _next_epoch(subtensor, netuid: int) -> None:
    def index():
        value = subtensor.query_subtensor("SubnetEpochIndex", params=[netuid])
        return getattr(value, "value", value)

    start = index()
    while index() == start:
        _advance(subtensor, 1)


def _ok(response):
    assert response.success, f"{response.extrinsic_function}: {response.message} {response.error}"
    return response


def set_weights(flow: BuilderFlow) -> None:
    """The validator's work, done the way subnet code does it: with the SDK and the wallets btcli
    made. A miner serves its axon; the validator sets weights directly, then the owner switches
    commit-reveal on and the validator commits and reveals; then two epochs pay out."""
    import bittensor as bt
    from bittensor_wallet import Wallet

    def wallet(hotkey: str) -> Wallet:
        return Wallet(name=flow.wallet_name, hotkey=hotkey, path=str(flow.wallets))

    subtensor = bt.Subtensor(network=flow.endpoint)
    try:
        netuid = flow.netuid
        miner = wallet(MINERS[0])
        axon = bt.Axon(wallet=miner, port=8091, external_ip=AXON_IP, external_port=8091)
        _ok(subtensor.serve_axon(netuid, axon))

        validator = wallet("validator")
        uid = subtensor.get_uid_for_hotkey_on_subnet(flow.hotkeys["validator"], netuid)
        miner_uids = [subtensor.get_uid_for_hotkey_on_subnet(flow.hotkeys[m], netuid) for m in MINERS]
        # The validator's permit comes with the first epoch after its stake; the SDK sends weights
        # only once WeightsSetRateLimit blocks have passed since the hotkey's last update.
        _next_epoch(subtensor, netuid)
        gap = subtensor.weights_rate_limit(netuid) - subtensor.blocks_since_last_update(netuid, uid) + 1
        if gap > 0:
            _advance(subtensor, gap)
        _ok(subtensor.set_weights(validator, netuid, uids=miner_uids, weights=DIRECT_WEIGHTS))
        flow.weights["direct"] = polkadot("weights", flow.endpoint, netuid)["weights"][uid]

        enable = subtensor.compose_call(
            "AdminUtils", "sudo_set_commit_reveal_weights_enabled", {"netuid": netuid, "enabled": True}
        )
        _ok(subtensor.sign_and_send_extrinsic(call=enable, wallet=wallet("default"), sign_with="coldkey"))
        gap = subtensor.weights_rate_limit(netuid) - subtensor.blocks_since_last_update(netuid, uid) + 1
        if gap > 0:
            _advance(subtensor, gap)
        salt = [5, 6, 7]
        _ok(subtensor.commit_weights(validator, netuid, salt=salt, uids=miner_uids, weights=REVEALED_WEIGHTS))
        _next_epoch(subtensor, netuid)
        _ok(subtensor.reveal_weights(validator, netuid, uids=miner_uids, weights=REVEALED_WEIGHTS, salt=salt))
        flow.weights["revealed"] = polkadot("weights", flow.endpoint, netuid)["weights"][uid]
        _next_epoch(subtensor, netuid)
        _next_epoch(subtensor, netuid)
        flow.weights["uids"] = {"validator": uid, "miners": miner_uids}
    finally:
        subtensor.close()


@pytest.fixture(scope="module")
def flow(endpoint, tmp_path_factory):
    home = tmp_path_factory.mktemp("builder-home")
    made = BuilderFlow(endpoint=endpoint, home=home, wallets=home / "wallets")
    create_wallets(made, ("validator", *MINERS))
    fund_coldkey(made, FUNDING_TAO)
    create_subnet(made)
    register_neurons(made, ("validator", *MINERS))
    stake(made)
    set_weights(made)
    return made


@pytest.fixture(scope="module")
def chain_view(flow):
    return polkadot("subnet", flow.endpoint, flow.netuid)


def test_btcli_sends_subtensors_calls_in_its_default_safe_modes(flow):
    sent = polkadot("calls", flow.endpoint, ",".join(flow.extrinsics.values()))
    by_step = {step: sent[ident] for step, ident in flow.extrinsics.items()}
    assert by_step == {
        "subnets create": "subtensorModule.registerNetworkWithIdentity",
        "subnets register validator": "subtensorModule.registerLimit",
        **{f"subnets register {m}": "subtensorModule.registerLimit" for m in MINERS},
        "stake add": "subtensorModule.addStakeLimit",
        "stake remove": "subtensorModule.removeStakeLimit",
        "stake add --unsafe": "subtensorModule.addStake",
    }


def test_subnet_is_created_with_its_identity_and_owner(flow, chain_view):
    assert chain_view["owner"] == flow.coldkey
    identity = chain_view["identity"]
    assert identity["subnetName"] == IDENTITY["--subnet-name"]
    assert identity["githubRepo"] == IDENTITY["--github-repo"]
    assert identity["additional"] == IDENTITY["--additional-info"]


def test_neurons_are_registered_in_order_with_the_safe_stake(flow, chain_view):
    # The owner hotkey takes uid 0 at creation; the others follow in registration order.
    assert chain_view["hotkeys"] == [flow.hotkeys[n] for n in ("default", "validator", *MINERS)]
    assert chain_view["coldkeys"] == [flow.coldkey] * 4
    assert flow.staked[flow.hotkeys["validator"]] == (VALIDATOR_STAKE_TAO - UNSTAKE_TAO) * RAO
    assert flow.staked[flow.hotkeys[MINERS[0]]] == MINER_STAKE_TAO * RAO


def test_subnets_show_and_metagraph_match_the_chain(flow, chain_view):
    for command in ("show", "metagraph"):
        shown = flow.btcli_json("subnets", command, "--netuid", str(flow.netuid), *flow.network, "--no-prompt")
        assert shown["netuid"] == flow.netuid
        by_uid = {row["uid"]: row for row in shown["uids"]}
        assert sorted(by_uid) == chain_view["uids"]
        for uid, hotkey, coldkey, stake in zip(
            chain_view["uids"], chain_view["hotkeys"], chain_view["coldkeys"], chain_view["stakes"]
        ):
            assert by_uid[uid]["hotkey"] == hotkey
            assert by_uid[uid]["coldkey"] == coldkey
            assert round(by_uid[uid]["alpha_stake"], 6) == round(int(stake) / RAO, 6)


def test_wallet_overview_lists_every_hotkey_with_its_uid_and_stake(flow, chain_view):
    overview = flow.btcli_json("wallet", "overview", *flow.wallet(), *flow.network)
    [subnet] = [s for s in overview["subnets"] if s["netuid"] == flow.netuid]
    assert subnet["name"] == IDENTITY["--subnet-name"]
    neurons = {n["hotkey_ss58"]: n for n in subnet["neurons"]}
    assert set(neurons) == set(chain_view["hotkeys"])
    for uid, hotkey, stake in zip(chain_view["uids"], chain_view["hotkeys"], chain_view["stakes"]):
        assert neurons[hotkey]["uid"] == uid
        assert round(neurons[hotkey]["stake"], 6) == round(int(stake) / RAO, 6)
    assert round(overview["total_balance"], 6) == round(int(chain_view["ownerBalance"]) / RAO, 6)


def test_stake_list_shows_the_owners_stake(flow, chain_view):
    listed = flow.btcli_json("stake", "list", *flow.wallet(), *flow.network, "--no-prompt")
    staked = {
        hotkey: rows for hotkey, rows in listed["stake_info"].items() if any(r["netuid"] == flow.netuid for r in rows)
    }
    expected = {h: int(s) for h, s in chain_view["ownerStakes"].items() if int(s) > 0}
    assert set(staked) == set(expected)
    for hotkey, rows in staked.items():
        [row] = [r for r in rows if r["netuid"] == flow.netuid]
        assert round(row["stake_value"], 6) == round(expected[hotkey] / RAO, 6)
        assert row["registered"] is True


def test_subnets_hyperparameters_match_storage(flow, chain_view):
    listed = flow.btcli_json("subnets", "hyperparameters", "--netuid", str(flow.netuid), *flow.network)
    shown = {row["hyperparameter"]: row["value"] for row in listed}
    for name, value in chain_view["hyperparameters"].items():
        assert shown[name] == value, name


def test_weights_set_directly_and_by_commit_reveal_are_the_validators_rows(flow):
    miners = flow.weights["uids"]["miners"]
    assert flow.weights["direct"] == [[miners[0], U16_MAX // 3], [miners[1], U16_MAX]]
    assert flow.weights["revealed"] == [[miners[0], U16_MAX], [miners[1], U16_MAX // 2]]


def test_metagraph_after_epochs_matches_the_chain_in_the_sdk_and_btcli(flow):
    import bittensor as bt

    reference = polkadot("weights", flow.endpoint, flow.netuid)
    miners, validator = flow.weights["uids"]["miners"], flow.weights["uids"]["validator"]
    incentive = [v / U16_MAX for v in reference["incentive"]]
    dividends = [v / U16_MAX for v in reference["dividends"]]
    # The revealed weights (2 : 1) earn the miners incentive in that order and the validator dividends.
    assert incentive[miners[0]] > incentive[miners[1]] > 0
    assert dividends[validator] > 0
    assert reference["axons"][miners[0]]["ipType"] == 4

    subtensor = bt.Subtensor(network=flow.endpoint)
    try:
        metagraph = subtensor.metagraph(flow.netuid, lite=False)
    finally:
        subtensor.close()
    assert [round(v, 4) for v in metagraph.I.tolist()] == [round(v, 4) for v in incentive]
    assert [round(v, 4) for v in metagraph.D.tolist()] == [round(v, 4) for v in dividends]
    assert metagraph.axons[miners[0]].ip == AXON_IP
    for uid, row in enumerate(reference["weights"]):
        total = sum(w for _, w in row)
        for dest, w in row:
            assert metagraph.W[uid][dest].item() == pytest.approx(w / total, abs=1e-4)

    shown = flow.btcli_json("subnets", "metagraph", "--netuid", str(flow.netuid), *flow.network, "--no-prompt")
    by_uid = {row["uid"]: row for row in shown["uids"]}
    for uid in range(len(reference["incentive"])):
        assert round(by_uid[uid]["incentive"], 4) == round(incentive[uid], 4), uid
        assert round(by_uid[uid]["dividends"], 4) == round(dividends[uid], 4), uid

