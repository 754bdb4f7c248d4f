#!/usr/bin/env bash
# `npm test`: every test, the VM boots included. The appliance image of these sources builds in
# the background while the suite runs (it needs no Docker: mmdebstrap, packer, qemu; cached in
# /var/cache/appliance-image by a hash of its inputs), then test/vm/ boots it under qemu.
#   APPLIANCE_TEST_VM=0   leaves the image and the VM tests out (a quick run while developing)
#   test/run.sh FILE...   runs just those test files (no image, no VM)
#   test/run.sh --vm-only the image and the VM tests alone (`npm run test:vm`)
set -uo pipefail
cd "$(dirname "$0")/.."
bash test/prereqs.sh || exit 1
tests=("$@")
vm=${APPLIANCE_TEST_VM:-1}
if [ "${1:-}" = --vm-only ]; then
  vm=1
  tests=()
elif [ ${#tests[@]} -gt 0 ]; then vm=0; else mapfile -t tests < <(find test -name '*.test.ts' | sort); fi
artifacts=test-artifacts
mkdir -p "$artifacts"

if [ "$vm" = 1 ]; then
  bash test/prereqs.sh mmdebstrap packer qemu-system-x86 qemu-utils socat parted || exit 1
  echo "# the appliance image builds in the background (log: $artifacts/image-build.log)"
  # Niced: the suite's timing (health gates, ACME, update windows) matters more than the build's.
  nice -n 10 npx tsx devenv/ensure-image.ts >"$artifacts/image-build.log" 2>&1 &
  image=$!
fi

# Each failure again at the end, where a log's tail shows it: the TAP of every run is kept.
failures() {
  [ "$status" = 0 ] && return
  echo "# the failures again (whole TAP in $artifacts/*.tap):"
  awk '/^ *not ok /{p=1; n=0; st=-1}
    p && /^ *stack: /{st=0; print; next}
    p && st >= 0 && !/^ *\.\.\.$/{if (st++ < 2) print; next}
    p{print; if (/^ *\.\.\.$/ || ++n > 40) p=0}' "$artifacts"/*.tap
}
# --test-force-exit: a test file whose tests are done exits even if something it started is still up
# (a hook that failed before its kill left an agent running, and CI waited for it until its timeout).
suite() {
  local tap=$1
  shift
  node --import tsx --test --test-concurrency=1 --test-force-exit --test-reporter=tap --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$artifacts/$tap" "$@"
}

rm -f "$artifacts"/*.tap
status=0
if [ ${#tests[@]} -gt 0 ]; then
  suite suite.tap "${tests[@]}"
  status=$?
fi
[ "$vm" = 1 ] || { failures; exit $status; }

started=$SECONDS
if ! wait "$image"; then
  tail -n 40 "$artifacts/image-build.log" >&2
  echo "# the appliance image did not build (see $artifacts/image-build.log)" >&2
  status=1
  failures
  exit 1
fi
after=$([ ${#tests[@]} -gt 0 ] && echo "after the suite" || echo "after the start")
echo "# the image was ready $((SECONDS - started)) s $after: $(tail -n 1 "$artifacts/image-build.log")"
suite vm.tap test/vm/*.vmtest.ts || status=1
failures
exit $status
