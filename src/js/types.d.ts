/** A Bitcoin network, as named by lnwasm. */
export type Network = "bitcoin" | "testnet" | "signet" | "regtest";

/** Every `error.code` lnwasm's invoice functions can throw. */
export type InvoiceErrorCode =
  | "TOO_LONG"
  | "MISSING_SEPARATOR"
  | "INVALID_CHARACTER"
  | "MIXED_CASE"
  | "INVALID_HRP"
  | "BAD_CHECKSUM"
  | "TOO_SHORT"
  | "UNKNOWN_NETWORK"
  | "INVALID_AMOUNT"
  | "INVALID_MULTIPLIER"
  | "SUB_MSAT_PRECISION"
  | "AMOUNT_OVERFLOW"
  | "TRUNCATED_FIELD"
  | "NON_MINIMAL_FIELD"
  | "FIELD_OVERFLOW"
  | "MISSING_PAYMENT_HASH"
  | "MISSING_PAYMENT_SECRET"
  | "MISSING_DESCRIPTION"
  | "DESCRIPTION_AND_HASH"
  | "INVALID_DESCRIPTION"
  | "INVALID_PAYEE_NODE_ID"
  | "INVALID_ROUTE_HINT"
  | "INVALID_FALLBACK_ADDRESS"
  | "FALLBACK_NETWORK_MISMATCH"
  | "UNKNOWN_REQUIRED_FEATURE"
  | "INVALID_SIGNATURE"
  | "INVALID_RECOVERY_ID"
  | "UNRECOVERABLE_SIGNATURE"
  | "HIGH_S_SIGNATURE"
  | "BAD_SIGNATURE"
  | "FIELD_TOO_LONG"
  | "INVALID_TIMESTAMP"
  | "MISSING_PAYMENT_SECRET_FEATURE"
  | "INVALID_SECRET_KEY"
  | "INVALID_ARGUMENT";

/** The errors lnwasm throws: an `Error` with a stable `code`. */
export interface LnwasmError extends Error {
  readonly code: InvoiceErrorCode;
}

/** One hop of a private route to the payee (`r` field). */
export interface RouteHintHop {
  /** 33-byte compressed public key, lowercase hex. */
  nodeId: string;
  /** `BLOCKxTXxOUTPUT`, e.g. `"589390x3312x1"`. */
  shortChannelId: string;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
}

/** A decoded BOLT 11 invoice whose signature has been checked. */
export interface Invoice {
  /** The invoice string, lowercase, without a `lightning:` prefix. */
  readonly paymentRequest: string;
  readonly network: Network;
  /** `null` when the invoice lets the payer choose the amount. */
  readonly amountMsat: bigint | null;
  /** Creation time, Unix seconds. */
  readonly timestamp: number;
  /** 32 bytes, lowercase hex. */
  readonly paymentHash: string;
  /** 32 bytes, lowercase hex. */
  readonly paymentSecret: string;
  /** The `d` field, or `null` when the invoice has a description hash. */
  readonly description: string | null;
  /** The `h` field (32 bytes hex), or `null`. */
  readonly descriptionHash: string | null;
  /** Seconds after `timestamp` the invoice expires (default 3600). */
  readonly expirySeconds: number;
  /** CLTV delta for the final hop (default 18). */
  readonly minFinalCltvExpiryDelta: number;
  /** The payee's node id (33 bytes hex): from `n`, or recovered from the signature. */
  readonly payeeNodeId: string;
  readonly fallbackAddresses: string[];
  /** Each hint is a path of hops ending at the payee. */
  readonly routeHints: RouteHintHop[][];
  /** Set feature bits, ascending. */
  readonly features: number[];
  /** The `m` field (hex), or `null`. */
  readonly metadata: string | null;
  /** Whether the invoice has expired at `now` (Unix seconds; default: the current time). */
  isExpired(now?: number): boolean;
}

/** A single tagged field's letter, for `InvoiceFields.fieldOrder`. */
export type InvoiceTag = "p" | "s" | "d" | "h" | "n" | "x" | "c" | "f" | "r" | "9" | "m";

