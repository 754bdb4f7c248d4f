#!/usr/bin/env bash
# The README's main job: the agent following example-config-repo on a real Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/demo.ts "$@"
