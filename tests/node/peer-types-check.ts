// Compiled with the strict TypeScript check in scripts/test.sh: the peer
// API's declarations (connectPeer, Peer, PeerInfo, options, error codes).
import { connectPeer } from "lnwasm";
import type { ConnectPeerOptions, LnwasmPeerError, Peer, PeerErrorCode, PeerInfo } from "lnwasm";

export async function demo(): Promise<void> {
  const options: ConnectPeerOptions = { proxyUrl: "wss://proxy.example.com", timeoutMs: 5000, network: "regtest" };
  const peer: Peer = await connectPeer("02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619@203.0.113.7:9735", options);
  const info: PeerInfo = peer;
  const nodeId: string = info.nodeId;
  const features: number[] = info.features;
  const networks: string[] | null = info.networks;
  const connected: boolean = peer.isConnected;
  const answered: number = peer.pingsAnswered;
  const rtt: number = await peer.ping();
  await peer.disconnect();
  // @ts-expect-error "mainnet" is not a Network
  const bad: ConnectPeerOptions = { proxyUrl: "wss://x", network: "mainnet" };
  // @ts-expect-error nodeId is read-only
  peer.nodeId = "x";
  try {
    await connectPeer("nonsense", options);
  } catch (e) {
    const code: PeerErrorCode = (e as LnwasmPeerError).code;
    // @ts-expect-error not a peer error code
    const wrong: PeerErrorCode = "BAD_CHECKSUM";
    void [code, wrong];
  }
  void [nodeId, features, networks, connected, answered, rtt, bad];
}
