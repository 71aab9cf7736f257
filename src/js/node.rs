//! `LnNode`: the JS face of [`Node`]. Thin: it moves bytes between
//! WebSockets and [`PeerConnection`]s, feeds peers, blocks and the clock
//! to the node, and carries out the node's actions strictly in order,
//! awaiting every write to IndexedDB before anything after it (persist
//! before send). Promises are settled, and the application's callbacks
//! called, from that same ordered queue, so `createInvoice` resolves only
//! once its preimage is stored, and no callback ever runs inside the node.
//!
//! A failed write halts the queue for good (nothing after it is sent):
//! every pending promise rejects with `STORAGE_IO`, and so does every
//! later call. The node in memory is then ahead of its storage; a new
//! `LnNode.create` on the same storage resumes from what was written.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};
use std::time::Duration;

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{ScriptBuf, Transaction, Txid};
use js_sys::{Array, BigInt, Function, Object, Promise, Reflect, Uint8Array};
use secp256k1::{PublicKey, SecretKey};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use super::invoice::{array, hex32, Fields};
use super::peer::{chain_of, Settle};
use super::{bad_arg, js_error, to_js};
use crate::channel::{
    ChannelInfo, Command, Event, Link as ChannelLink, ManagerEvent, OpenRequest, RevokedChunk,
    Status, FEERATE_FLOOR,
};
use crate::error::ErrorCode;
use crate::invoice::{self, Description, Network};
use crate::keys::WalletKeys;
use crate::node::{Node, NodeAction, NodeConfig, NodeEvent, NodeInput};
use crate::payment::{InvoiceRequest, InvoiceStatus, OutgoingStatus, PayParams, PaymentEvent};
use crate::peer::{DisconnectReason, Millis, PeerConfig, PeerConnection, PeerEvent};
use crate::store::{
    chunk_key, chunk_key_parts, record_from_bytes, record_to_bytes, Batch, MemoryStore, Op, Store,
    StoredIndex,
};
use crate::transport::websocket::{drop_later, Timer, WsEvent, WsStream};
use crate::transport::{random_secret_key, PeerUri, TransportError};
use crate::tx::{ChannelType, FeeratePerKw};
use crate::types::{Msat, PaymentHash, Sat};
use crate::util::{from_hex, from_hex_array, to_hex};
use crate::wire::{ChannelId, ErrorMessage, Message};

#[wasm_bindgen(inline_js = r#"
const STORES = ["meta", "channels", "payments", "revoked"];
export function idbOpen(name) {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") {
      reject(new Error("IndexedDB is not available here"));
      return;
    }
    const req = indexedDB.open(name, 2);
    req.onupgradeneeded = () => {
      for (const s of STORES) {
        if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`IndexedDB ${name} is held open elsewhere`));
  });
}
export function idbReadAll(db, store) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, "readonly");
    const keys = tx.objectStore(store).getAllKeys();
    const values = tx.objectStore(store).getAll();
    tx.oncomplete = () => resolve(keys.result.map((k, i) => [new Uint8Array(k), new Uint8Array(values.result[i])]));
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB read aborted"));
  });
}
// One atomic transaction: writes is [[store, puts, deletes], ...], puts
// [key, value] pairs, deletes keys or [low, high] key ranges.
export function idbWrite(db, writes) {
  return new Promise((resolve, reject) => {
    let tx;
    try {
      // "strict": the write is on disk when oncomplete fires.
      tx = db.transaction(writes.map((w) => w[0]), "readwrite", { durability: "strict" });
      for (const [store, puts, deletes] of writes) {
        const os = tx.objectStore(store);
        for (const k of deletes) os.delete(Array.isArray(k) ? IDBKeyRange.bound(k[0], k[1]) : k);
        for (const [k, v] of puts) os.put(v, k);
      }
    } catch (e) {
      reject(e);
      return;
    }
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB write aborted"));
  });
}
// Resolves with the lock's release function, false if another holder has
// it, or null without the Web Locks API.
export function acquireLock(name) {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    locks.request(name, { ifAvailable: true }, (lock) => {
      if (!lock) {
        resolve(false);
        return undefined;
      }
      return new Promise((release) => resolve(() => release()));
    }).catch(reject);
  });
}
export function idbClose(db) {
  db.close();
}
export function callFund(fund, request) {
  return Promise.resolve().then(() => fund(request));
}
export function callListener(f, event) {
  try {
    f(event);
  } catch (e) {
    console.error("lnwasm: an event listener threw", e);
  }
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = idbOpen)]
    fn idb_open(name: &str) -> Promise;
    #[wasm_bindgen(js_name = idbReadAll)]
    fn idb_read_all(db: &JsValue, store: &str) -> Promise;
    #[wasm_bindgen(js_name = idbWrite)]
    fn idb_write(db: &JsValue, writes: Array) -> Promise;
    #[wasm_bindgen(js_name = acquireLock)]
    fn acquire_lock(name: &str) -> Promise;
    #[wasm_bindgen(js_name = idbClose)]
    fn idb_close(db: &JsValue);
    #[wasm_bindgen(js_name = callFund)]
    fn call_fund(fund: &Function, request: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = callListener)]
    fn call_listener(f: &Function, event: &JsValue);
}

/// How often the node hears the clock (payment timeouts, channel timers).
const TICK: Duration = Duration::from_secs(5);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_FEERATE: FeeratePerKw = FeeratePerKw(2500);
/// Reconnection delays double from the first to the last.
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(60);
const NODE_ID_KEY: &[u8] = b"node_id";
/// `peer:` + node id: where a peer was reached (see [`encode_peer`]).
const PEER_KEY_PREFIX: &[u8] = b"peer:";
/// The last `setFeeEstimate` (u32 big-endian sat per 1000 weight).
const FEE_ESTIMATE_KEY: &[u8] = b"fee_estimate";

fn decode_fee_estimate(value: &[u8]) -> Option<FeeratePerKw> {
    let rate = u32::from_be_bytes(value.try_into().ok()?);
    (rate >= FEERATE_FLOOR.0).then_some(FeeratePerKw(rate))
}

fn peer_key(node_id: &PublicKey) -> Vec<u8> {
    [PEER_KEY_PREFIX, &node_id.serialize()[..]].concat()
}

/// A peer's address as stored: the connect timeout in milliseconds (u32
/// big-endian), then the WebSocket URL.
fn encode_peer((url, timeout): &(String, Duration)) -> Vec<u8> {
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    [&ms.to_be_bytes()[..], url.as_bytes()].concat()
}

fn decode_peer(key: &[u8], value: &[u8]) -> Option<(PublicKey, String, Duration)> {
    let id = PublicKey::from_slice(key.strip_prefix(PEER_KEY_PREFIX)?).ok()?;
    let ms = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
    let url = String::from_utf8(value.get(4..)?.to_vec()).ok()?;
    Some((id, url, Duration::from_millis(u64::from(ms))))
}

fn now() -> Millis {
    Millis(js_sys::Date::now().max(0.0) as u64)
}

fn unix_now() -> u64 {
    (js_sys::Date::now() / 1000.0).max(0.0) as u64
}

fn random32() -> [u8; 32] {
    random_secret_key().secret_bytes()
}

fn stopped_error() -> JsValue {
    js_error("NODE_STOPPED", "the node was stopped")
}

/// One entry of the ordered queue.
// Short-lived, moved once (like the actions it carries).
#[allow(clippy::large_enum_variant)]
enum Item {
    Act(NodeAction),
    /// Settle once everything queued before is done.
    Resolve(Settle, JsValue),
    /// Tell the listeners.
    Emit(JsValue),
    /// Remember (or forget, `None`) a value of the database's `meta`
    /// store: a peer's address, the fee estimate.
    Meta(Vec<u8>, Option<Vec<u8>>),
}

/// A connection to a peer.
struct Link {
    /// Tells callbacks of an old connection from those of a new one.
    id: u64,
    node_id: PublicKey,
    conn: Option<PeerConnection>,
    /// Until the socket opens.
    pending: Option<(PeerConfig, SecretKey)>,
    stream: Option<WsStream>,
    timer: Option<Timer>,
    connecting: Option<Settle>,
    /// `init` was exchanged (the node was told of the connection).
    ready: bool,
    /// The peer's `init` features (bit numbers).
    features: Array,
    /// Where the socket goes, for reconnecting.
    url: String,
    timeout: Duration,
}

/// A peer we were connected to and reconnect to when the connection drops
/// (until `disconnect` or `stop`).
struct Known {
    node_id: PublicKey,
    url: String,
    timeout: Duration,
    /// Reconnection attempts since the last success.
    attempts: u32,
    timer: Option<Timer>,
}

/// An `openChannel` under way.
struct Opening {
    temporary_channel_id: ChannelId,
    channel_id: Option<ChannelId>,
    fund: Function,
    settle: Option<Settle>,
}

