#!/usr/bin/env bash
# The README's main job on the bundled example: check every file of example-config-repo
# (decrypting each env.yml with the example's test-only operator key), then print the demo
# appliance's resolved desired state with secrets masked.
set -euo pipefail
cd "$(dirname "$0")/.."
key=test/fixtures/keys/operator.agekey
chmod 600 "$key" # git does not keep modes; the CLI warns about a readable key file
node bin/appliance.js validate example-config-repo --identity "$key"
echo
node bin/appliance.js render --repo example-config-repo --name demo --identity "$key"