/** What `encodeInvoice` writes. Exactly one of `description` and `descriptionHash`. */
export interface InvoiceFields {
  network: Network;
  /** Omit or `null` for an any-amount invoice. */
  amountMsat?: bigint | number | null;
  /** Unix seconds; default: now. */
  timestamp?: number;
  /** 32 bytes hex. */
  paymentHash: string;
  /** 32 bytes hex. */
  paymentSecret: string;
  description?: string;
  /** 32 bytes hex: SHA256 of a description delivered elsewhere. */
  descriptionHash?: string;
  /** Omitted: no `x` field, readers assume 3600. */
  expirySeconds?: number;
  /** Omitted: no `c` field, readers assume 18. */
  minFinalCltvExpiryDelta?: number;
  fallbackAddresses?: string[];
  routeHints?: RouteHintHop[][];
  /** Feature bits to set; default `[8, 14]` (var_onion_optin, payment_secret). */
  features?: number[];
  /** Hex. */
  metadata?: string;
  /** Write an `n` field with the signer's node id (default false). */
  includePayeeNodeId?: boolean;
  /** Order to write the tagged fields in; unlisted ones follow in the default order p s d h n x c f r 9 m. */
  fieldOrder?: InvoiceTag[];
}

/** Every `error.code` `connectPeer` and a `Peer`'s methods can reject with. */
export type PeerErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_PEER_URI"
  | "INVALID_URL"
  | "WEBSOCKET_UNAVAILABLE"
  | "CONNECT_FAILED"
  | "CONNECT_TIMEOUT"
  | "IO_ERROR"
  | "HANDSHAKE_BAD_LENGTH"
  | "HANDSHAKE_BAD_VERSION"
  | "HANDSHAKE_BAD_PUBKEY"
  | "HANDSHAKE_BAD_TAG"
  | "HANDSHAKE_BAD_CIPHERTEXT"
  | "BAD_LENGTH_MAC"
  | "BAD_MESSAGE_MAC"
  | "HANDSHAKE_TIMEOUT"
  | "PEER_REQUIRES_UNSUPPORTED_FEATURE"
  | "PEER_LACKS_REQUIRED_FEATURE"
  | "FEATURE_MISSING_DEPENDENCY"
  | "NO_COMMON_CHAIN"
  | "FIRST_MESSAGE_NOT_INIT"
  | "DUPLICATE_INIT"
  | "UNKNOWN_EVEN_MESSAGE"
  | "PONG_TIMEOUT"
  | "UNEXPECTED_PONG"
  | "PING_FLOOD"
  | "PEER_SENT_ERROR"
  | "CONNECTION_CLOSED"
  | "LOCAL_CLOSE"
  | "PEER_CLOSED"
  | "PEER_NOT_READY";

/** What `connectPeer` and a `Peer`'s methods reject with. */
export interface LnwasmPeerError extends Error {
  readonly code: PeerErrorCode;
}

/** Options of `connectPeer`: exactly one of `proxyUrl` and `websocketUrl`. */
export interface ConnectPeerOptions {
  /** An `lnwasm-proxy` base URL (`ws://` or `wss://`); the peer is reached at
   * `<proxyUrl>/v1/<a_b_c_d>/<port>` (IPv4) or `<proxyUrl>/<host>:<port>`. */
  proxyUrl?: string;
  /** A WebSocket URL that speaks BOLT 8 itself (e.g. a node's WebSocket port). */
  websocketUrl?: string;
  /** Time to open the socket, and then to finish the handshake and `init` exchange (default 10000). */
  timeoutMs?: number;
  /** The chain announced in `init` (default `"bitcoin"`); peers on other chains are refused. */
  network?: Network;
  /** Our node secret key (32 bytes hex); default: a fresh random key for this connection. */
  nodeSecretKey?: string;
  /** Ping the peer after this much silence (default 30000). */
  pingIntervalMs?: number;
}

/** What a peer told us in its `init`. */
export interface PeerInfo {
  /** The peer's node id (33 bytes hex), authenticated by the handshake. */
  readonly nodeId: string;
  /** Feature bits the peer set (`globalfeatures | features`), ascending. */
  readonly features: number[];
  /** Chains the peer listed (`"bitcoin"`, ..., or a chain hash in hex); `null` if it listed none. */
  readonly networks: string[] | null;
}

