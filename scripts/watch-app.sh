#!/usr/bin/env bash
# Watches the demo app until it answers with a version (see watch-app.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx scripts/watch-app.ts "$@"
