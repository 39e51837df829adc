"""btcli's read-only commands against the dev chain, checked against @polkadot/api's reads."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import polkadot

# btcli lives beside the interpreter running the suite (the pinned virtualenv).
BTCLI = Path(sys.executable).with_name("btcli")


def btcli(*args: str, home: Path) -> subprocess.CompletedProcess:
    """Runs btcli with a throwaway HOME so no user config or wallet leaks in."""
    return subprocess.run(
        [str(BTCLI), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


def test_subnets_list_shows_every_subnet(endpoint, populated, tmp_path):
    out = btcli("subnets", "list", "--network", endpoint, "--json-output", home=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = json.loads(out.stdout)
    netuids = sorted(int(n) for n in listed["subnets"])
    assert netuids == [0, 1]
    # From get_all_dynamic_info, the Swap price and MechanismCountCurrent.
    subnet = listed["subnets"]["1"]
    assert subnet["tempo"]["sn_tempo"] == polkadot("read", endpoint)["tempo"]
    assert subnet["price"] == 1.0
    assert subnet["mechanisms"] == 1
    assert listed["subnets"]["0"]["subnet_name"] == "root"


def test_subnets_show_lists_uids_hotkeys_and_stakes(endpoint, populated, tmp_path):
    out = btcli(
        "subnets", "show", "--netuid", "1", "--network", endpoint, "--json-output", "--no-prompt", home=tmp_path
    )
    assert out.returncode == 0, out.stdout + out.stderr
    shown = json.loads(out.stdout)
    expected = polkadot("read", endpoint)
    by_uid = {row["uid"]: row for row in shown["uids"]}
    assert sorted(by_uid) == expected["uids"]
    for uid, hotkey, coldkey, stake in zip(
        expected["uids"], expected["hotkeys"], expected["coldkeys"], expected["stakes"]
    ):
        assert by_uid[uid]["hotkey"] == hotkey
        assert by_uid[uid]["coldkey"] == coldkey
        assert round(by_uid[uid]["alpha_stake"], 6) == round(int(stake) / 1e9, 6)
