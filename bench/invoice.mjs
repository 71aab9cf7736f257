// BOLT 11 decode benchmark: lnwasm (signature checked) against npm
// light-bolt11-decoder (parses only) and npm bolt11 (checks the signature),
// all in this one Node process, on the same invoices. Also the size of the
// release .wasm. Run: node bench/invoice.mjs  (after scripts/build-pkg.sh)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { performance } from "node:perf_hooks";

const root = new URL("../", import.meta.url);
const require = createRequire(root);
const lnwasm = await import(new URL("pkg/node/lnwasm.js", root));
const light = require("light-bolt11-decoder");

// bolt11 as installed: its secp256k1 dependency loads a prebuilt native
// addon when one matches this platform ...
const bolt11Native = require("bolt11");
const secpIndex = require.resolve("secp256k1");
const secpBackend = require.cache[secpIndex].exports === require("secp256k1/elliptic") ? "elliptic (JS)" : "native addon";
// ... and as a browser gets it: the same package on its pure-JS fallback.
for (const k of Object.keys(require.cache)) {
  if (k.includes("/node_modules/bolt11/") || k === secpIndex) delete require.cache[k];
}
require.cache[secpIndex] = { id: secpIndex, filename: secpIndex, loaded: true, exports: require("secp256k1/elliptic") };
const bolt11Js = require("bolt11");

// The spec's valid examples that every library here accepts.
const md = readFileSync(new URL("tests/vectors/bolt11-vectors.md", root), "utf8");
const examples = [];
{
  let inValid = true, want = false;
  for (const line of md.split("\n")) {
    if (line.startsWith("# Examples of Invalid Invoices")) inValid = false;
    const text = line.replace(/^>/, "").trim();
    if (line.startsWith(">") && text.startsWith("#")) want = inValid;
    else if (want && text) { examples.push(text); want = false; }
  }
}
const libs = [
  ["lnwasm decodeInvoice (signature checked)", (s) => lnwasm.decodeInvoice(s)],
  ["light-bolt11-decoder decode (no signature check)", (s) => light.decode(s)],
  [`bolt11 decode, secp256k1 ${secpBackend} (signature checked)`, (s) => bolt11Native.decode(s)],
  ["bolt11 decode, secp256k1 elliptic JS as in browsers (signature checked)", (s) => bolt11Js.decode(s)],
];
const invoices = examples.filter((s) => libs.every(([, f]) => { try { f(s); return true; } catch { return false; } }));

function usPerDecode(f) {
  // Warm up, then time whole passes over the set until ~1 s has elapsed.
  for (let i = 0; i < 20; i++) for (const s of invoices) f(s);
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < 1000) {
    for (const s of invoices) f(s);
    n += invoices.length;
    elapsed = performance.now() - start;
  }
  return (elapsed * 1000) / n;
}

console.log(`${invoices.length} invoices (the BOLT 11 spec examples all four decoders accept), Node ${process.version}\n`);
const results = libs.map(([name, f]) => [name, usPerDecode(f)]);
const ours = results[0][1];
console.log("| decoder | µs per decode | lnwasm is N× faster |");
console.log("|---|---:|---:|");
for (const [name, us] of results) console.log(`| ${name} | ${us.toFixed(1)} | ${(us / ours).toFixed(2)} |`);

const wasm = readFileSync(new URL("pkg/web/lnwasm_bg.wasm", root));
console.log("\n| release .wasm | bytes |");
console.log("|---|---:|");
console.log(`| raw | ${wasm.length} |`);
console.log(`| gzip -9 | ${gzipSync(wasm, { level: 9 }).length} |`);

console.log("\nTargets: lnwasm's checked decode at least as fast as light-bolt11-decoder's unchecked parse, and 30× faster than bolt11.");
