// Payments benchmark, wasm half, and the table. Run bench/payments.sh,
// which builds everything and calls:
//   node bench/payments.mjs N <wasm-bindgen nodejs module> [name count seconds rate]...
// The module is bench/payments compiled to wasm32 (its LnwasmBench export:
// two lnwasm channels in this Node process paying each other back and
// forth, the same code the native binary runs). The trailing arguments are
// the native binary's results, printed beside the wasm figure.
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";

const [nArg, modulePath, ...native] = process.argv.slice(2);
const n = Number(nArg);
if (!Number.isInteger(n) || n < 2 || !modulePath) {
  console.error("usage: node bench/payments.mjs N <payments.js> [name count seconds rate]...");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const { LnwasmBench } = require(modulePath);

const slices = 10;
const slice = Math.max(2, Math.floor(n / slices)) & ~1;
const bench = new LnwasmBench();
bench.run(slice); // warm-up: JIT tiers, first-use costs
let done = 0;
let ms = 0;
for (let i = 0; i < slices; i++) {
  const start = performance.now();
  done += bench.run(slice);
  ms += performance.now() - start;
}
const wasmRate = (done * 1000) / ms;

const results = new Map();
for (let i = 0; i + 3 < native.length; i += 4) {
  results.set(native[i], { count: Number(native[i + 1]), secs: Number(native[i + 2]), rate: Number(native[i + 3]) });
}
const ours = results.get("lnwasm");
const ldk = results.get("ldk");
const fmt = (x) => (x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(0));

console.log(`${done} payments of 10 000 msat each, alternating direction, one channel between two in-process nodes`);
console.log(`(full commitment_signed / revoke_and_ack both ways per update, one-hop onion built and peeled, in-memory persistence).`);
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}, Node ${process.version}\n`);
console.log("| lnwasm native payments/s | LDK native payments/s | ratio lnwasm / LDK | lnwasm wasm in Node payments/s |");
console.log("|---:|---:|---:|---:|");
console.log(
  `| ${fmt(ours?.rate)} | ${fmt(ldk?.rate)} | ${ours && ldk ? (ours.rate / ldk.rate).toFixed(2) : "n/a"} | ${fmt(wasmRate)} |`,
);
console.log("\nTarget: lnwasm native at least 3× LDK's rate on the same machine.");