/** A connected peer (handshake and `init` exchange done). */
export interface Peer extends PeerInfo {
  /** `false` once the connection closed, for whatever reason. */
  readonly isConnected: boolean;
  /** How many of the peer's pings were answered. */
  readonly pingsAnswered: number;
  /** Pings the peer; resolves with the round-trip time in milliseconds. */
  ping(): Promise<number>;
  /** Closes the connection; resolves once the socket is closed. */
  disconnect(): Promise<void>;
}

/** The BOLT 4 failure a hop returned, as `error.code` of a failed payment. */
export type PaymentFailureName =
  | "INVALID_REALM"
  | "TEMPORARY_NODE_FAILURE"
  | "PERMANENT_NODE_FAILURE"
  | "REQUIRED_NODE_FEATURE_MISSING"
  | "INVALID_ONION_VERSION"
  | "INVALID_ONION_HMAC"
  | "INVALID_ONION_KEY"
  | "TEMPORARY_CHANNEL_FAILURE"
  | "PERMANENT_CHANNEL_FAILURE"
  | "REQUIRED_CHANNEL_FEATURE_MISSING"
  | "UNKNOWN_NEXT_PEER"
  | "AMOUNT_BELOW_MINIMUM"
  | "FEE_INSUFFICIENT"
  | "INCORRECT_CLTV_EXPIRY"
  | "EXPIRY_TOO_SOON"
  | "INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS"
  | "FINAL_INCORRECT_CLTV_EXPIRY"
  | "FINAL_INCORRECT_HTLC_AMOUNT"
  | "CHANNEL_DISABLED"
  | "EXPIRY_TOO_FAR"
  | "INVALID_ONION_PAYLOAD"
  | "MPP_TIMEOUT"
  | "INVALID_ONION_BLINDING"
  | "UNKNOWN_FAILURE";

/** Every `error.code` an `LnNode` method can reject with. */
export type NodeErrorCode =
  | InvoiceErrorCode
  | PeerErrorCode
  | PaymentFailureName
  /** No hop's key reads the returned error. */
  | "UNREADABLE_FAILURE"
  /** No route over a usable channel of ours reaches the payee within the fee budget. */
  | "NO_USABLE_ROUTE"
  /** A restart interrupted the payment before its HTLC left: nothing was paid. */
  | "PAYMENT_NOT_SENT"
  /** The HTLC timed out on chain after a force close. */
  | "HTLC_FAILED_ON_CHAIN"
  | "PAYMENT_ALREADY_PAID"
  | "PAYMENT_PENDING"
  | "INVOICE_EXPIRED"
  | "INVOICE_WRONG_NETWORK"
  | "PAYMENT_AMOUNT_MISSING"
  | "DUPLICATE_PAYMENT_HASH"
  | "UNKNOWN_CHANNEL"
  | "PEER_NOT_CONNECTED"
  | "ALREADY_CONNECTING"
  | "OPEN_FAILED"
  | "FUNDING_FAILED"
  | "WRONG_SEED"
  /** Another `LnNode` (this tab or another) runs on the same IndexedDB database. */
  | "STORAGE_LOCKED"
  | "STORAGE_IO"
  | "STORAGE_CORRUPT"
  | "STALE_UPDATE"
  | "CORRUPT_CHANNEL_RECORD"
  | "INVALID_SEED_LENGTH"
  | "NODE_STOPPED"
  /** A channel refused the request (its rule's code). */
  | (string & {});

/** What an `LnNode` method rejects with. A failed payment also carries the failing hop. */
export interface LnwasmNodeError extends Error {
  readonly code: NodeErrorCode;
  /** Failed payments: the payment hash (hex). */
  readonly paymentHash?: string;
  /** Failed payments attributed to a hop: its BOLT 4 `failure_code`, index in the route (0: our peer) and node id. */
  readonly failureCode?: number;
  readonly hopIndex?: number;
  readonly nodeId?: string;
}