struct Inner {
    node: Node,
    /// Our BOLT 8 static key.
    node_secret: SecretKey,
    network: Network,
    /// What IndexedDB holds of the channels: update numbers and chunk
    /// positions (the records themselves live in `node`).
    stored: StoredIndex,
    db: Option<JsValue>,
    /// Releases the database's lock (Web Locks), held while the node runs.
    lock: Option<Function>,
    proxy_url: Option<String>,
    links: Vec<Link>,
    next_link: u64,
    known: Vec<Known>,
    queue: VecDeque<Item>,
    pumping: bool,
    /// Set by a failed write, or by `stop`.
    halted: Option<JsValue>,
    pays: Vec<(PaymentHash, Settle)>,
    /// The last `setFeeEstimate`.
    fee_estimate: Option<FeeratePerKw>,
    /// `closeChannel` calls waiting for their channel's closing transaction.
    closes: Vec<(ChannelId, Settle)>,
    opens: Vec<Opening>,
    listeners: Vec<(u32, Function)>,
    next_listener: u32,
    /// Transactions waiting for a height and confirmations.
    later: Vec<Later>,
    /// Heights at which watched transactions handed to `blockConnected`
    /// confirmed.
    confirmed_at: BTreeMap<Txid, u32>,
    tick: Option<Timer>,
    idle: Vec<Settle>,
}

type Shared = Rc<RefCell<Inner>>;

/// A transaction, the height it may go out at, and the confirmations of
/// other transactions it waits for.
type Later = (Transaction, u32, Vec<(Txid, u16)>);

/// Starts the queue's task unless it runs.
fn kick(shared: &Shared) {
    let mut i = shared.borrow_mut();
    if i.pumping || i.queue.is_empty() {
        if !i.pumping {
            for s in i.idle.drain(..) {
                s.resolve(&JsValue::UNDEFINED);
            }
        }
        return;
    }
    i.pumping = true;
    drop(i);
    spawn_local(pump(shared.clone()));
}

/// Carries out the queue in order; awaits each write.
async fn pump(shared: Shared) {
    loop {
        let item = {
            let mut i = shared.borrow_mut();
            if i.halted.is_some() {
                i.queue.clear();
            }
            match i.queue.pop_front() {
                Some(x) => x,
                None => {
                    i.pumping = false;
                    for s in i.idle.drain(..) {
                        s.resolve(&JsValue::UNDEFINED);
                    }
                    return;
                }
            }
        };
        match item {
            Item::Resolve(s, v) => s.resolve(&v),
            Item::Emit(ev) => emit(&shared, ev),
            Item::Meta(key, value) => {
                // Peer addresses and the fee estimate only spare the
                // application calls after a restart: a failed write does not
                // stop the node.
                let db = shared.borrow().db.clone();
                if let Some(db) = db {
                    let key = bytes(&key);
                    let (puts, deletes) = match value {
                        Some(v) => (Array::of1(&Array::of2(&key, &bytes(&v))), Array::new()),
                        None => (Array::new(), Array::of1(&key)),
                    };
                    let _ = write_one(&db, "meta", puts, deletes).await;
                }
            }
            Item::Act(a) => {
                if let Err(e) = carry_out(&shared, a).await {
                    halt(&shared, e);
                }
            }
        }
    }
}

/// Stops the queue for good and rejects everything pending with `e`.
fn halt(shared: &Shared, e: JsValue) {
    let listeners = {
        let mut i = shared.borrow_mut();
        if i.halted.is_some() {
            return;
        }
        i.halted = Some(e.clone());
        i.queue.clear();
        i.tick = None;
        i.known.clear();
        for (_, s) in i.pays.drain(..) {
            s.reject(&e);
        }
        for (_, s) in i.closes.drain(..) {
            s.reject(&e);
        }
        for o in i.opens.iter_mut() {
            if let Some(s) = o.settle.take() {
                s.reject(&e);
            }
        }
        for l in i.links.iter_mut() {
            if let Some(s) = l.connecting.take() {
                s.reject(&e);
            }
            if let Some(c) = l.conn.as_mut() {
                c.close();
            }
            if let Some(s) = &l.stream {
                s.close();
            }
        }
        i.listeners.clone()
    };
    let ev = event_object("stopped", &[("error", e)]);
    for (_, f) in listeners {
        call_listener(&f, &ev);
    }
}

