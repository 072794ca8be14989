#!/usr/bin/env bash
# The whole recipe with one command: ./run.sh [CONFIG] (default: tiny-cpu.yaml).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python -m stepreward.integrations.recipe "integrations/trl/${1:-tiny-cpu.yaml}" "${@:2}"