/** Options of `LnNode.create`. */
export interface LnNodeOptions {
  /** BIP32 seed, 16 to 64 bytes hex: the node key and every channel key derive from it. */
  seed: string;
  /** Default `"bitcoin"`. */
  network?: Network;
  /** The chain tip's height now (a chain source's job; later `blockConnected` calls move it). */
  bestHeight: number;
  /** Where channels and payments are kept: `"memory"` (default; lost with the page) or an IndexedDB database. */
  storage?: "memory" | { indexedDb: string };
  /** Default `lnwasm-proxy` URL for `connect`. */
  proxyUrl?: string;
}

/** Options of `LnNode.connect`: a proxy or a WebSocket URL (default: the node's `proxyUrl`). */
export interface NodeConnectOptions {
  proxyUrl?: string;
  websocketUrl?: string;
  /** Time to open the socket and finish the handshake and `init` (default 10000). */
  timeoutMs?: number;
}

/** A peer the node is connected to. */
export interface ConnectedPeer {
  readonly nodeId: string;
  /** The peer's feature bits, ascending. */
  readonly features: number[];
}

/** What `fund` is asked to pay. */
export interface FundingRequest {
  /** The channel's id until it is funded (32 bytes hex). */
  readonly temporaryChannelId: string;
  /** The 2-of-2 P2WSH output to create (hex). */
  readonly scriptPubKey: string;
  readonly amountSat: bigint;
}

export interface OpenChannelOptions {
  /** A connected peer. */
  nodeId: string;
  fundingSat: bigint | number;
  /** Given to the peer at opening (default 0). */
  pushMsat?: bigint | number;
  /** Commitment feerate, at least 253 sat per 1000 weight (default: the last `setFeeEstimate`,
   * else 2500). */
  feeratePerKw?: number;
  /** Announce the channel to the network (default false). */
  announce?: boolean;
  /** Builds and signs (but does not broadcast) a transaction with an output of exactly
   * `amountSat` to `scriptPubKey`; returns it in hex. The node broadcasts it through the
   * `publish` event once the peer has signed our first commitment. */
  fund(request: FundingRequest): string | Promise<string>;
}

export interface OpenedChannel {
  readonly channelId: string;
  readonly fundingTxid: string;
}

export type ChannelStatus =
  | "opening"
  | "normal"
  | "shuttingDown"
  | "negotiating"
  | "closing"
  | "waitingForRemoteClose"
  | "closed";

/** A channel's commitment format. */
export type ChannelType = "staticRemoteKey" | "anchors";

export interface ChannelSummary {
  readonly channelId: string;
  readonly nodeId: string;
  readonly status: ChannelStatus;
  /** The peer is connected and the channel reestablished. */
  readonly online: boolean;
  /** Payments can go out over it now. */
  readonly usable: boolean;
  /** We opened it. */
  readonly outbound: boolean;
  readonly capacitySat: bigint;
  readonly localBalanceMsat: bigint;
  readonly remoteBalanceMsat: bigint;
  readonly inFlightMsat: bigint;
  /** Our current commitment's feerate (sat per 1000 weight), `null` before funding. */
  readonly feeratePerKw: number | null;
  /**
   * The commitment format, `null` before funding: `"staticRemoteKey"`
   * (`option_static_remotekey`, what LnNode negotiates) or `"anchors"`
   * (`option_anchors_zero_fee_htlc_tx`: LnNode neither proposes nor accepts
   * it, as it cannot bump fees yet; only a channel stored by an earlier
   * version is one).
   */
  readonly channelType: ChannelType | null;
  /** `BLOCKxTXxOUTPUT` once confirmed. */
  readonly shortChannelId: string | null;
  readonly fundingTxid: string | null;
}

export interface NodeInfo {
  readonly nodeId: string;
  readonly network: Network;
  readonly bestHeight: number;
  /** The last `setFeeEstimate` (sat per 1000 weight), or `null`. */
  readonly feeEstimatePerKw: number | null;
  /** Connected peers' node ids. */
  readonly peers: string[];
  readonly channels: number;
  /** Normal and online. */
  readonly activeChannels: number;
  readonly stopped: boolean;
}

/** What the chain source should report through `blockConnected`. */
export type ChainWatch =
  | { readonly type: "confirmed"; readonly txid: string; readonly scriptPubKey: string | null }
  | { readonly type: "spent"; readonly txid: string; readonly vout: number };