/// What a thrown or rejected JS value says: an `Error`'s message, a
/// string, or a generic text.
fn message_of(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn storage_error(e: JsValue) -> JsValue {
    js_error(
        "STORAGE_IO",
        &format!("storage write failed: {}", message_of(&e)),
    )
}

/// Carries out one action; `Err` halts the queue.
async fn carry_out(shared: &Shared, a: NodeAction) -> Result<(), JsValue> {
    match a {
        NodeAction::PersistChannels(mut b) => {
            let (db, js) = {
                let mut i = shared.borrow_mut();
                // Chunks stored already are not written again.
                i.stored.strip_stored_chunks(&mut b);
                i.stored.apply(&b).map_err(to_js)?;
                let js = batch_to_js(&b);
                (i.db.clone(), js)
            };
            if let Some(db) = db {
                // Records and their chunks together: a record never counts
                // a chunk that is not stored.
                let writes = Array::of2(
                    &write("channels", js.puts, js.deletes),
                    &write("revoked", js.chunk_puts, js.chunk_deletes),
                );
                JsFuture::from(idb_write(&db, writes))
                    .await
                    .map_err(storage_error)?;
            }
        }
        NodeAction::PutPaymentRecord { key, value } => {
            let db = shared.borrow().db.clone();
            if let Some(db) = db {
                let put = Array::of2(&bytes(&key), &bytes(&value));
                write_one(&db, "payments", Array::of1(&put), Array::new()).await?;
            }
        }
        NodeAction::DeletePaymentRecord { key } => {
            let db = shared.borrow().db.clone();
            if let Some(db) = db {
                write_one(&db, "payments", Array::new(), Array::of1(&bytes(&key))).await?;
            }
        }
        NodeAction::Send { node_id, msg } => {
            let mut i = shared.borrow_mut();
            if let Some(id) = i.ready_link(&node_id) {
                if let Some(c) = i.link_mut(id).and_then(|l| l.conn.as_mut()) {
                    // A full send buffer closes the connection; the
                    // channel retransmits on reconnection.
                    let _ = c.send(&msg);
                }
                i.drive(id, shared);
            }
        }
        NodeAction::Disconnect { node_id } => {
            let mut i = shared.borrow_mut();
            let ids: Vec<u64> = i
                .links
                .iter()
                .filter(|l| l.node_id == node_id)
                .map(|l| l.id)
                .collect();
            for id in ids {
                if let Some(c) = i.link_mut(id).and_then(|l| l.conn.as_mut()) {
                    c.close();
                }
                i.drive(id, shared);
            }
        }
        NodeAction::Publish(tx) => emit(shared, publish_event(&tx)),
        NodeAction::PublishLater {
            tx,
            height,
            confirmed,
        } => {
            let ready = {
                let mut i = shared.borrow_mut();
                if i.later_ready(height, &confirmed) {
                    true
                } else {
                    i.later.push((tx.clone(), height, confirmed));
                    false
                }
            };
            if ready {
                emit(shared, publish_event(&tx));
            }
        }
        // The node keeps its watches (`watches()` lists them).
        NodeAction::Watch(_) => {}
        NodeAction::Event(e) => on_event(shared, e),
    }
    Ok(())
}

/// One store's part of an [`idb_write`]: `[store, puts, deletes]`.
fn write(store: &str, puts: Array, deletes: Array) -> JsValue {
    Array::of3(&store.into(), &puts, &deletes).into()
}

/// Writes to one store, durably.
async fn write_one(db: &JsValue, store: &str, puts: Array, deletes: Array) -> Result<(), JsValue> {
    JsFuture::from(idb_write(db, Array::of1(&write(store, puts, deletes))))
        .await
        .map(drop)
        .map_err(storage_error)
}

fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// A channel batch as IndexedDB writes it.
struct JsBatch {
    puts: Array,
    deletes: Array,
    chunk_puts: Array,
    chunk_deletes: Array,
}

fn batch_to_js(b: &Batch) -> JsBatch {
    let js = JsBatch {
        puts: Array::new(),
        deletes: Array::new(),
        chunk_puts: Array::new(),
        chunk_deletes: Array::new(),
    };
    for op in &b.ops {
        match op {
            Op::Put(r) => {
                js.puts.push(&Array::of2(
                    &bytes(&r.channel_id.0),
                    &bytes(&record_to_bytes(r)),
                ));
                for c in &r.chunks {
                    js.chunk_puts.push(&Array::of2(
                        &bytes(&chunk_key(&r.channel_id, c.index)),
                        &bytes(&c.data),
                    ));
                }
            }
            Op::Delete(id) => {
                js.deletes.push(&bytes(&id.0));
                js.chunk_deletes.push(&Array::of2(
                    &bytes(&chunk_key(id, 0)),
                    &bytes(&chunk_key(id, u32::MAX)),
                ));
            }
        }
    }
    js
}

/// Calls the listeners with `ev` (outside any borrow).
fn emit(shared: &Shared, ev: JsValue) {
    let listeners = shared.borrow().listeners.clone();
    for (_, f) in listeners {
        call_listener(&f, &ev);
    }
}

/// A plain object with these properties.
fn object(fields: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

fn event_object(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let o = object(fields);
    let _ = Reflect::set(&o, &"type".into(), &kind.into());
    o.into()
}

fn big(n: u64) -> JsValue {
    BigInt::from(n).into()
}

/// The `feeratePerKw` option (sat per 1000 weight), if given.
/// `feeratePerKw`, if given: at least 253 sat per 1000 weight (1 sat/vB,
/// what relays), and a u32.
fn feerate_option(f: &Fields) -> Result<Option<FeeratePerKw>, JsValue> {
    f.uint("feeratePerKw")?
        .map(|n| {
            u32::try_from(n)
                .ok()
                .filter(|&n| n >= FEERATE_FLOOR.0)
                .map(FeeratePerKw)
                .ok_or_else(|| bad_arg("feeratePerKw must be an integer from 253 to 2^32 - 1"))
        })
        .transpose()
}

/// The objects as an array, newest first (`None`: oldest).
fn newest_first(items: impl Iterator<Item = (Option<u64>, Object)>) -> Array {
    let mut items: Vec<_> = items.collect();
    items.sort_unstable_by_key(|(t, _)| core::cmp::Reverse(*t));
    items.into_iter().map(|(_, o)| JsValue::from(o)).collect()
}

fn hex_id(id: &ChannelId) -> JsValue {
    JsValue::from_str(&to_hex(&id.0))
}

fn publish_event(tx: &Transaction) -> JsValue {
    event_object(
        "publish",
        &[
            ("txid", tx.compute_txid().to_string().into()),
            ("txHex", serialize_hex(tx).into()),
        ],
    )
}

/// Settles what the event finishes and tells the listeners.
fn on_event(shared: &Shared, e: NodeEvent) {
    let ev = match e {
        NodeEvent::Payment(p) => payment_event(shared, p),
        NodeEvent::Channel(m) => channel_event(shared, m),
        NodeEvent::CommandRefused { .. } => None,
    };
    if let Some(ev) = ev {
        emit(shared, ev);
    }
}

fn payment_event(shared: &Shared, p: PaymentEvent) -> Option<JsValue> {
    let mut i = shared.borrow_mut();
    match p {
        PaymentEvent::PaymentReceived {
            payment_hash,
            amount,
        } => Some(event_object(
            "paymentReceived",
            &[
                ("paymentHash", to_hex(&payment_hash.0).into()),
                ("amountMsat", big(amount.0)),
            ],
        )),
        PaymentEvent::PaymentSent {
            payment_hash,
            preimage,
            amount,
            fee,
            attempts,
        } => {
            let result = object(&[
                ("paymentHash", to_hex(&payment_hash.0).into()),
                ("preimage", to_hex(&preimage.0).into()),
                ("amountMsat", big(amount.0)),
                ("feeMsat", big(fee.0)),
                ("attempts", attempts.into()),
            ]);
            i.settle_pays(&payment_hash, Ok(result.clone().into()));
            let _ = Reflect::set(&result, &"type".into(), &"paymentSent".into());
            Some(result.into())
        }
        PaymentEvent::PaymentFailed {
            payment_hash,
            failure,
        } => {
            let err = to_js(failure.clone());
            let _ = Reflect::set(&err, &"paymentHash".into(), &to_hex(&payment_hash.0).into());
            if let crate::payment::PayFailure::Route(r) = &failure {
                let _ = Reflect::set(&err, &"failureCode".into(), &r.code.into());
                let _ = Reflect::set(&err, &"hopIndex".into(), &(r.hop_index as u32).into());
                let _ = Reflect::set(
                    &err,
                    &"nodeId".into(),
                    &to_hex(&r.node_id.serialize()).into(),
                );
            }
            i.settle_pays(&payment_hash, Err(err.clone()));
            Some(event_object(
                "paymentFailed",
                &[
                    ("paymentHash", to_hex(&payment_hash.0).into()),
                    ("code", failure.code().into()),
                ],
            ))
        }
        PaymentEvent::ForwardSettled { payment_hash, fee } => Some(event_object(
            "forwarded",
            &[
                ("paymentHash", to_hex(&payment_hash.0).into()),
                ("feeMsat", big(fee.0)),
            ],
        )),
        _ => None,
    }
}

fn channel_event(shared: &Shared, m: ManagerEvent) -> Option<JsValue> {
    let (node_id, channel_id, event) = match m {
        ManagerEvent::Channel {
            node_id,
            channel_id,
            event,
        } => (node_id, channel_id, event),
        ManagerEvent::ChannelIdChanged {
            temporary_channel_id,
            channel_id,
            ..
        } => {
            let mut i = shared.borrow_mut();
            if let Some(o) = i
                .opens
                .iter_mut()
                .find(|o| o.temporary_channel_id == temporary_channel_id)
            {
                o.channel_id = Some(channel_id);
            }
            return None;
        }
        ManagerEvent::PeerError {
            node_id,
            text,
            fatal,
        } => {
            return Some(event_object(
                "peerError",
                &[
                    ("nodeId", to_hex(&node_id.serialize()).into()),
                    ("channelId", JsValue::NULL),
                    ("message", text.into()),
                    ("fatal", fatal.into()),
                ],
            ))
        }
        _ => return None,
    };
    let nid = JsValue::from_str(&to_hex(&node_id.serialize()));
    match event {
        Event::FundingRequired {
            temporary_channel_id,
            script_pubkey,
            amount,
        } => {
            let fund = shared
                .borrow()
                .opens
                .iter()
                .find(|o| o.temporary_channel_id == temporary_channel_id)
                .map(|o| o.fund.clone());
            if let Some(fund) = fund {
                spawn_local(fund_channel(
                    shared.clone(),
                    fund,
                    temporary_channel_id,
                    script_pubkey,
                    amount,
                ));
            }
            None
        }
        Event::ChannelFunded {
            channel_id,
            funding_txid,
        } => {
            let mut i = shared.borrow_mut();
            if let Some(k) = i.opening(&channel_id) {
                let o = i.opens.remove(k);
                if let Some(s) = o.settle {
                    let r = object(&[
                        ("channelId", hex_id(&channel_id)),
                        ("fundingTxid", funding_txid.to_string().into()),
                    ]);
                    // After the funding transaction's `publish` event.
                    i.queue.push_back(Item::Resolve(s, r.into()));
                }
            }
            Some(event_object(
                "channelFunded",
                &[
                    ("channelId", hex_id(&channel_id)),
                    ("nodeId", nid),
                    ("fundingTxid", funding_txid.to_string().into()),
                ],
            ))
        }
        Event::ChannelReady {
            channel_id, scid, ..
        } => Some(event_object(
            "channelReady",
            &[
                ("channelId", hex_id(&channel_id)),
                ("nodeId", nid),
                (
                    "shortChannelId",
                    scid.map_or(JsValue::NULL, |s| s.to_string().into()),
                ),
            ],
        )),
        Event::PeerError { text, fatal } => {
            if fatal {
                fail_open(
                    shared,
                    &channel_id,
                    js_error("OPEN_FAILED", &format!("the peer refused: {text}")),
                );
            }
            Some(event_object(
                "peerError",
                &[
                    ("nodeId", nid),
                    ("channelId", hex_id(&channel_id)),
                    ("message", text.into()),
                    ("fatal", fatal.into()),
                ],
            ))
        }
        Event::Forgotten => {
            fail_open(
                shared,
                &channel_id,
                js_error("OPEN_FAILED", "the channel was abandoned before funding"),
            );
            None
        }
        Event::MutualClose { txid } => Some(closed(shared, &channel_id, nid, "mutual", txid)),
        Event::ForceClosed { txid, ours } => Some(closed(
            shared,
            &channel_id,
            nid,
            if ours { "localForce" } else { "remoteForce" },
            txid,
        )),
        Event::RevokedCommitmentSeen { penalty_txid, .. } => {
            Some(closed(shared, &channel_id, nid, "breach", penalty_txid))
        }
        _ => None,
    }
}

/// The `channelClosing` event; settles the `closeChannel` calls waiting
/// for this channel with it.
fn closed(
    shared: &Shared,
    channel_id: &ChannelId,
    nid: JsValue,
    kind: &str,
    txid: Txid,
) -> JsValue {
    let ev = closed_event(channel_id, nid, kind, txid);
    let waiting: Vec<Settle> = {
        let mut i = shared.borrow_mut();
        let (now, later) = std::mem::take(&mut i.closes)
            .into_iter()
            .partition(|(id, _)| id == channel_id);
        i.closes = later;
        now.into_iter().map(|(_, s)| s).collect()
    };
    if !waiting.is_empty() {
        let result = object(&[
            ("channelId", hex_id(channel_id)),
            ("kind", kind.into()),
            ("txid", txid.to_string().into()),
        ]);
        for s in waiting {
            s.resolve(&result);
        }
    }
    ev
}

fn closed_event(channel_id: &ChannelId, nid: JsValue, kind: &str, txid: Txid) -> JsValue {
    event_object(
        "channelClosing",
        &[
            ("channelId", hex_id(channel_id)),
            ("nodeId", nid),
            ("kind", kind.into()),
            ("txid", txid.to_string().into()),
        ],
    )
}

fn fail_open(shared: &Shared, channel_id: &ChannelId, e: JsValue) {
    let mut i = shared.borrow_mut();
    if let Some(k) = i.opening(channel_id) {
        if let Some(s) = i.opens.remove(k).settle {
            s.reject(&e);
        }
    }
}

/// Asks the application's `fund` for the funding transaction and hands it
/// to the channel.
async fn fund_channel(
    shared: Shared,
    fund: Function,
    temporary_channel_id: ChannelId,
    script_pubkey: ScriptBuf,
    amount: Sat,
) {
    let req: JsValue = object(&[
        ("temporaryChannelId", hex_id(&temporary_channel_id)),
        ("scriptPubKey", to_hex(script_pubkey.as_bytes()).into()),
        ("amountSat", big(amount.0)),
    ])
    .into();
    let answer = JsFuture::from(call_fund(&fund, &req)).await;
    let tx = answer
        .map_err(|e| js_error("FUNDING_FAILED", &format!("fund: {}", message_of(&e))))
        .and_then(|v| {
            v.as_string()
                .and_then(|h| deserialize_hex::<Transaction>(&h).ok())
                .ok_or_else(|| {
                    js_error(
                        "FUNDING_FAILED",
                        "fund must resolve with a transaction in hex",
                    )
                })
        })
        .and_then(|tx| {
            let n = tx
                .output
                .iter()
                .position(|o| o.script_pubkey == script_pubkey && o.value.to_sat() == amount.0)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| {
                    js_error(
                        "FUNDING_FAILED",
                        "the funding transaction has no output paying amountSat to scriptPubKey",
                    )
                })?;
            Ok((tx, n))
        });
    let result = {
        let mut i = shared.borrow_mut();
        if i.halted.is_some() {
            return;
        }
        match tx {
            Ok((tx, output_index)) => i
                .node
                .command(
                    temporary_channel_id,
                    Command::FundingTx { tx, output_index },
                )
                .map(|acts| i.enqueue(acts))
                .map_err(to_js),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = result {
        fail_open(&shared, &temporary_channel_id, e);
    }
    kick(&shared);
}

impl Inner {
    fn enqueue(&mut self, acts: Vec<NodeAction>) {
        self.queue.extend(acts.into_iter().map(Item::Act));
    }

    /// Remembers where `node_id` is reached, for reconnecting (a fresh
    /// start: no attempt made, no timer armed).
    fn know(&mut self, node_id: PublicKey, url: String, timeout: Duration) {
        let k = Known {
            node_id,
            url,
            timeout,
            attempts: 0,
            timer: None,
        };
        match self.known.iter_mut().find(|k| k.node_id == node_id) {
            Some(old) => *old = k,
            None => self.known.push(k),
        }
    }

    fn link_mut(&mut self, id: u64) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.id == id)
    }

    fn ready_link(&self, node_id: &PublicKey) -> Option<u64> {
        self.links
            .iter()
            .find(|l| l.node_id == *node_id && l.ready)
            .map(|l| l.id)
    }

    fn opening(&self, channel_id: &ChannelId) -> Option<usize> {
        self.opens.iter().position(|o| {
            o.temporary_channel_id == *channel_id || o.channel_id == Some(*channel_id)
        })
    }

    /// The feerate of an open or a cooperative close given none: the last
    /// estimate, or [`DEFAULT_FEERATE`].
    fn default_feerate(&self) -> FeeratePerKw {
        self.fee_estimate.unwrap_or(DEFAULT_FEERATE)
    }

    fn settle_pays(&mut self, hash: &PaymentHash, result: Result<JsValue, JsValue>) {
        let mut k = 0;
        while k < self.pays.len() {
            if self.pays[k].0 == *hash {
                let (_, s) = self.pays.remove(k);
                match &result {
                    Ok(v) => s.resolve(v),
                    Err(e) => s.reject(e),
                }
            } else {
                k += 1;
            }
        }
    }

    fn later_ready(&self, height: u32, confirmed: &[(Txid, u16)]) -> bool {
        let tip = self.node.best_height();
        tip >= height
            && confirmed.iter().all(|(t, n)| {
                self.confirmed_at
                    .get(t)
                    .is_some_and(|h| u64::from(tip) + 1 >= u64::from(*h) + u64::from(*n))
            })
    }

    /// Writes the link's bytes, hands its events to the node, re-arms its
    /// timer, and lets it go once closed.
    fn drive(&mut self, id: u64, shared: &Shared) {
        let mut events = vec![];
        let Some(l) = self.link_mut(id) else {
            return;
        };
        if let Some(c) = l.conn.as_mut() {
            let out = c.take_outbound();
            if !out.is_empty() {
                if let Some(s) = &l.stream {
                    if s.send(&out).is_err() {
                        c.stream_closed();
                    }
                }
            }
            while let Some(e) = c.next_event() {
                events.push(e);
            }
        }
        for e in events {
            self.peer_event(id, e);
        }
        let Some(l) = self.link_mut(id) else {
            return;
        };
        let closed = l.conn.as_ref().is_some_and(|c| c.is_closed());
        if closed {
            if let Some(c) = l.conn.as_mut() {
                let out = c.take_outbound();
                if let Some(s) = &l.stream {
                    let _ = s.send(&out);
                    s.close();
                }
            }
            l.timer = None;
            if l.stream.as_ref().map_or(true, |s| s.is_finished()) {
                self.remove_link(id, None, shared);
            }
            return;
        }
        let weak = Rc::downgrade(shared);
        l.timer = l.conn.as_ref().and_then(|c| c.next_deadline()).map(|d| {
            Timer::once(d.since(now()) + Duration::from_millis(1), move || {
                with_link(&weak, id, |c| c.tick(now()))
            })
        });
    }

    fn peer_event(&mut self, id: u64, e: PeerEvent) {
        let Some(l) = self.link_mut(id) else {
            return;
        };
        let node_id = l.node_id;
        match e {
            PeerEvent::Connected(info) => {
                l.ready = true;
                let settle = l.connecting.take();
                let features: Array = info
                    .features
                    .bits()
                    .map(|b| JsValue::from_f64(b as f64))
                    .collect();
                l.features = features.clone();
                let (url, timeout) = (l.url.clone(), l.timeout);
                self.queue.push_back(Item::Meta(
                    peer_key(&node_id),
                    Some(encode_peer(&(url.clone(), timeout))),
                ));
                self.know(node_id, url, timeout);
                let acts = self.node.handle(NodeInput::PeerConnected {
                    node_id,
                    features: info.features,
                });
                self.enqueue(acts);
                self.queue.push_back(Item::Emit(event_object(
                    "peerConnected",
                    &[("nodeId", to_hex(&node_id.serialize()).into())],
                )));
                if let Some(s) = settle {
                    let peer = object(&[
                        ("nodeId", to_hex(&node_id.serialize()).into()),
                        ("features", features.into()),
                    ]);
                    // After the reestablishments the connection set off.
                    self.queue.push_back(Item::Resolve(s, peer.into()));
                }
            }
            PeerEvent::Message(msg) => {
                let acts = self.node.handle(NodeInput::PeerMessage { node_id, msg });
                self.enqueue(acts);
            }
            PeerEvent::Error { channel_id, text } => {
                let msg = Message::Error(ErrorMessage::new(channel_id, &text));
                let acts = self.node.handle(NodeInput::PeerMessage { node_id, msg });
                self.enqueue(acts);
            }
            // The node hears of it when the link is let go (`remove_link`),
            // once the socket is closed too.
            PeerEvent::Disconnected(reason) => {
                if let Some(s) = l.connecting.take() {
                    s.reject(&to_js(TransportError::Disconnected(reason)));
                }
            }
            PeerEvent::Warning { .. } | PeerEvent::Pong { .. } | PeerEvent::PingReceived { .. } => {
            }
        }
    }

    fn remove_link(&mut self, id: u64, failure: Option<TransportError>, shared: &Shared) {
        let Some(k) = self.links.iter().position(|l| l.id == id) else {
            return;
        };
        let mut l = self.links.remove(k);
        if let Some(s) = l.connecting.take() {
            s.reject(&to_js(failure.unwrap_or(TransportError::Disconnected(
                DisconnectReason::StreamClosed,
            ))));
        }
        let reconnecting = self.halted.is_none() && self.schedule_reconnect(&l.node_id, shared);
        if l.ready {
            let acts = self
                .node
                .handle(NodeInput::PeerDisconnected { node_id: l.node_id });
            self.enqueue(acts);
            self.queue.push_back(Item::Emit(event_object(
                "peerDisconnected",
                &[
                    ("nodeId", to_hex(&l.node_id.serialize()).into()),
                    ("reconnecting", reconnecting.into()),
                ],
            )));
        }
        // This may run inside the stream's own callback.
        if let Some(s) = l.stream.take() {
            drop_later(s);
        }
    }

    /// Arms the reconnection timer of a known peer; false if it is not
    /// one (never connected, or `disconnect` was called).
    fn schedule_reconnect(&mut self, node_id: &PublicKey, shared: &Shared) -> bool {
        let Some(k) = self.known.iter_mut().find(|k| k.node_id == *node_id) else {
            return false;
        };
        let delay = RECONNECT_FIRST
            .saturating_mul(1 << k.attempts.min(16))
            .min(RECONNECT_MAX);
        k.attempts = k.attempts.saturating_add(1);
        let weak = Rc::downgrade(shared);
        let node_id = *node_id;
        k.timer = Some(Timer::once(delay, move || {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            {
                let mut i = shared.borrow_mut();
                let Some(k) = i.known.iter_mut().find(|k| k.node_id == node_id) else {
                    return;
                };
                k.timer = None;
                let (url, timeout) = (k.url.clone(), k.timeout);
                if i.halted.is_none() && !i.links.iter().any(|l| l.node_id == node_id) {
                    // A socket that cannot even be created is retried later.
                    if i.open_link(&shared, node_id, url, timeout, None).is_err() {
                        i.schedule_reconnect(&node_id, &shared);
                    }
                }
            }
            kick(&shared);
        }));
        true
    }

    /// Opens a WebSocket to `url` for `node_id`; `settle` hears of `init`.
    fn open_link(
        &mut self,
        shared: &Shared,
        node_id: PublicKey,
        url: String,
        timeout: Duration,
        settle: Option<Settle>,
    ) -> Result<(), JsValue> {
        let mut config = PeerConfig::new(chain_of(self.network));
        config.handshake_timeout = timeout;
        config.features = self.node.manager().our_features().clone();
        let id = self.next_link;
        self.next_link += 1;
        let weak = Rc::downgrade(shared);
        let stream = WsStream::open(&url, timeout, move |ev| {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            shared.borrow_mut().on_ws(id, ev, &shared);
            kick(&shared);
        })
        .map_err(to_js)?;
        self.links.push(Link {
            id,
            node_id,
            conn: None,
            pending: Some((config, self.node_secret)),
            stream: Some(stream),
            timer: None,
            connecting: settle,
            ready: false,
            features: Array::new(),
            url,
            timeout,
        });
        Ok(())
    }

    fn on_ws(&mut self, id: u64, ev: WsEvent, shared: &Shared) {
        let Some(l) = self.link_mut(id) else {
            return;
        };
        match ev {
            WsEvent::Open => {
                if let Some((config, key)) = l.pending.take() {
                    l.conn = Some(PeerConnection::outbound(
                        config,
                        &key,
                        &l.node_id,
                        &random_secret_key(),
                        now(),
                    ));
                }
            }
            WsEvent::Data(b) => {
                if let Some(c) = l.conn.as_mut() {
                    c.read(&b, now());
                }
            }
            WsEvent::OpenFailed(e) => {
                self.remove_link(id, Some(e), shared);
                return;
            }
            WsEvent::Closed { .. } => {
                if let Some(c) = l.conn.as_mut() {
                    c.stream_closed();
                }
                self.drive(id, shared);
                self.remove_link(id, None, shared);
                return;
            }
        }
        self.drive(id, shared);
    }
}

/// Runs `f` on a link's connection, then drives it and the queue.
fn with_link(weak: &Weak<RefCell<Inner>>, id: u64, f: impl FnOnce(&mut PeerConnection)) {
    let Some(shared) = weak.upgrade() else {
        return;
    };
    {
        let mut i = shared.borrow_mut();
        if let Some(c) = i.link_mut(id).and_then(|l| l.conn.as_mut()) {
            f(c);
        }
        i.drive(id, &shared);
    }
    kick(&shared);
}

fn arm_tick(shared: &Shared) {
    let weak = Rc::downgrade(shared);
    let t = Timer::once(TICK, move || {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        {
            let mut i = shared.borrow_mut();
            if i.halted.is_some() {
                return;
            }
            let acts = i.node.handle(NodeInput::Tick { now: unix_now() });
            i.enqueue(acts);
        }
        arm_tick(&shared);
        kick(&shared);
    });
    shared.borrow_mut().tick = Some(t);
}

// ----- argument parsing -----

fn fields(v: &JsValue, what: &str) -> Result<Fields, JsValue> {
    v.clone()
        .dyn_into::<Object>()
        .map(Fields)
        .map_err(|_| bad_arg(&format!("{what} must be an object")))
}

fn optional_fields(v: &JsValue, what: &str) -> Result<Fields, JsValue> {
    if v.is_undefined() || v.is_null() {
        Ok(Fields(Object::new()))
    } else {
        fields(v, what)
    }
}

fn node_id_arg(f: &Fields, key: &str) -> Result<PublicKey, JsValue> {
    f.string(key)?
        .and_then(|h| from_hex(&h))
        .and_then(|b| PublicKey::from_slice(&b).ok())
        .ok_or_else(|| bad_arg(&format!("{key} must be a 33-byte public key in hex")))
}

/// What `LnNode.create` was given.
struct CreateOptions {
    seed: Vec<u8>,
    network: Network,
    best_height: u32,
    indexed_db: Option<String>,
    proxy_url: Option<String>,
}

fn create_options(v: &JsValue) -> Result<CreateOptions, JsValue> {
    let f = fields(v, "options")?;
    let seed = f
        .string("seed")?
        .and_then(|h| from_hex(&h))
        .filter(|b| (16..=64).contains(&b.len()))
        .ok_or_else(|| bad_arg("seed must be 16 to 64 bytes of hex"))?;
    let network = match f.string("network")? {
        None => Network::Bitcoin,
        Some(n) => Network::from_name(&n)
            .ok_or_else(|| bad_arg("network must be bitcoin, testnet, signet or regtest"))?,
    };
    let best_height = f
        .uint("bestHeight")?
        .and_then(|h| u32::try_from(h).ok())
        .ok_or_else(|| bad_arg("bestHeight must be a block height"))?;
    let indexed_db = match f.get("storage")? {
        None => None,
        Some(s) if s.as_string().as_deref() == Some("memory") => None,
        Some(s) => {
            let name = fields(&s, "storage")
                .ok()
                .and_then(|o| o.string("indexedDb").ok().flatten())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| bad_arg("storage must be \"memory\" or { indexedDb: name }"))?;
            Some(name)
        }
    };
    Ok(CreateOptions {
        seed,
        network,
        best_height,
        indexed_db,
        proxy_url: f.string("proxyUrl")?,
    })
}

