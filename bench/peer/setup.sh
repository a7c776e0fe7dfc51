#!/bin/sh
# Creates the virtualenv the peer benchmark runs the Python script in (never committed).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/peer-venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet -r "$root/bench/peer/requirements.txt"
echo "peer venv ready: $venv"
