#!/usr/bin/env bash
# Prints what the tests need to use the environment up.sh brought up, as JSON on stdout:
# env.json with the registry credentials and images.json merged in. Test use only: the
# registry password is printed.
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[[ -s $STATE/env.json ]] || die "no $STATE/env.json: run devenv/env/up.sh first"
node -e '
  const fs = require("node:fs");
  const [envFile] = process.argv.slice(1);
  const env = JSON.parse(fs.readFileSync(envFile, "utf8"));
  const registry = JSON.parse(fs.readFileSync(env.registry.credentialsFile, "utf8"));
  const images = JSON.parse(fs.readFileSync(env.imagesFile, "utf8"));
  console.log(JSON.stringify({ ...env, registry: { ...env.registry, ...registry }, images }, null, 2));
' "$STATE/env.json"