/// Reads every `[key, value]` pair of `store`.
async fn read_all(db: &JsValue, store: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>, JsValue> {
    let rows = JsFuture::from(idb_read_all(db, store)).await.map_err(|e| {
        js_error(
            "STORAGE_IO",
            &format!("reading {store}: {}", message_of(&e)),
        )
    })?;
    Ok(Array::from(&rows)
        .iter()
        .map(|r| {
            let r = Array::from(&r);
            (
                Uint8Array::new(&r.get(0)).to_vec(),
                Uint8Array::new(&r.get(1)).to_vec(),
            )
        })
        .collect())
}

/// Takes the database's lock and opens it. Two nodes on one database would
/// sign conflicting states of the same channels (and could publish a
/// revoked one): a second one is refused while the first runs, in this tab
/// or another. Without the Web Locks API (old browsers) nothing is locked.
async fn open_storage(name: &str) -> Result<(JsValue, Option<Function>), JsValue> {
    let lock = JsFuture::from(acquire_lock(&format!("lnwasm:{name}")))
        .await
        .unwrap_or(JsValue::NULL);
    if lock.as_bool() == Some(false) {
        return Err(js_error(
            "STORAGE_LOCKED",
            &format!("another LnNode is running on IndexedDB {name}"),
        ));
    }
    let lock: Option<Function> = lock.dyn_into().ok();
    match JsFuture::from(idb_open(name)).await {
        Ok(db) => Ok((db, lock)),
        Err(e) => {
            if let Some(release) = &lock {
                let _ = release.call0(&JsValue::UNDEFINED);
            }
            Err(js_error(
                "STORAGE_IO",
                &format!("opening IndexedDB {name}: {}", message_of(&e)),
            ))
        }
    }
}

fn close_storage(db: &JsValue, lock: &Option<Function>) {
    idb_close(db);
    if let Some(release) = lock {
        let _ = release.call0(&JsValue::UNDEFINED);
    }
}

/// What a node's database holds.
struct Stored {
    channels: Batch,
    payments: Vec<Vec<u8>>,
    peers: Vec<(PublicKey, String, Duration)>,
    fee_estimate: Option<FeeratePerKw>,
}

/// Checks the database belongs to `node_id` (marks it so when new) and
/// reads the channel and payment records.
async fn load_storage(name: &str, db: &JsValue, node_id: &PublicKey) -> Result<Stored, JsValue> {
    let meta = read_all(db, "meta").await?;
    let peers = meta.iter().filter_map(|(k, v)| decode_peer(k, v)).collect();
    let fee_estimate = meta
        .iter()
        .find(|(k, _)| k == FEE_ESTIMATE_KEY)
        .and_then(|(_, v)| decode_fee_estimate(v));
    match meta.iter().find(|(k, _)| k == NODE_ID_KEY) {
        Some((_, v)) if *v != node_id.serialize() => {
            return Err(js_error(
                "WRONG_SEED",
                &format!("IndexedDB {name} holds another node's channels"),
            ));
        }
        Some(_) => {}
        None => {
            let put = Array::of2(&bytes(NODE_ID_KEY), &bytes(&node_id.serialize()));
            write_one(db, "meta", Array::of1(&put), Array::new()).await?;
        }
    }
    let mut chunks: BTreeMap<ChannelId, Vec<RevokedChunk>> = BTreeMap::new();
    for (k, data) in read_all(db, "revoked").await? {
        let (id, index) = chunk_key_parts(&k)
            .ok_or_else(|| js_error("STORAGE_CORRUPT", "a revoked chunk's key is malformed"))?;
        chunks
            .entry(id)
            .or_default()
            .push(RevokedChunk { index, data });
    }
    let mut channels = Batch::new();
    for (_, v) in read_all(db, "channels").await? {
        let mut r = record_from_bytes(&v).map_err(to_js)?;
        r.chunks = chunks.remove(&r.channel_id).unwrap_or_default();
        channels = channels.put(r);
    }
    let payments = read_all(db, "payments")
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    Ok(Stored {
        channels,
        payments,
        peers,
        fee_estimate,
    })
}

async fn create(o: CreateOptions) -> Result<LnNode, JsValue> {
    let wallet = WalletKeys::from_seed(&o.seed, o.network.to_bitcoin()).map_err(to_js)?;
    let node_id = wallet.node_id().map_err(to_js)?;
    let node_secret = wallet.node_secret().map_err(to_js)?;
    let config = NodeConfig::new(o.network);
    let height = o.best_height;
    let mut channels = MemoryStore::new();
    let mut peers = vec![];
    let mut fee_estimate = None;
    let (node, acts, db) = match &o.indexed_db {
        None => (
            Node::new(wallet, config, height, unix_now()).map_err(to_js)?,
            vec![],
            None,
        ),
        Some(name) => {
            let (db, lock) = open_storage(name).await?;
            let loaded = match load_storage(name, &db, &node_id).await {
                Ok(stored) => {
                    peers = stored.peers;
                    fee_estimate = stored.fee_estimate;
                    channels
                        .apply(stored.channels)
                        .map_err(to_js)
                        .and_then(|()| {
                            Node::load(
                                wallet,
                                config,
                                &channels,
                                &stored.payments,
                                height,
                                unix_now(),
                            )
                            .map_err(to_js)
                        })
                }
                Err(e) => Err(e),
            };
            match loaded {
                Ok((node, acts)) => (node, acts, Some((db, lock))),
                Err(e) => {
                    close_storage(&db, &lock);
                    return Err(e);
                }
            }
        }
    };
    let (db, lock) = db.unzip();
    let shared: Shared = Rc::new(RefCell::new(Inner {
        node,
        node_secret,
        network: o.network,
        stored: channels.index(),
        db,
        lock: lock.flatten(),
        proxy_url: o.proxy_url,
        links: vec![],
        next_link: 0,
        known: vec![],
        queue: VecDeque::new(),
        pumping: false,
        halted: None,
        pays: vec![],
        fee_estimate: None,
        closes: vec![],
        opens: vec![],
        listeners: vec![],
        next_listener: 0,
        later: vec![],
        confirmed_at: BTreeMap::new(),
        tick: None,
        idle: vec![],
    }));
    {
        let mut i = shared.borrow_mut();
        i.enqueue(acts);
        if let Some(f) = fee_estimate {
            i.fee_estimate = Some(f);
            let acts = i.node.handle(NodeInput::FeeEstimate(f));
            i.enqueue(acts);
        }
        // Back to the peers it was connected to (until `disconnect`).
        for (node_id, url, timeout) in peers {
            i.know(node_id, url.clone(), timeout);
            if i.open_link(&shared, node_id, url, timeout, None).is_err() {
                i.schedule_reconnect(&node_id, &shared);
            }
        }
    }
    arm_tick(&shared);
    kick(&shared);
    Ok(LnNode { shared })
}

/// A Lightning node in the page: channels, payments, peers over
/// WebSockets, state in IndexedDB. See `LnNodeOptions` and the methods'
/// declarations in types.d.ts.
#[wasm_bindgen(skip_typescript)]
pub struct LnNode {
    shared: Shared,
}

/// The promise of `f`, rejected at once when the node is halted.
/// The options of `closeChannel` / `closeAllChannels`, checked.
struct CloseOptions {
    force: bool,
    script: Option<ScriptBuf>,
    feerate: Option<FeeratePerKw>,
}

fn close_options(options: &JsValue) -> Result<CloseOptions, JsValue> {
    let f = optional_fields(options, "options")?;
    let force = match f.get("force")? {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad_arg("force must be a boolean"))?,
    };
    let script = f
        .string("scriptPubKey")?
        .map(|h| {
            from_hex(&h)
                .map(ScriptBuf::from)
                .ok_or_else(|| bad_arg("scriptPubKey must be hex"))
        })
        .transpose()?;
    let feerate = feerate_option(&f)?;
    if force && (script.is_some() || feerate.is_some()) {
        return Err(bad_arg(
            "a force close takes neither scriptPubKey nor feeratePerKw",
        ));
    }
    Ok(CloseOptions {
        force,
        script,
        feerate,
    })
}

