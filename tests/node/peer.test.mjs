// connectPeer from the built package in Node. A live connection needs a
// global WebSocket (Node 22+) and a peer: the browser tests cover that
// (scripts/test.sh runs them against lnwasm-proxy and ldk-peer); here the
// argument checks and, on older Node, the clear refusal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connectPeer } from "lnwasm";
import { code } from "./helpers.mjs";

const ID = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";

test("connectPeer rejects bad arguments with codes", async () => {
  assert.equal(await code(connectPeer("nonsense", { proxyUrl: "ws://x" })), "INVALID_PEER_URI");
  assert.equal(await code(connectPeer(`${ID}@1.2.3.4:9735`, {})), "INVALID_ARGUMENT");
  assert.equal(await code(connectPeer(`${ID}@1.2.3.4:9735`, { proxyUrl: "ws://x", network: "mainnet" })), "INVALID_ARGUMENT");
});

test("without a global WebSocket, connectPeer says so", { skip: typeof globalThis.WebSocket === "function" && "this Node has WebSocket" }, async () => {
  assert.equal(await code(connectPeer(`${ID}@1.2.3.4:9735`, { proxyUrl: "ws://127.0.0.1:1" })), "WEBSOCKET_UNAVAILABLE");
});

test("with a global WebSocket, an unreachable proxy fails with CONNECT_FAILED", { skip: typeof globalThis.WebSocket !== "function" && "Node has no global WebSocket before 22" }, async () => {
  const c = await code(connectPeer(`${ID}@1.2.3.4:9735`, { proxyUrl: "ws://127.0.0.1:1", timeoutMs: 5000 }));
  assert.ok(["CONNECT_FAILED", "CONNECT_TIMEOUT"].includes(c), c);
});