/** What `createInvoice` makes. Give `description` or `descriptionHash` (default: an empty description). */
export interface CreateInvoiceRequest {
  /** Omit for an any-amount invoice. */
  amountMsat?: bigint | number;
  description?: string;
  /** 32 bytes hex. */
  descriptionHash?: string;
  /** Default 3600. */
  expirySeconds?: number;
  /** Default 18. */
  minFinalCltvExpiryDelta?: number;
  /** Private routes to us, for payers without a public path. */
  routeHints?: RouteHintHop[][];
}

export interface CreatedInvoice {
  /** The BOLT 11 string. */
  readonly paymentRequest: string;
  readonly paymentHash: string;
}

export interface PayInvoiceOptions {
  /** Most to pay in routing fees (default 1% of the amount, at least 1000 msat). */
  maxFeeMsat?: bigint | number;
  /** No new attempt after this many seconds (default 60). */
  timeoutSeconds?: number;
  /** For invoices without an amount. */
  amountMsat?: bigint | number;
}

export interface PaymentResult {
  readonly paymentHash: string;
  /** The proof of payment (32 bytes hex). */
  readonly preimage: string;
  readonly amountMsat: bigint;
  readonly feeMsat: bigint;
  readonly attempts: number;
}

export interface CloseChannelOptions {
  /** Publish our commitment now instead of negotiating with the peer: works with the peer
   * offline, but our funds wait the channel's CSV delay and pay the commitment's fee. */
  force?: boolean;
  /** Cooperative close: where our funds go (hex; default the node's own key, or the
   * upfront shutdown script agreed at opening, which it must then equal). */
  scriptPubKey?: string;
  /** Cooperative close: the feerate our fee proposal starts from, at least 253 sat per 1000
   * weight (default: the last `setFeeEstimate`, else 2500). */
  feeratePerKw?: number;
}

/** How a channel closed: the transaction that closed it (for a breach, our penalty). */
export interface ClosedChannel {
  readonly channelId: string;
  readonly kind: "mutual" | "localForce" | "remoteForce" | "breach";
  readonly txid: string;
}

/** An invoice this node issued, as `listInvoices` shows it. */
export interface InvoiceSummary {
  readonly paymentHash: string;
  /** `null` for an any-amount invoice. */
  readonly amountMsat: bigint | null;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds; an unpaid invoice is refused from then on. */
  readonly expiresAt: number;
  /** `paid` once its HTLCs reached the amount (the preimage is released), whatever the time. */
  readonly status: "open" | "paid" | "expired";
  /** What was received, once paid. */
  readonly receivedMsat: bigint | null;
}

/** A payment this node sent or is sending, as `listPayments` shows it. */
export interface PaymentSummary {
  readonly paymentHash: string;
  /** The payee's node id (33 bytes hex). */
  readonly payee: string;
  readonly amountMsat: bigint;
  readonly status: "pending" | "succeeded" | "failed";
  /** The proof of payment, once succeeded. */
  readonly preimage: string | null;
  /** Routing fees paid, once succeeded. */
  readonly feeMsat: bigint | null;
  readonly attempts: number;
  /** Unix seconds; `null` for a payment recorded before this was kept. */
  readonly createdAt: number | null;
}

/** What `onEvent` listeners hear. */
export type LnNodeEvent =
  | { readonly type: "publish"; readonly txid: string; readonly txHex: string }
  | { readonly type: "channelFunded"; readonly channelId: string; readonly nodeId: string; readonly fundingTxid: string }
  | { readonly type: "channelReady"; readonly channelId: string; readonly nodeId: string; readonly shortChannelId: string | null }
  | {
      readonly type: "channelClosing";
      readonly channelId: string;
      readonly nodeId: string;
      readonly kind: "mutual" | "localForce" | "remoteForce" | "breach";
      readonly txid: string;
    }
  | { readonly type: "paymentReceived"; readonly paymentHash: string; readonly amountMsat: bigint }
  | ({ readonly type: "paymentSent" } & PaymentResult)
  | { readonly type: "paymentFailed"; readonly paymentHash: string; readonly code: NodeErrorCode }
  | { readonly type: "forwarded"; readonly paymentHash: string; readonly feeMsat: bigint }
  | { readonly type: "peerError"; readonly nodeId: string; readonly channelId: string | null; readonly message: string; readonly fatal: boolean }
  /** `init` exchanged (after `connect`, or after an automatic reconnection). */
  | { readonly type: "peerConnected"; readonly nodeId: string }
  /** The connection dropped; unless `disconnect` or `stop` closed it, the node reconnects
   * (after 1 s, doubling up to 60 s between attempts). */
  | { readonly type: "peerDisconnected"; readonly nodeId: string; readonly reconnecting: boolean }
  /** The node stopped: `stop()`, or a failed storage write (`error.code` `STORAGE_IO`). */
  | { readonly type: "stopped"; readonly error: LnwasmNodeError };