fn promise(shared: &Shared, f: impl FnOnce(&Shared, Settle) -> Result<(), JsValue>) -> Promise {
    let (p, settle) = Settle::new();
    let halted = shared.borrow().halted.clone();
    if let Some(e) = halted {
        settle.reject(&e);
        return p;
    }
    // `f` settles on success (now or from the queue); an `Err` rejects.
    if let Err(e) = f(shared, settle.clone()) {
        settle.reject(&e);
    }
    kick(shared);
    p
}

#[wasm_bindgen]
impl LnNode {
    /// Creates the node (and, with `storage: { indexedDb }`, loads what
    /// that database holds).
    #[wasm_bindgen(skip_typescript)]
    pub fn create(options: JsValue) -> Promise {
        let (p, settle) = Settle::new();
        match create_options(&options) {
            Err(e) => settle.reject(&e),
            Ok(o) => spawn_local(async move {
                match create(o).await {
                    Ok(n) => settle.resolve(&n.into()),
                    Err(e) => settle.reject(&e),
                }
            }),
        }
        p
    }

    #[wasm_bindgen(getter, js_name = nodeId, skip_typescript)]
    pub fn node_id(&self) -> String {
        to_hex(&self.shared.borrow().node.node_id().serialize())
    }

    #[wasm_bindgen(skip_typescript)]
    pub fn info(&self) -> JsValue {
        let i = self.shared.borrow();
        let channels = i.node.list_channels();
        object(&[
            (
                "nodeId",
                JsValue::from_str(&to_hex(&i.node.node_id().serialize())),
            ),
            ("network", i.network.as_str().into()),
            ("bestHeight", i.node.best_height().into()),
            (
                "feeEstimatePerKw",
                i.fee_estimate.map_or(JsValue::NULL, |f| f.0.into()),
            ),
            (
                "peers",
                i.links
                    .iter()
                    .filter(|l| l.ready)
                    .map(|l| JsValue::from_str(&to_hex(&l.node_id.serialize())))
                    .collect::<Array>()
                    .into(),
            ),
            (
                "activeChannels",
                (channels
                    .iter()
                    .filter(|c| c.status == Some(Status::Normal) && c.link == ChannelLink::Online)
                    .count() as u32)
                    .into(),
            ),
            ("channels", (channels.len() as u32).into()),
            ("stopped", i.halted.is_some().into()),
        ])
        .into()
    }

