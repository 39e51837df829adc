"""The bittensor SDK's reads against the dev chain agree with @polkadot/api's reads of it."""

from conftest import NETUID, polkadot


def test_connects_and_reads_the_current_block(endpoint, subtensor):
    expected = polkadot("read", endpoint)["block"]
    assert subtensor.get_current_block() == expected


def test_metagraph_matches_polkadot(endpoint, populated, subtensor):
    expected = polkadot("read", endpoint)
    metagraph = subtensor.metagraph(NETUID)
    assert metagraph.n.item() == len(expected["uids"]) == 3
    assert metagraph.uids.tolist() == expected["uids"]
    assert metagraph.hotkeys == expected["hotkeys"]
    assert metagraph.coldkeys == expected["coldkeys"]
    assert populated["miners"] == expected["hotkeys"][1:]
    # The SDK reports stake in TAO units (float32); the chain stores rao.
    stakes = [int(s) / 1e9 for s in expected["stakes"]]
    assert stakes[0] > 0 and stakes[1] > 0
    assert [round(s, 6) for s in metagraph.S.tolist()] == [round(s, 6) for s in stakes]
    assert [round(s, 6) for s in metagraph.alpha_stake.tolist()] == [round(s, 6) for s in stakes]


def test_neurons_lite_match_polkadot(endpoint, populated, subtensor):
    expected = polkadot("read", endpoint)
    neurons = subtensor.neurons_lite(NETUID)
    assert [n.uid for n in neurons] == expected["uids"]
    assert [n.hotkey for n in neurons] == expected["hotkeys"]
    assert [n.coldkey for n in neurons] == expected["coldkeys"]
    assert [int(n.total_stake.rao) for n in neurons] == [int(s) for s in expected["stakes"]]


def test_metagraph_info_matches_polkadot(endpoint, populated, subtensor):
    """get_metagraph_info reads SubnetInfoRuntimeApi.get_selective_mechagraph."""
    expected = polkadot("read", endpoint)
    info = subtensor.get_metagraph_info(NETUID)
    assert info is not None
    assert info.netuid == NETUID
    assert info.hotkeys == expected["hotkeys"]
    assert info.coldkeys == expected["coldkeys"]
    assert info.tempo == expected["tempo"]
    assert [int(s.rao) for s in info.alpha_stake] == [int(s) for s in expected["stakes"]]
    assert subtensor.get_mechanism_count(NETUID) == 1
