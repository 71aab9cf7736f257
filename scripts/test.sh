#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs every test:
#   1. native: cargo test for the whole workspace (lnwasm and lnwasm-proxy)
#   2. browser: the same vector tests, and the JS API tests, compiled to
#      wasm32 and run in headless Chromium (wasm-bindgen-test via wasm-pack)
#   3. Node: builds the npm package into pkg/ and tests it as a consumer
#      would, plus a strict TypeScript check of its declarations.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

step "native tests"
cargo test --workspace

step "browser tests (headless Chromium)"
# tests/browser_interop.rs and tests/browser_payments.rs connect through
# lnwasm-proxy to an LDK node: start both on loopback (free ports), pass their
# addresses to the wasm build, and stop them on exit. ldk-peer accepts
# channels and serves its HTTP control API (--control), which
# browser_payments drives; it runs until its stdin closes (fd 7 holds it open).
cargo build -p lnwasm-proxy -p ldk-peer --bins
helpers="$(mktemp -d)"
helper_pids=()
stop_helpers() {
  exec 7>&- 2>/dev/null || true
  for pid in "${helper_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${helper_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$helpers"
}
trap stop_helpers EXIT
bin="${CARGO_TARGET_DIR:-target}/debug"
"$bin/lnwasm-proxy" --listen 127.0.0.1:0 --allow-private 2> "$helpers/proxy.log" &
helper_pids+=($!)
mkfifo "$helpers/ldk.in"
"$bin/ldk-peer" --listen 127.0.0.1:0 --peer-tick-secs 1 --accept-channels --control 127.0.0.1:0 \
  < "$helpers/ldk.in" > "$helpers/ldk.out" 2> "$helpers/ldk.log" &
helper_pids+=($!)
exec 7> "$helpers/ldk.in"
proxy_addr="" ldk_uri="" ldk_control=""
for _ in $(seq 300); do
  proxy_addr="$(sed -n 's/^lnwasm-proxy: listening on \([0-9.:]*\) .*/\1/p' "$helpers/proxy.log")"
  ldk_uri="$(sed -n 's/^READY //p' "$helpers/ldk.out")"
  ldk_control="$(sed -n 's/^CONTROL //p' "$helpers/ldk.out")"
  [[ -n "$proxy_addr" && -n "$ldk_uri" && -n "$ldk_control" ]] && break
  sleep 0.1
done
if [[ -z "$proxy_addr" || -z "$ldk_uri" || -z "$ldk_control" ]]; then
  echo "helpers did not start:"; cat "$helpers/proxy.log" "$helpers/ldk.log"; exit 1
fi
echo "lnwasm-proxy on $proxy_addr, ldk-peer at $ldk_uri (control http://$ldk_control)"
# webdriver.json (repo root) passes the flags Chromium needs to run as root
# on a machine without network access.
# Tests wait up to 30 s for a peer themselves: give them longer than that,
# so a stuck test reports what it waited for.
LNWASM_TEST_PROXY_URL="ws://$proxy_addr" LNWASM_TEST_LDK_URI="$ldk_uri" \
  LNWASM_TEST_LDK_CONTROL="http://$ldk_control" WASM_BINDGEN_TEST_TIMEOUT=180 \
  CHROMEDRIVER="$(command -v chromedriver)" wasm-pack test --headless --chrome
stop_helpers
trap - EXIT

step "npm package"
./scripts/build-pkg.sh

step "Node tests"
mkdir -p tests/node/node_modules
ln -sfn ../../../pkg tests/node/node_modules/lnwasm
node --test tests/node/
tsc -p tests/node/tsconfig.json
echo "TypeScript declarations: strict check passed"

step "all tests passed"