    /// Adds an event listener; returns the function that removes it.
    #[wasm_bindgen(js_name = onEvent, skip_typescript)]
    pub fn on_event(&self, listener: Function) -> Function {
        let mut i = self.shared.borrow_mut();
        let id = i.next_listener;
        i.next_listener += 1;
        i.listeners.push((id, listener));
        let weak = Rc::downgrade(&self.shared);
        Closure::once_into_js(move || {
            if let Some(s) = weak.upgrade() {
                s.borrow_mut().listeners.retain(|(k, _)| *k != id);
            }
        })
        .unchecked_into()
    }

    /// Connects to `<pubkey>@<host>:<port>` through the proxy (or a
    /// WebSocket URL); resolves once `init` was exchanged and the
    /// channels with the peer were told.
    #[wasm_bindgen(skip_typescript)]
    pub fn connect(&self, uri: JsValue, options: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let uri = uri
                .as_string()
                .ok_or_else(|| bad_arg("uri must be a string"))
                .and_then(|s| PeerUri::parse(&s).map_err(to_js))?;
            let f = optional_fields(&options, "options")?;
            let mut i = shared.borrow_mut();
            let url = match (f.string("websocketUrl")?, f.string("proxyUrl")?) {
                (Some(u), None) => u,
                (None, Some(p)) => uri.proxy_url(&p),
                (None, None) => match &i.proxy_url {
                    Some(p) => uri.proxy_url(p),
                    None => {
                        return Err(bad_arg(
                            "proxyUrl or websocketUrl is required (here or in LnNode.create)",
                        ))
                    }
                },
                (Some(_), Some(_)) => {
                    return Err(bad_arg("give proxyUrl or websocketUrl, not both"))
                }
            };
            let timeout = match f.uint("timeoutMs")? {
                Some(ms) if (1..=86_400_000).contains(&ms) => Duration::from_millis(ms),
                Some(_) => return Err(bad_arg("timeoutMs must be a positive number")),
                None => DEFAULT_CONNECT_TIMEOUT,
            };
            if let Some(l) = i.links.iter().find(|l| l.node_id == uri.node_id) {
                if l.ready {
                    let peer = object(&[
                        ("nodeId", to_hex(&uri.node_id.serialize()).into()),
                        ("features", l.features.clone().into()),
                    ]);
                    settle.resolve(&peer.into());
                    return Ok(());
                }
                return Err(js_error(
                    "ALREADY_CONNECTING",
                    "a connection to this peer is being set up",
                ));
            }
            // A reconnection under way gives way to this one.
            if let Some(k) = i.known.iter_mut().find(|k| k.node_id == uri.node_id) {
                k.timer = None;
            }
            i.open_link(shared, uri.node_id, url, timeout, Some(settle))
        })
    }

    /// Closes the connection to `nodeId`.
    #[wasm_bindgen(skip_typescript)]
    pub fn disconnect(&self, node_id: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let node_id = from_hex(&node_id.as_string().unwrap_or_default())
                .and_then(|b| PublicKey::from_slice(&b).ok())
                .ok_or_else(|| bad_arg("nodeId must be a 33-byte public key in hex"))?;
            let mut i = shared.borrow_mut();
            // No reconnection after this, now or after a restart.
            i.known.retain(|k| k.node_id != node_id);
            i.queue.push_back(Item::Meta(peer_key(&node_id), None));
            i.queue
                .push_back(Item::Act(NodeAction::Disconnect { node_id }));
            i.queue.push_back(Item::Resolve(settle, JsValue::UNDEFINED));
            Ok(())
        })
    }

    /// Opens a channel to a connected peer; `fund` is asked for the
    /// funding transaction. Resolves once the peer signed the first
    /// commitment (the funding transaction was handed to the `publish`
    /// event).
    #[wasm_bindgen(js_name = openChannel, skip_typescript)]
    pub fn open_channel(&self, options: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let f = fields(&options, "options")?;
            let node_id = node_id_arg(&f, "nodeId")?;
            let funding = f
                .big("fundingSat")?
                .ok_or_else(|| bad_arg("fundingSat is required"))?;
            let push = f.big("pushMsat")?.unwrap_or(0);
            let feerate = feerate_option(&f)?;
            let announce = match f.get("announce")? {
                None => false,
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| bad_arg("announce must be a boolean"))?,
            };
            let fund: Function = f
                .get("fund")?
                .and_then(|v| v.dyn_into().ok())
                .ok_or_else(|| bad_arg("fund must be a function"))?;
            let temporary_channel_id = ChannelId(random32());
            let mut i = shared.borrow_mut();
            let feerate = feerate.unwrap_or_else(|| i.default_feerate());
            let acts = i
                .node
                .open_channel(
                    node_id,
                    OpenRequest {
                        temporary_channel_id,
                        funding: Sat(funding),
                        push: Msat(push),
                        feerate,
                        announce,
                        peer_features: crate::wire::features::Features::empty(),
                        our_features: crate::wire::features::Features::empty(),
                        now: unix_now(),
                    },
                )
                .map_err(to_js)?;
            i.opens.push(Opening {
                temporary_channel_id,
                channel_id: None,
                fund,
                settle: Some(settle),
            });
            i.enqueue(acts);
            Ok(())
        })
    }

    #[wasm_bindgen(js_name = listChannels, skip_typescript)]
    pub fn list_channels(&self) -> Array {
        let i = self.shared.borrow();
        let views = i.node.channel_views();
        i.node
            .list_channels()
            .iter()
            .map(|c| {
                let usable = views
                    .iter()
                    .any(|v| v.channel_id == c.channel_id && v.usable);
                channel_to_js(c, usable)
            })
            .collect()
    }

    /// The invoices this node issued, newest first, with where each
    /// stands now.
    #[wasm_bindgen(js_name = listInvoices, skip_typescript)]
    pub fn list_invoices(&self) -> Array {
        let i = self.shared.borrow();
        let now = unix_now();
        newest_first(i.node.payments().invoices().map(|r| {
            let (status, received) = match r.status(now) {
                InvoiceStatus::Open => ("open", JsValue::NULL),
                InvoiceStatus::Paid { amount } => ("paid", big(amount.0)),
                InvoiceStatus::Expired => ("expired", JsValue::NULL),
            };
            let o = object(&[
                ("paymentHash", to_hex(&r.payment_hash.0).into()),
                ("amountMsat", r.amount.map_or(JsValue::NULL, |a| big(a.0))),
                ("createdAt", (r.created_at as f64).into()),
                ("expiresAt", (r.expires_at() as f64).into()),
                ("status", status.into()),
                ("receivedMsat", received),
            ]);
            (Some(r.created_at), o)
        }))
    }

    /// The payments this node sent or is sending, newest first.
    #[wasm_bindgen(js_name = listPayments, skip_typescript)]
    pub fn list_payments(&self) -> Array {
        let i = self.shared.borrow();
        newest_first(i.node.payments().outgoing_payments().map(|r| {
            let (status, preimage, fee) = match &r.status {
                OutgoingStatus::Pending => ("pending", JsValue::NULL, JsValue::NULL),
                OutgoingStatus::Succeeded { preimage, fee } => {
                    ("succeeded", to_hex(&preimage.0).into(), big(fee.0))
                }
                OutgoingStatus::Failed => ("failed", JsValue::NULL, JsValue::NULL),
            };
            let o = object(&[
                ("paymentHash", to_hex(&r.payment_hash.0).into()),
                ("payee", to_hex(&r.payee.serialize()).into()),
                ("amountMsat", big(r.amount.0)),
                ("status", status.into()),
                ("preimage", preimage),
                ("feeMsat", fee),
                ("attempts", r.attempts.into()),
                (
                    "createdAt",
                    r.created_at.map_or(JsValue::NULL, |t| (t as f64).into()),
                ),
            ]);
            (r.created_at, o)
        }))
    }

    /// A new block at `height`, with the transactions of it that touch
    /// the node's watches (or all of them), in hex, in block order.
    #[wasm_bindgen(js_name = blockConnected, skip_typescript)]
    pub fn block_connected(&self, height: JsValue, txs: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let height = height
                .as_f64()
                .filter(|h| h.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(h))
                .ok_or_else(|| bad_arg("height must be a block height"))?
                as u32;
            let txs = if txs.is_undefined() || txs.is_null() {
                vec![]
            } else {
                array(txs, "txs")?
                    .iter()
                    .enumerate()
                    .map(|(n, t)| {
                        t.as_string()
                            .and_then(|h| deserialize_hex::<Transaction>(&h).ok())
                            .map(|tx| (n as u32, tx))
                            .ok_or_else(|| bad_arg("txs must be transactions in hex"))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let mut i = shared.borrow_mut();
            // Confirmations are kept for watched transactions only (what
            // a delayed broadcast may wait for), however many are given.
            for (_, tx) in &txs {
                let txid = tx.compute_txid();
                let watched = i.node.watches().any(
                    |w| matches!(w, crate::node::Watch::Confirmed { txid: t, .. } if *t == txid),
                );
                if watched {
                    i.confirmed_at.insert(txid, height);
                }
            }
            let acts = i.node.handle(NodeInput::Block { height, txs });
            i.enqueue(acts);
            let later = std::mem::take(&mut i.later);
            for (tx, h, c) in later {
                if i.later_ready(h, &c) {
                    i.queue.push_back(Item::Act(NodeAction::Publish(tx)));
                } else {
                    i.later.push((tx, h, c));
                }
            }
            i.queue.push_back(Item::Resolve(settle, JsValue::UNDEFINED));
            Ok(())
        })
    }

    /// What the chain source should look for: `{ type: "confirmed", txid,
    /// scriptPubKey }` and `{ type: "spent", txid, vout }`.
    #[wasm_bindgen(skip_typescript)]
    pub fn watches(&self) -> Array {
        self.shared
            .borrow()
            .node
            .watches()
            .map(|w| match w {
                crate::node::Watch::Confirmed {
                    txid,
                    script_pubkey,
                } => event_object(
                    "confirmed",
                    &[
                        ("txid", txid.to_string().into()),
                        (
                            "scriptPubKey",
                            script_pubkey
                                .as_ref()
                                .map_or(JsValue::NULL, |s| to_hex(s.as_bytes()).into()),
                        ),
                    ],
                ),
                crate::node::Watch::Spent { outpoint } => event_object(
                    "spent",
                    &[
                        ("txid", outpoint.txid.to_string().into()),
                        ("vout", outpoint.vout.into()),
                    ],
                ),
            })
            .collect()
    }

    /// A new invoice; resolves once its preimage is stored.
    #[wasm_bindgen(js_name = createInvoice, skip_typescript)]
    pub fn create_invoice(&self, request: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let f = optional_fields(&request, "request")?;
            let description = match (f.string("description")?, f.string("descriptionHash")?) {
                (d, None) => Description::Direct(d.unwrap_or_default()),
                (None, Some(h)) => Description::Hash(hex32(&h, "descriptionHash")?),
                (Some(_), Some(_)) => {
                    return Err(bad_arg("give description or descriptionHash, not both"))
                }
            };
            let route_hints = f.route_hints()?;
            let min_final = match f.uint("minFinalCltvExpiryDelta")? {
                None => 18,
                Some(n) => {
                    u16::try_from(n).map_err(|_| bad_arg("minFinalCltvExpiryDelta is too large"))?
                }
            };
            let req = InvoiceRequest {
                amount: f.big("amountMsat")?.map(Msat),
                description,
                expiry_secs: f.uint("expirySeconds")?.unwrap_or(3600),
                min_final_cltv_expiry_delta: min_final,
                route_hints,
            };
            let mut i = shared.borrow_mut();
            let (s, acts) = i.node.create_invoice(req, &random32()).map_err(to_js)?;
            let hash = invoice::decode(&s).map_err(to_js)?.payment_hash().0;
            i.enqueue(acts);
            let r = object(&[
                ("paymentRequest", s.into()),
                ("paymentHash", to_hex(&hash).into()),
            ]);
            i.queue.push_back(Item::Resolve(settle, r.into()));
            Ok(())
        })
    }

    /// Pays a BOLT 11 invoice; resolves with the preimage, or rejects with
    /// the failure's code.
    #[wasm_bindgen(js_name = payInvoice, skip_typescript)]
    pub fn pay_invoice(&self, invoice: JsValue, options: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let s = invoice
                .as_string()
                .ok_or_else(|| bad_arg("invoice must be a string"))?;
            let inv = invoice::decode(&s).map_err(to_js)?;
            let f = optional_fields(&options, "options")?;
            let amount = f.big("amountMsat")?.map(Msat);
            let paying = amount.or(inv.amount()).unwrap_or(Msat(0));
            let params = PayParams {
                // Default: 1% (at least 1 sat) of what is paid.
                max_fee: Msat(f.big("maxFeeMsat")?.unwrap_or((paying.0 / 100).max(1000))),
                timeout_secs: f.uint("timeoutSeconds")?.unwrap_or(60),
                amount,
            };
            let mut i = shared.borrow_mut();
            let acts = i
                .node
                .pay_invoice(&inv, params, None, &random32())
                .map_err(to_js)?;
            i.pays.push((*inv.payment_hash(), settle));
            i.enqueue(acts);
            Ok(())
        })
    }

    /// The feerate that gets a transaction confirmed now (sat per 1000
    /// weight, at least 253), from the wallet's chain source; call it
    /// whenever the estimate changes. Our sweeps, penalties and HTLC claims
    /// are built at it, the peer's `update_fee` is checked against it, opens
    /// and cooperative closes given no feerate use it, and the channels we
    /// funded follow it with `update_fee`. Kept in the database.
    #[wasm_bindgen(js_name = setFeeEstimate, skip_typescript)]
    pub fn set_fee_estimate(&self, feerate_per_kw: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let rate = feerate_per_kw
                .as_f64()
                .filter(|r| r.fract() == 0.0 && (253.0..=f64::from(u32::MAX)).contains(r))
                .ok_or_else(|| bad_arg("feeratePerKw must be an integer of at least 253"))?
                as u32;
            let mut i = shared.borrow_mut();
            i.fee_estimate = Some(FeeratePerKw(rate));
            let acts = i.node.handle(NodeInput::FeeEstimate(FeeratePerKw(rate)));
            i.enqueue(acts);
            i.queue.push_back(Item::Meta(
                FEE_ESTIMATE_KEY.to_vec(),
                Some(rate.to_be_bytes().to_vec()),
            ));
            i.queue.push_back(Item::Resolve(settle, JsValue::UNDEFINED));
            Ok(())
        })
    }

    /// Closes a channel: cooperatively by default (`shutdown`, then a fee
    /// negotiated with the peer, paying to `scriptPubKey` or to the node's
    /// own key), or at once with our commitment (`force`). Resolves once
    /// the closing transaction is known (a `publish` event carries ours).
    #[wasm_bindgen(js_name = closeChannel, skip_typescript)]
    pub fn close_channel(&self, channel_id: JsValue, options: JsValue) -> Promise {
        promise(&self.shared, |shared, settle| {
            let id = channel_id
                .as_string()
                .and_then(|h| from_hex_array(&h))
                .map(ChannelId)
                .ok_or_else(|| bad_arg("channelId must be 32 bytes hex"))?;
            let CloseOptions {
                force,
                script,
                feerate,
            } = close_options(&options)?;
            let mut i = shared.borrow_mut();
            let command = if force {
                Command::ForceClose
            } else {
                let feerate = feerate.unwrap_or_else(|| i.default_feerate());
                Command::Close { script, feerate }
            };
            let acts = i.node.command(id, command).map_err(to_js)?;
            i.closes.push((id, settle));
            i.enqueue(acts);
            Ok(())
        })
    }

    /// Closes every open channel (`closeChannel` each, with `options`):
    /// cooperatively those in `normal` status, or, with `force`, also those
    /// already shutting down. Resolves with each one's outcome
    /// (`Promise.allSettled`), in `listChannels` order.
    #[wasm_bindgen(js_name = closeAllChannels, skip_typescript)]
    pub fn close_all_channels(&self, options: JsValue) -> Promise {
        if let Some(e) = self.shared.borrow().halted.clone() {
            return Promise::reject(&e);
        }
        let force = match close_options(&options) {
            Ok(o) => o.force,
            Err(e) => return Promise::reject(&e),
        };
        let ids: Vec<ChannelId> = self
            .shared
            .borrow()
            .node
            .list_channels()
            .iter()
            .filter(|c| match c.status {
                Some(Status::Normal) => true,
                Some(Status::ShuttingDown | Status::Negotiating) => force,
                _ => false,
            })
            .map(|c| c.channel_id)
            .collect();
        let closes: Array = ids
            .iter()
            .map(|id| JsValue::from(self.close_channel(hex_id(id), options.clone())))
            .collect();
        Promise::all_settled(&closes)
    }

    /// Resolves once every queued action is carried out.
    #[wasm_bindgen(skip_typescript)]
    pub fn flush(&self) -> Promise {
        let (p, settle) = Settle::new();
        let mut i = self.shared.borrow_mut();
        if !i.pumping && i.queue.is_empty() {
            settle.resolve(&JsValue::UNDEFINED);
        } else {
            i.idle.push(settle);
        }
        p
    }

    /// Finishes what is queued (writes included), closes every connection
    /// and the database; later calls reject with `NODE_STOPPED`.
    #[wasm_bindgen(skip_typescript)]
    pub fn stop(&self) -> Promise {
        let shared = self.shared.clone();
        let (p, settle) = Settle::new();
        spawn_local(async move {
            let _ = JsFuture::from(
                LnNode {
                    shared: shared.clone(),
                }
                .flush(),
            )
            .await;
            let (db, lock) = {
                let mut i = shared.borrow_mut();
                (i.db.clone(), i.lock.take())
            };
            halt(&shared, stopped_error());
            {
                let mut i = shared.borrow_mut();
                let ids: Vec<u64> = i.links.iter().map(|l| l.id).collect();
                for id in ids {
                    i.remove_link(id, None, &shared);
                }
                i.queue.clear();
                i.db = None;
            }
            if let Some(db) = db {
                close_storage(&db, &lock);
            }
            settle.resolve(&JsValue::UNDEFINED);
        });
        p
    }
}

