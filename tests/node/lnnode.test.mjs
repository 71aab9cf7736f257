// LnNode from the built package in Node, with memory storage: creation and
// its argument checks, invoices made and read back, local payment refusals
// with their codes, blocks, events and stop. Channels and payments over a
// live peer are covered in headless Chromium (tests/browser_node.rs, against
// LDK through lnwasm-proxy), where WebSocket and IndexedDB exist.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LnNode, decodeInvoice, encodeInvoice } from "lnwasm";
import { code } from "./helpers.mjs";

const SEED = "00".repeat(32);
// The node id the seed above derives (BIP32 m/1017'/1'/0'/0/0, regtest coin type).
const NODE_ID = "037d68771e4799f820dd528b3e599dad93ee15f26da4869ad8677cc7ad0efc4852";
const PEER = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";

const regtest = () => LnNode.create({ seed: SEED, network: "regtest", bestHeight: 100 });

test("create checks its options", async () => {
  assert.equal(await code(LnNode.create()), "INVALID_ARGUMENT");
  assert.equal(await code(LnNode.create({ seed: "00", bestHeight: 1 })), "INVALID_ARGUMENT");
  assert.equal(await code(LnNode.create({ seed: SEED })), "INVALID_ARGUMENT");
  assert.equal(await code(LnNode.create({ seed: SEED, bestHeight: 1, network: "mainnet" })), "INVALID_ARGUMENT");
  assert.equal(await code(LnNode.create({ seed: SEED, bestHeight: 1, storage: "disk" })), "INVALID_ARGUMENT");
  // Node has no IndexedDB.
  assert.equal(await code(LnNode.create({ seed: SEED, bestHeight: 1, storage: { indexedDb: "x" } })), "STORAGE_IO");
});

test("a new node: id, info, no channels", async () => {
  const n = await regtest();
  assert.equal(n.nodeId, NODE_ID);
  assert.deepEqual(n.info(), {
    nodeId: NODE_ID, network: "regtest", bestHeight: 100, feeEstimatePerKw: null, peers: [], activeChannels: 0, channels: 0,
    stopped: false,
  });
  assert.deepEqual(n.listChannels(), []);
  assert.deepEqual(n.watches(), []);
  await n.blockConnected(101, []);
  await n.blockConnected(102);
  assert.equal(n.info().bestHeight, 102);
  assert.equal(await code(n.blockConnected(103, ["nothex"])), "INVALID_ARGUMENT");
  assert.equal(await code(n.blockConnected(-1)), "INVALID_ARGUMENT");
  await n.stop();
});

test("createInvoice: signed by the node, with what was asked", async () => {
  const n = await regtest();
  const hint = [{ nodeId: PEER, shortChannelId: "700000x1x0", feeBaseMsat: 1000, feeProportionalMillionths: 100, cltvExpiryDelta: 40 }];
  const { paymentRequest, paymentHash } = await n.createInvoice({
    amountMsat: 150_000n, description: "coffee", expirySeconds: 600, minFinalCltvExpiryDelta: 24, routeHints: [hint],
  });
  assert.match(paymentRequest, /^lnbcrt1500n1/);
  const inv = decodeInvoice(paymentRequest);
  assert.equal(inv.payeeNodeId, NODE_ID);
  assert.equal(inv.paymentHash, paymentHash);
  assert.equal(inv.amountMsat, 150_000n);
  assert.equal(inv.description, "coffee");
  assert.equal(inv.expirySeconds, 600);
  assert.equal(inv.minFinalCltvExpiryDelta, 24);
  assert.deepEqual(inv.routeHints, [hint]);
  assert.ok(Math.abs(inv.timestamp - Date.now() / 1000) < 60);
  // Any amount, description hash, defaults.
  const h = "ab".repeat(32);
  const open = decodeInvoice((await n.createInvoice({ descriptionHash: h })).paymentRequest);
  assert.equal(open.amountMsat, null);
  assert.equal(open.descriptionHash, h);
  assert.equal(open.expirySeconds, 3600);
  assert.equal(open.minFinalCltvExpiryDelta, 18);
  assert.notEqual(open.paymentHash, paymentHash);
  assert.equal(await code(n.createInvoice({ description: "a", descriptionHash: h })), "INVALID_ARGUMENT");
  assert.equal(await code(n.createInvoice({ amountMsat: -1 })), "INVALID_ARGUMENT");
  assert.equal(await code(n.createInvoice({ routeHints: [[{ nodeId: "02" }]] })), "INVALID_ARGUMENT");
  await n.stop();
});

test("payInvoice: local refusals carry their codes", async () => {
  const n = await regtest();
  const own = (await n.createInvoice({ amountMsat: 1000n, description: "x" })).paymentRequest;
  // No channel to anyone.
  assert.equal(await code(n.payInvoice(own)), "NO_USABLE_ROUTE");
  const key = "22".repeat(32);
  const fields = { amountMsat: 5000n, paymentHash: "01".repeat(32), paymentSecret: "02".repeat(32), description: "d" };
  assert.equal(await code(n.payInvoice(encodeInvoice({ ...fields, network: "bitcoin" }, key))), "INVOICE_WRONG_NETWORK");
  assert.equal(await code(n.payInvoice(encodeInvoice({ ...fields, network: "regtest", timestamp: 1_000_000, expirySeconds: 60 }, key))), "INVOICE_EXPIRED");
  const open = encodeInvoice({ ...fields, amountMsat: undefined, network: "regtest" }, key);
  assert.equal(await code(n.payInvoice(open)), "PAYMENT_AMOUNT_MISSING");
  assert.equal(await code(n.payInvoice(open, { amountMsat: 7000n })), "NO_USABLE_ROUTE");
  assert.equal(await code(n.payInvoice("lnbcrt1nonsense")), "INVALID_CHARACTER");
  assert.equal(await code(n.payInvoice(42)), "INVALID_ARGUMENT");
  // Refused before sending: nothing is recorded as a payment.
  assert.deepEqual(n.listPayments(), []);
  await n.stop();
});

