#!/usr/bin/env bash
# Sets up the machine, builds the npm package into pkg/ and serves the demo
# wallet page (www/) on http://localhost:${PORT:-8080}/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build-pkg.sh
exec node scripts/serve.mjs "${PORT:-8080}"
