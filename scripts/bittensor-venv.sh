#!/usr/bin/env bash
# Creates (or reuses) the project-local virtualenv .venv-bittensor/ with the pinned bittensor SDK,
# btcli and pytest that test/bittensor/ is checked against. Prints the venv's path on stdout.
# A venv whose pins file matches is reused as it is, so a second run costs one `cmp`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${BITTENSOR_VENV:-$root/.venv-bittensor}"
pins="$root/test/bittensor/requirements.txt"

# Run each candidate rather than trusting `command -v`: pyenv's shims exist for versions that are
# not selected and fail when run.
supported() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1; }
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
    if supported "$candidate"; then python="$candidate"; break; fi
  done
fi
if [ -z "$python" ] || ! supported "$python"; then
  echo "bittensor-venv: Python 3.10 or newer is needed (set PYTHON=...)" >&2
  exit 2
fi

if [ -x "$venv/bin/python" ] && cmp -s "$pins" "$venv/.pins"; then
  echo "$venv"
  exit 0
fi

start=$(date +%s)
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$pins" >&2
cp "$pins" "$venv/.pins"
echo "bittensor-venv: installed $(wc -l <"$pins") pins into $venv in $(($(date +%s) - start)) s" >&2
echo "$venv"
