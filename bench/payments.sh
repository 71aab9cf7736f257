#!/usr/bin/env bash
# Payments benchmark: lnwasm against LDK, natively, and lnwasm as wasm in
# Node. Builds bench/payments (release, native and wasm32), runs it and
# prints one table. Run by hand: ./bench/payments.sh [N]  (N payments per
# implementation, default 2000). Needs the tools scripts/setup.sh installs
# (the wasm32 target, wasm-bindgen-cli, npm dev tools for wasm-opt).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
n="${1:-2000}"
manifest=bench/payments/Cargo.toml
target="${CARGO_TARGET_DIR:-$PWD/bench/payments/target}"

cargo build --release --manifest-path "$manifest" --bin payments
cargo build --release --manifest-path "$manifest" --target wasm32-unknown-unknown --lib

out="$target/payments-node"
rm -rf "$out"
wasm-bindgen --target nodejs --out-dir "$out" --out-name payments \
  "$target/wasm32-unknown-unknown/release/lnwasm_bench_payments.wasm"
if command -v wasm-opt >/dev/null; then
  # The same optimisation as the npm package (scripts/build-pkg.sh).
  wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$out/payments_bg.wasm" -o "$out/payments_bg.wasm"
else
  echo "wasm-opt not found (npm ci installs it): the wasm is not optimised by it" >&2
fi

echo "running $n native payments each (lnwasm, LDK)..." >&2
native=$("$target/release/payments" "$n")
echo "running $n payments in Node..." >&2
# shellcheck disable=SC2086 # the native results are words on purpose
node bench/payments.mjs "$n" "$out/payments.js" $native