/**
 * A Lightning node: channels and payments, peers over WebSockets, state in
 * IndexedDB. Every state change is written (and awaited) before any message
 * that depends on it leaves; promises settle in that same order.
 */
export class LnNode {
  private constructor();
  /** Creates the node; with `storage: { indexedDb }`, resumes what that database holds
   * (channels, payments, and the peers it was connected to, which it reconnects to at once)
   * and holds its lock (Web Locks) until `stop`: a second node on it is refused
   * (`STORAGE_LOCKED`). */
  static create(options: LnNodeOptions): Promise<LnNode>;
  /** 33 bytes hex. */
  readonly nodeId: string;
  info(): NodeInfo;
  /** Adds a listener; returns the function that removes it. */
  onEvent(listener: (event: LnNodeEvent) => void): () => void;
  /** Connects to `<pubkey>@<host>:<port>`; resolves once `init` was exchanged. From then on
   * a dropped connection is re-established automatically (see the `peerDisconnected` event). */
  connect(uri: string, options?: NodeConnectOptions): Promise<ConnectedPeer>;
  /** Closes the connection to `nodeId` and stops reconnecting to it (after a restart too). */
  disconnect(nodeId: string): Promise<void>;
  /** Resolves once the peer signed our first commitment (the funding transaction went out as a `publish` event). */
  openChannel(options: OpenChannelOptions): Promise<OpenedChannel>;
  listChannels(): ChannelSummary[];
  /** A new best block; `txs` (hex, block order) are those touching `watches()`, or all. */
  blockConnected(height: number, txs?: string[]): Promise<void>;
  watches(): ChainWatch[];
  /** Resolves once the invoice's preimage is stored. */
  createInvoice(request?: CreateInvoiceRequest): Promise<CreatedInvoice>;
  /** Pays over our channels (direct, or through the invoice's route hints); never pays the same hash twice. */
  payInvoice(invoice: string, options?: PayInvoiceOptions): Promise<PaymentResult>;
  /** The feerate that confirms a transaction now (sat per 1000 weight, at least 253), from
   * your chain source; call it whenever the estimate changes. Sweeps, penalties and HTLC
   * claims are built at it (until it is set: 1000), the peer's `update_fee` is checked
   * against it, and opens and closes given no feerate use it. Channels we funded follow
   * it with `update_fee` (when it is 10% above their feerate, or below half of it). Kept
   * in IndexedDB: a node created again on the database starts from it. */
  setFeeEstimate(feeratePerKw: number): Promise<void>;
  /** Closes a channel (cooperatively unless `force`); resolves once the closing transaction
   * is known (ours also goes out as a `publish` event). A cooperative close waits for the
   * peer: reconnected, the channel resumes the negotiation. */
  closeChannel(channelId: string, options?: CloseChannelOptions): Promise<ClosedChannel>;
  /** `closeChannel` on every channel in `normal` status (with `force`, also those shutting
   * down), each outcome apart, in `listChannels` order. */
  closeAllChannels(options?: CloseChannelOptions): Promise<PromiseSettledResult<ClosedChannel>[]>;
  /** The invoices this node issued (kept in its storage), newest first. */
  listInvoices(): InvoiceSummary[];
  /** The payments this node sent or is sending (kept in its storage), newest first. */
  listPayments(): PaymentSummary[];
  /** Resolves once every queued write and message is done. */
  flush(): Promise<void>;
  /** Finishes queued work, closes connections and storage; later calls reject with `NODE_STOPPED`. */
  stop(): Promise<void>;
  /** Frees the wasm memory behind this object (after `stop`). */
  free(): void;
}