fn channel_to_js(c: &ChannelInfo, usable: bool) -> JsValue {
    let status = match c.status {
        None => "opening",
        Some(Status::Opening) => "opening",
        Some(Status::Normal) => "normal",
        Some(Status::ShuttingDown) => "shuttingDown",
        Some(Status::Negotiating) => "negotiating",
        Some(Status::Closing) => "closing",
        Some(Status::WaitingForRemoteClose) => "waitingForRemoteClose",
        Some(Status::Closed) => "closed",
    };
    object(&[
        ("channelId", hex_id(&c.channel_id)),
        ("nodeId", to_hex(&c.node_id.serialize()).into()),
        ("status", status.into()),
        ("online", (c.link == ChannelLink::Online).into()),
        ("usable", usable.into()),
        ("outbound", c.outbound.into()),
        ("capacitySat", big(c.capacity.0)),
        ("localBalanceMsat", big(c.local_balance.0)),
        ("remoteBalanceMsat", big(c.remote_balance.0)),
        ("inFlightMsat", big(c.in_flight.0)),
        (
            "feeratePerKw",
            c.feerate.map_or(JsValue::NULL, |f| f.0.into()),
        ),
        (
            "channelType",
            c.channel_type.map_or(JsValue::NULL, |t| {
                match t {
                    ChannelType::StaticRemoteKey => "staticRemoteKey",
                    ChannelType::Anchors => "anchors",
                }
                .into()
            }),
        ),
        (
            "shortChannelId",
            c.short_channel_id
                .map_or(JsValue::NULL, |s| s.to_string().into()),
        ),
        (
            "fundingTxid",
            c.funding_txid
                .map_or(JsValue::NULL, |t| t.to_string().into()),
        ),
    ])
    .into()
}
