#!/usr/bin/env bash
# The whole recipe with one command: ./run.sh [CONFIG] [recipe options] (default: tiny-cpu.yaml).
# CONFIG is a path (absolute, or relative to where you run this), or the name of a config in
# integrations/trl/.
set -euo pipefail
config="${1:-tiny-cpu.yaml}"
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -f "$config" ]]; then
    config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
elif [[ -f "$here/$config" ]]; then
    config="$here/$config"
else
    echo "run.sh: no config $config (here or in $here)" >&2
    exit 2
fi
cd "$here/../.."
exec python -m stepreward.integrations.recipe "$config" "${@:2}"