test("setFeeEstimate: kept and shown, checked", async () => {
  const n = await regtest();
  assert.equal(await n.setFeeEstimate(2000), undefined);
  assert.equal(n.info().feeEstimatePerKw, 2000);
  await n.setFeeEstimate(253);
  assert.equal(n.info().feeEstimatePerKw, 253);
  for (const bad of [252, 1000.5, -1, "2000", undefined, 2 ** 32]) {
    assert.equal(await code(n.setFeeEstimate(bad)), "INVALID_ARGUMENT", String(bad));
  }
  assert.equal(n.info().feeEstimatePerKw, 253);
  await n.stop();
});

test("closeChannel and closeAllChannels refusals", async () => {
  const n = await regtest();
  assert.equal(await code(n.closeChannel("ab".repeat(32))), "UNKNOWN_CHANNEL");
  assert.equal(await code(n.closeChannel("ab".repeat(32), { force: true })), "UNKNOWN_CHANNEL");
  assert.equal(await code(n.closeChannel("abcd")), "INVALID_ARGUMENT");
  assert.equal(await code(n.closeChannel(7)), "INVALID_ARGUMENT");
  assert.equal(await code(n.closeChannel("ab".repeat(32), { force: "yes" })), "INVALID_ARGUMENT");
  assert.equal(await code(n.closeChannel("ab".repeat(32), { scriptPubKey: "xyz" })), "INVALID_ARGUMENT");
  assert.equal(await code(n.closeChannel("ab".repeat(32), { force: true, scriptPubKey: "0014" + "00".repeat(20) })), "INVALID_ARGUMENT");
  assert.deepEqual(await n.closeAllChannels(), []);
  assert.deepEqual(await n.closeAllChannels({ force: true }), []);
  // Its options are checked once, even with no channel to close.
  assert.equal(await code(n.closeAllChannels({ force: "yes" })), "INVALID_ARGUMENT");
  assert.equal(await code(n.closeAllChannels({ feeratePerKw: 1 })), "INVALID_ARGUMENT");
  assert.equal(await code(n.closeAllChannels(5)), "INVALID_ARGUMENT");
  await n.stop();
  assert.equal(await code(n.closeChannel("ab".repeat(32))), "NODE_STOPPED");
  assert.equal(await code(n.closeAllChannels()), "NODE_STOPPED");
});

test("listInvoices: each invoice with its amount, times and status", async () => {
  const n = await regtest();
  assert.deepEqual(n.listInvoices(), []);
  const before = Math.floor(Date.now() / 1000);
  const a = await n.createInvoice({ amountMsat: 2000n, description: "a", expirySeconds: 600 });
  const b = await n.createInvoice({ description: "b", expirySeconds: 1 });
  const byHash = () => new Map(n.listInvoices().map((i) => [i.paymentHash, i]));
  const listed = byHash();
  assert.equal(listed.size, 2);
  const ia = listed.get(a.paymentHash);
  assert.ok(ia.createdAt >= before && ia.createdAt <= before + 60);
  assert.deepEqual(ia, {
    paymentHash: a.paymentHash, amountMsat: 2000n, createdAt: ia.createdAt, expiresAt: ia.createdAt + 600,
    status: "open", receivedMsat: null,
  });
  const ib = listed.get(b.paymentHash);
  assert.equal(ib.amountMsat, null);
  assert.equal(ib.expiresAt, ib.createdAt + 1);
  // Past its expiry, unpaid: expired; the other stays open.
  await new Promise((r) => setTimeout(r, Math.max(0, (ib.expiresAt + 0.05) * 1000 - Date.now())));
  assert.equal(byHash().get(b.paymentHash).status, "expired");
  assert.equal(byHash().get(a.paymentHash).status, "open");
  await n.stop();
});

test("connect and openChannel refusals", async () => {
  const n = await regtest();
  assert.equal(await code(n.connect("nonsense")), "INVALID_PEER_URI");
  assert.equal(await code(n.connect(`${PEER}@127.0.0.1:9735`)), "INVALID_ARGUMENT");
  if (typeof globalThis.WebSocket !== "function") {
    assert.equal(await code(n.connect(`${PEER}@127.0.0.1:9735`, { proxyUrl: "ws://127.0.0.1:1" })), "WEBSOCKET_UNAVAILABLE");
  }
  const fund = () => "";
  assert.equal(await code(n.openChannel({ nodeId: PEER, fundingSat: 100_000n, fund })), "PEER_NOT_CONNECTED");
  assert.equal(await code(n.openChannel({ nodeId: PEER, fundingSat: 100_000n })), "INVALID_ARGUMENT");
  assert.equal(await code(n.openChannel({ nodeId: "02", fundingSat: 100_000n, fund })), "INVALID_ARGUMENT");
  await n.stop();
});

test("stop: listeners hear it, later calls are refused", async () => {
  const n = await regtest();
  const seen = [];
  const off = n.onEvent((e) => seen.push(e));
  const dropped = [];
  n.onEvent((e) => dropped.push(e))();
  await n.flush();
  await n.stop();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].type, "stopped");
  assert.equal(seen[0].error.code, "NODE_STOPPED");
  assert.deepEqual(dropped, []);
  off();
  assert.equal(n.info().stopped, true);
  assert.equal(await code(n.createInvoice({})), "NODE_STOPPED");
  assert.equal(await code(n.payInvoice("x")), "NODE_STOPPED");
  assert.equal(await code(n.blockConnected(200)), "NODE_STOPPED");
  await n.stop();
});
