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
# webdriver.json (repo root) passes the flags Chromium needs to run as root
# on a machine without network access.
CHROMEDRIVER="$(command -v chromedriver)" wasm-pack test --headless --chrome

step "npm package"
./scripts/build-pkg.sh

step "Node tests"
mkdir -p tests/node/node_modules
ln -sfn ../../../pkg tests/node/node_modules/lnwasm
node --test tests/node/
tsc -p tests/node/tsconfig.json
echo "TypeScript declarations: strict check passed"

step "all tests passed"
