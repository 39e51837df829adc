"""A subnet builder's localnet steps, typed as btcli commands: what test_builder_flow.py checks step
by step and test_nodes_interop.py builds the subnet for our nodes with.

Every command runs non-interactively (`--no-prompt`, `--no-use-password`) with a throwaway HOME.
MEV protection is turned off (`--no-mev-protection`): the dev chain has no MevShield pallet.
"""

import json
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# btcli lives beside the interpreter running the suite (the pinned virtualenv).
BTCLI = Path(sys.executable).with_name("btcli")
# The secret seed of the well-known //Alice account, the dev chain's funded sudo key.
ALICE_SEED = "0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a"
# Bounds one btcli command (a hung connection), not a slow machine: each takes a few seconds.
BTCLI_TIMEOUT_S = 120
# Every field `btcli subnets create` asks for: with one missing it prompts even with --no-prompt.
IDENTITY = {
    "--subnet-name": "storage",
    "--github-repo": "https://github.com/example/storage-subnet",
    "--subnet-contact": "dev@example.com",
    "--subnet-url": "https://example.com",
    "--discord-handle": "storage-dev",
    "--description": "A storage subnet on the dev chain",
    "--logo-url": "https://example.com/logo.png",
    "--additional-info": "localnet",
}


@dataclass
class BuilderFlow:
    """What the flow made: where its wallets are and what the chain answered."""

    endpoint: str
    home: Path
    wallets: Path
    # The one coldkey of the flow; every hotkey (owner's, validator's, miners') is under it.
    wallet_name: str = "owner"
    netuid: int = 0
    hotkeys: dict = field(default_factory=dict)
    coldkey: str = ""
    # What each step sent, by btcli's extrinsic identifier ("block-index").
    extrinsics: dict = field(default_factory=dict)
    # Each hotkey's stake right after staking, before later steps (weights, epochs) pay emission.
    staked: dict = field(default_factory=dict)
    # The validator's weight row after each way of setting it, and the uids involved.
    weights: dict = field(default_factory=dict)

    def btcli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs btcli non-interactively with a throwaway HOME, as a builder's script would."""
        out = subprocess.run(
            [str(BTCLI), *args],
            capture_output=True,
            text=True,
            timeout=BTCLI_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            # A wide console keeps rich from wrapping JSON inside a string.
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin", "COLUMNS": "100000"},
        )
        if check:
            assert out.returncode == 0, f"btcli {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out

    def btcli_json(self, *args: str) -> object:
        """The JSON document btcli prints; some commands print a notice (a new mnemonic) before it."""
        out = self.btcli(*args, "--json-output")
        lines = out.stdout.splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if line.startswith(("{", "["))]
        try:
            return json.loads("".join(lines[starts[0] :]))
        except (IndexError, json.JSONDecodeError) as e:
            raise AssertionError(f"btcli {' '.join(args)} printed no JSON:\n{out.stdout}\n{out.stderr}") from e

    def btcli_json_side_by_side(self, *commands: list[str]) -> list:
        """Runs btcli commands at once and returns their JSON documents in order: only for commands
        that touch no chain (key files), where each takes about a second of Python start-up."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda args: self.btcli_json(*args), commands))

    def wallet(self, hotkey: str | None = None) -> list[str]:
        args = ["--wallet-name", self.wallet_name, "--wallet-path", str(self.wallets)]
        return args + (["--hotkey", hotkey] if hotkey else [])

    @property
    def network(self) -> list[str]:
        return ["--network", self.endpoint]

    def on_subnet(self, hotkey: str, *extra: str) -> list[str]:
        """The arguments of a staking command on the flow's subnet, signed by `hotkey`'s wallet."""
        return [
            "--netuid", str(self.netuid), *self.wallet(hotkey), *self.network,
            "--no-mev-protection", "--no-prompt", *extra,
        ]


def create_wallets(flow: BuilderFlow, hotkeys: Iterable[str]) -> None:
    """`btcli wallet create` (the coldkey and its "default" hotkey, the subnet owner's), then
    `btcli wallet new-hotkey` for each of `hotkeys`, and //Alice restored as the funder's wallet."""
    made = flow.btcli_json(
        "wallet", "create", *flow.wallet("default"), "--no-use-password", "--n-words", "12"
    )
    assert made["success"], made
    flow.coldkey = made["data"]["coldkey_ss58"]
    flow.hotkeys["default"] = made["data"]["hotkey_ss58"]
    # Each writes its own key file under a wallet folder that exists by now.
    hotkeys = list(hotkeys)
    *new_hotkeys, _alice_restored = flow.btcli_json_side_by_side(
        *[["wallet", "new-hotkey", *flow.wallet(name), "--no-use-password", "--n-words", "12"] for name in hotkeys],
        ["wallet", "regen-coldkey", *_alice(flow), "--seed", ALICE_SEED, "--no-use-password"],
    )
    for name, hotkey in zip(hotkeys, new_hotkeys):
        assert hotkey["success"], hotkey
        flow.hotkeys[name] = hotkey["data"]["hotkey_ss58"]


def _alice(flow: BuilderFlow) -> list[str]:
    return ["--wallet-name", "alice", "--wallet-path", str(flow.wallets)]


def fund_coldkey(flow: BuilderFlow, tao: int) -> None:
    """Transfers `tao` from //Alice (restored by create_wallets) to the flow's coldkey."""
    sent = flow.btcli_json(
        "wallet", "transfer", *_alice(flow), *flow.network,
        "--dest", flow.coldkey, "--amount", str(tao), "--no-prompt",
    )
    assert sent["success"], sent


def create_subnet(flow: BuilderFlow, identity: dict = IDENTITY) -> None:
    """`btcli subnets create` with an identity (`{"--subnet-name": ..., ...}`), then `subnets start`."""
    made = flow.btcli_json(
        "subnets", "create", *flow.wallet("default"), *flow.network,
        *[arg for pair in identity.items() for arg in pair],
        "--no-mev-protection", "--no-prompt",
    )
    assert made["success"], made
    flow.netuid = made["netuid"]
    flow.extrinsics["subnets create"] = made["extrinsic_identifier"]
    # Subtensor makes the owner call start_call once a delay has passed; the dev chain emits from
    # registration, and btcli reports the subnet as already started.
    started = flow.btcli(
        "subnets", "start", "--netuid", str(flow.netuid), *flow.wallet(), *flow.network, "--no-prompt"
    )
    assert "already has an emission schedule" in started.stdout, started.stdout


def register_neurons(flow: BuilderFlow, hotkeys: Iterable[str]) -> None:
    """`btcli subnets register` (burned) for each of `hotkeys`, in order."""
    for name in hotkeys:
        # btcli's default is safe registration: register_limit with the burn plus its tolerance.
        netuid = ["--netuid", str(flow.netuid)]
        done = flow.btcli_json("subnets", "register", *netuid, *flow.wallet(name), *flow.network, "--no-prompt")
        assert done["success"], done
        flow.extrinsics[f"subnets register {name}"] = done["extrinsic_identifier"]


def add_stake(flow: BuilderFlow, hotkey: str, tao: int, *extra: str) -> str:
    """`btcli stake add` of `tao` to `hotkey` (safe staking unless `extra` says `--unsafe`);
    returns the extrinsic identifier."""
    netuid, ss58 = str(flow.netuid), flow.hotkeys[hotkey]
    added = flow.btcli_json("stake", "add", *flow.on_subnet(hotkey, "--amount", str(tao), *extra))
    assert added["staking_success"][netuid][ss58] is True, added
    return added["extrinsic_ids"][netuid][ss58]
