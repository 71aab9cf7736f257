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
