#!/usr/bin/env bash
# Builds the npm package into pkg/: the release wasm, its JS bindings for
# browsers/bundlers (pkg/web, ES module) and Node (pkg/node, ES module loaded synchronously),
# optimised with wasm-opt, plus the files in pkg-template/.
# Needs the tools scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# The wasm-release profile (Cargo.toml): size-optimised but for libsecp256k1.
cargo build --profile wasm-release --target wasm32-unknown-unknown --lib
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/lnwasm.wasm"

rm -rf pkg
wasm-bindgen --target web --out-dir pkg/web --out-name lnwasm "$wasm"
wasm-bindgen --target experimental-nodejs-module --out-dir pkg/node --out-name lnwasm "$wasm"
for d in web node; do
  wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "pkg/$d/lnwasm_bg.wasm" -o "pkg/$d/lnwasm_bg.wasm"
done
# The web target declares the raw wasm exports (InitOutput) with `any` for
# externref parameters and results; they are internal, and `unknown` is the
# honest type.
sed -i -E '/^    readonly [A-Za-z_0-9]+: \(/ { s/: any\b/: unknown/g; s/=> any;$/=> unknown;/ }' pkg/web/lnwasm.d.ts
cp -r pkg-template/. pkg/
echo '{ "type": "module" }' > pkg/node/package.json
echo '{ "type": "module" }' > pkg/web/package.json
echo "built pkg/ ($(wc -c < pkg/web/lnwasm_bg.wasm) bytes of wasm)"
