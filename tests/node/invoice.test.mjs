// Node tests against the built package (pkg/), imported by its name so the
// package.json "exports" map is exercised too. Run by scripts/test.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { decodeInvoice, encodeInvoice } from "lnwasm";

const here = new URL(".", import.meta.url);
const md = readFileSync(new URL("../vectors/bolt11-vectors.md", here), "utf8");

// The spec's examples: a "### title" quote line, then the invoice on the
// next non-empty line.
function vectors() {
  const out = [];
  let valid = true;
  let want = false;
  for (const line of md.split("\n")) {
    if (line.startsWith("# Examples of Invalid Invoices")) valid = false;
    const text = line.replace(/^>/, "").trim();
    if (line.startsWith(">") && text.startsWith("#")) {
      out.push({ title: text.replace(/^#+/, "").trim(), valid, invoice: "" });
      want = true;
    } else if (want && text) {
      out.at(-1).invoice = text;
      want = false;
    }
  }
  return out;
}

const all = vectors();
const byTitle = (t) => all.find((v) => v.title.startsWith(t));
const PAYEE = "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad";
const KEY = "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734";

test("the vectors file has 16 valid and 10 invalid examples", () => {
  assert.equal(all.filter((v) => v.valid).length, 16);
  assert.equal(all.filter((v) => !v.valid).length, 10);
});

test("every valid example decodes, signature checked", () => {
  for (const v of all.filter((v) => v.valid)) {
    const inv = decodeInvoice(v.invoice);
    assert.equal(inv.paymentSecret, "11".repeat(32), v.title);
    assert.equal(inv.paymentRequest, v.invoice.toLowerCase(), v.title);
    const highS = v.title.startsWith("Public-key recovery with high-S");
    assert.equal(inv.payeeNodeId, highS ? "02d0139ce7427d6dfffd26a326c18be754ef1e64672b42694ba5b23ef6e6e7803d" : PAYEE, v.title);
  }
});

test("decoded fields", () => {
  const coffee = decodeInvoice(byTitle("Please send $3 for a cup of coffee").invoice);
  assert.equal(coffee.network, "bitcoin");
  assert.equal(coffee.amountMsat, 250000000n);
  assert.equal(coffee.timestamp, 1496314658);
  assert.equal(coffee.paymentHash, "0001020304050607080900010203040506070809000102030405060708090102");
  assert.equal(coffee.description, "1 cup coffee");
  assert.equal(coffee.descriptionHash, null);
  assert.equal(coffee.expirySeconds, 60);
  assert.equal(coffee.minFinalCltvExpiryDelta, 18);
  assert.deepEqual(coffee.features, [8, 14]);
  assert.deepEqual(coffee.fallbackAddresses, []);
  assert.deepEqual(coffee.routeHints, []);
  assert.equal(coffee.metadata, null);
  assert.equal(coffee.isExpired(1496314658 + 59), false);
  assert.equal(coffee.isExpired(1496314658 + 60), true);
  assert.equal(coffee.isExpired(), true);

  const testnet = decodeInvoice(byTitle("The same, on testnet").invoice);
  assert.equal(testnet.network, "testnet");
  assert.equal(testnet.description, null);
  assert.equal(testnet.descriptionHash, "3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1");
  assert.deepEqual(testnet.fallbackAddresses, ["mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP"]);

  const hints = decodeInvoice(byTitle("On mainnet, with fallback address 1RustyRX2oai4EYYDpQGWvEL62BBGqN9T").invoice);
  assert.deepEqual(hints.routeHints, [[
    { nodeId: "029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", shortChannelId: "66051x263430x1800", feeBaseMsat: 1, feeProportionalMillionths: 20, cltvExpiryDelta: 3 },
    { nodeId: "039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", shortChannelId: "197637x395016x2314", feeBaseMsat: 2, feeProportionalMillionths: 30, cltvExpiryDelta: 4 },
  ]]);

  const meta = decodeInvoice(byTitle("Please send 0.01 BTC with payment metadata").invoice);
  assert.equal(meta.metadata, "01fafaf0");
  assert.deepEqual(meta.features, [8, 14, 48]);

  const pico = decodeInvoice(byTitle("Please send 0.00967878534 BTC").invoice);
  assert.equal(pico.amountMsat, 967878534n);
  assert.equal(typeof pico.amountMsat, "bigint");

  const features = decodeInvoice(byTitle("Please send $30 for coffee beans").invoice);
  assert.deepEqual(features.features, [8, 14, 99]);
  assert.deepEqual(JSON.parse(JSON.stringify({ ...features, amountMsat: String(features.amountMsat) })).features, [8, 14, 99]);
});

test("every invalid example throws its own code", () => {
  const codes = {
    "Same, but adding invalid unknown feature 100": "UNKNOWN_REQUIRED_FEATURE",
    "Bech32 checksum is invalid.": "BAD_CHECKSUM",
    "Malformed bech32 string (no 1)": "MISSING_SEPARATOR",
    "Malformed bech32 string (mixed case)": "MIXED_CASE",
    "Signature is not recoverable.": "UNRECOVERABLE_SIGNATURE",
    "String is too short.": "TOO_SHORT",
    "Invalid multiplier": "INVALID_MULTIPLIER",
    "Invalid sub-millisatoshi precision.": "SUB_MSAT_PRECISION",
    "Missing required `s` field.": "MISSING_PAYMENT_SECRET",
    "Non canonical signature (high-S) with 'n' field defined": "HIGH_S_SIGNATURE",
  };
  const invalid = all.filter((v) => !v.valid);
  assert.equal(invalid.length, Object.keys(codes).length);
  for (const v of invalid) {
    assert.throws(() => decodeInvoice(v.invoice), (e) => {
      assert.ok(e instanceof Error, v.title);
      assert.equal(e.name, "LnwasmError");
      assert.equal(e.code, codes[v.title], v.title);
      return true;
    });
  }
  assert.throws(() => decodeInvoice(42), { code: "INVALID_ARGUMENT" });
});

test("encodeInvoice reproduces spec examples byte for byte", () => {
  const donation = byTitle("Please make a donation").invoice;
  assert.equal(encodeInvoice({
    network: "bitcoin",
    timestamp: 1496314658,
    paymentHash: "0001020304050607080900010203040506070809000102030405060708090102",
    paymentSecret: "11".repeat(32),
    description: "Please consider supporting this project",
    fieldOrder: ["s", "p", "d", "9"],
  }, KEY), donation);

  const withHints = byTitle("On mainnet, with fallback address 1RustyRX2oai4EYYDpQGWvEL62BBGqN9T").invoice;
  const d = decodeInvoice(withHints);
  assert.equal(encodeInvoice({
    network: d.network,
    amountMsat: d.amountMsat,
    timestamp: d.timestamp,
    paymentHash: d.paymentHash,
    paymentSecret: d.paymentSecret,
    descriptionHash: d.descriptionHash,
    fallbackAddresses: d.fallbackAddresses,
    routeHints: d.routeHints,
    features: d.features,
    fieldOrder: ["s", "p", "h", "f", "r", "9"],
  }, KEY), withHints);
});

test("encodeInvoice round trip with defaults", () => {
  const s = encodeInvoice({
    network: "regtest",
    amountMsat: 123456789n,
    paymentHash: "ab".repeat(32),
    paymentSecret: "cd".repeat(32),
    description: "⚡ test",
    expirySeconds: 86400,
    includePayeeNodeId: true,
  }, KEY);
  assert.match(s, /^lnbcrt1234567890p1/);
  const inv = decodeInvoice(s);
  assert.equal(inv.network, "regtest");
  assert.equal(inv.amountMsat, 123456789n);
  assert.equal(inv.description, "⚡ test");
  assert.equal(inv.expirySeconds, 86400);
  assert.equal(inv.minFinalCltvExpiryDelta, 18);
  assert.equal(inv.payeeNodeId, PAYEE);
  assert.ok(Math.abs(inv.timestamp - Date.now() / 1000) < 60);
  assert.equal(inv.isExpired(), false);
  assert.throws(() => encodeInvoice({ network: "bitcoin" }, KEY), { code: "INVALID_ARGUMENT" });
  assert.throws(() => encodeInvoice({ network: "bitcoin", paymentHash: "ab".repeat(32), paymentSecret: "cd".repeat(32), description: "x" }, "zz"), { code: "INVALID_SECRET_KEY" });
});

test("the package loads through require() as well", () => {
  const require = createRequire(import.meta.url);
  let cjs;
  try {
    cjs = require("lnwasm");
  } catch (e) {
    // require() of an ES module needs Node >= 20.19 / 22.12.
    if (e.code === "ERR_REQUIRE_ESM") return;
    throw e;
  }
  assert.equal(typeof cjs.decodeInvoice, "function");
});

test("the generated .d.ts declares no `any`", () => {
  for (const f of ["../../pkg/web/lnwasm.d.ts", "../../pkg/node/lnwasm.d.ts"]) {
    const dts = readFileSync(new URL(f, here), "utf8");
    // `any` as a type (the word may appear in comments).
    assert.doesNotMatch(dts, /(:|=>|<|\|)\s*any\b|\bany\[\]/, f);
    assert.match(dts, /export function decodeInvoice\(invoice: string\): Invoice;/);
    assert.match(dts, /export function encodeInvoice\(fields: InvoiceFields, secretKeyHex: string\): string;/);
  }
});
