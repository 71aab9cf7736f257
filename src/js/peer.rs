//! `connectPeer`: a [`PeerConnection`] over a [`WsStream`], through an
//! `lnwasm-proxy` or straight to a WebSocket URL. Thin: it moves bytes and
//! time between the two and settles promises; the protocol is in
//! [`crate::peer`].

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bitcoin::constants::ChainHash;
use js_sys::{Array, Function, Promise, Reflect};
use secp256k1::SecretKey;
use wasm_bindgen::prelude::*;

use super::{bad_arg, to_js};
use crate::invoice::Network;
use crate::peer::{DisconnectReason, Millis, PeerConfig, PeerConnection, PeerEvent, PeerInfo};
use crate::transport::websocket::{drop_later, Timer, WsEvent, WsStream};
use crate::transport::{random_secret_key, PeerUri, TransportError};
use crate::util::{from_hex_array, to_hex};

#[wasm_bindgen(inline_js = r#"
export function makePeer(handle, nodeId, features, networks) {
  return {
    nodeId,
    features,
    networks,
    get isConnected() { return handle.isConnected(); },
    get pingsAnswered() { return handle.pingsAnswered(); },
    ping() { return handle.ping(); },
    disconnect() { return handle.disconnect(); },
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makePeer)]
    fn make_peer(handle: PeerHandle, node_id: &str, features: Array, networks: JsValue) -> JsValue;
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A promise's two functions.
#[derive(Clone)]
pub(super) struct Settle {
    resolve: Function,
    reject: Function,
}

impl Settle {
    pub(super) fn new() -> (Promise, Settle) {
        let mut parts = None;
        let promise = Promise::new(&mut |resolve, reject| parts = Some(Settle { resolve, reject }));
        // The executor runs synchronously inside `new Promise`.
        let settle = parts.unwrap_or_else(|| Settle {
            resolve: Function::new_no_args(""),
            reject: Function::new_no_args(""),
        });
        (promise, settle)
    }
    pub(super) fn resolve(self, v: &JsValue) {
        let _ = self.resolve.call1(&JsValue::UNDEFINED, v);
    }
    pub(super) fn reject(self, e: &JsValue) {
        let _ = self.reject.call1(&JsValue::UNDEFINED, e);
    }
}

struct Inner {
    conn: Option<PeerConnection>,
    stream: Option<WsStream>,
    timer: Option<Timer>,
    /// Settled with the `Peer` object once `init` was exchanged.
    connecting: Option<Settle>,
    pings: Vec<Settle>,
    closing: Vec<Settle>,
    closed: bool,
    pings_answered: u32,
    /// What was set up before the socket opened.
    pending: Option<Pending>,
}

struct Pending {
    config: PeerConfig,
    key: SecretKey,
    uri: PeerUri,
}

fn now() -> Millis {
    Millis(js_sys::Date::now().max(0.0) as u64)
}

type Shared = Rc<RefCell<Inner>>;

/// Runs `f` on the shared state, then does what it left to do.
fn with(inner: &Shared, f: impl FnOnce(&mut Inner)) {
    let mut i = inner.borrow_mut();
    f(&mut i);
    i.drive(inner);
}

impl Inner {
    /// Writes pending bytes, hands out events, re-arms the timer, and
    /// closes the socket once the connection closed.
    fn drive(&mut self, shared: &Shared) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let out = conn.take_outbound();
        if let Some(s) = &self.stream {
            if s.send(&out).is_err() {
                conn.stream_closed();
            }
        }
        while let Some(ev) = self.conn.as_mut().and_then(|c| c.next_event()) {
            self.on_event(ev, shared);
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if conn.is_closed() {
            let out = conn.take_outbound();
            if let Some(s) = &self.stream {
                let _ = s.send(&out);
                s.close();
            }
            self.timer = None;
            if self.stream.as_ref().map_or(true, |s| s.is_finished()) {
                self.finish(None);
            }
            return;
        }
        self.timer = conn.next_deadline().map(|d| {
            let weak = Rc::downgrade(shared);
            Timer::once(d.since(now()) + Duration::from_millis(1), move || {
                if let Some(inner) = weak.upgrade() {
                    with(&inner, |i| {
                        if let Some(c) = i.conn.as_mut() {
                            c.tick(now())
                        }
                    });
                }
            })
        });
    }

    fn on_event(&mut self, ev: PeerEvent, shared: &Shared) {
        match ev {
            PeerEvent::Connected(info) => {
                if let Some(s) = self.connecting.take() {
                    s.resolve(&peer_object(
                        &info,
                        PeerHandle {
                            inner: shared.clone(),
                        },
                    ));
                }
            }
            PeerEvent::Pong { rtt } => {
                for s in self.pings.drain(..) {
                    s.resolve(&JsValue::from_f64(rtt.as_secs_f64() * 1000.0));
                }
            }
            PeerEvent::PingReceived { answered: true, .. } => self.pings_answered += 1,
            PeerEvent::Disconnected(reason) => {
                let e = to_js(TransportError::Disconnected(reason));
                if let Some(s) = self.connecting.take() {
                    s.reject(&e);
                }
                for s in self.pings.drain(..) {
                    s.reject(&e);
                }
            }
            // Channel and gossip messages have no consumer yet.
            _ => {}
        }
    }

    /// The socket is gone: settle everything and break the reference
    /// cycles (stream callbacks -> Inner) so it can all be freed.
    fn finish(&mut self, failure: Option<TransportError>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let e =
            to_js(failure.unwrap_or(TransportError::Disconnected(DisconnectReason::StreamClosed)));
        if let Some(s) = self.connecting.take() {
            s.reject(&e);
        }
        for s in self.pings.drain(..) {
            s.reject(&e);
        }
        for s in self.closing.drain(..) {
            s.resolve(&JsValue::UNDEFINED);
        }
        self.timer = None;
        if let Some(s) = self.stream.take() {
            drop_later(s);
        }
    }

    fn on_ws(&mut self, ev: WsEvent) {
        match ev {
            WsEvent::Open => {
                if let Some(p) = self.pending.take() {
                    self.conn = Some(PeerConnection::outbound(
                        p.config,
                        &p.key,
                        &p.uri.node_id,
                        &random_secret_key(),
                        now(),
                    ));
                }
            }
            WsEvent::Data(bytes) => {
                if let Some(c) = self.conn.as_mut() {
                    c.read(&bytes, now());
                }
            }
            WsEvent::OpenFailed(e) => self.finish(Some(e)),
            WsEvent::Closed { .. } => {
                if let Some(c) = self.conn.as_mut() {
                    c.stream_closed();
                }
                // Events (the disconnection) are handed out by `drive`
                // before `finish` runs there.
            }
        }
    }
}

fn peer_object(info: &PeerInfo, handle: PeerHandle) -> JsValue {
    let features: Array = info
        .features
        .bits()
        .map(|b| JsValue::from_f64(b as f64))
        .collect();
    let networks = info.networks.as_ref().map_or(JsValue::NULL, |n| {
        n.iter()
            .map(|c| JsValue::from_str(&chain_name(c)))
            .collect::<Array>()
            .into()
    });
    make_peer(
        handle,
        &to_hex(&info.node_id.serialize()),
        features,
        networks,
    )
}

fn chain_name(c: &ChainHash) -> String {
    for (net, name) in [
        (ChainHash::BITCOIN, "bitcoin"),
        (ChainHash::TESTNET3, "testnet"),
        (ChainHash::SIGNET, "signet"),
        (ChainHash::REGTEST, "regtest"),
    ] {
        if *c == net {
            return name.to_string();
        }
    }
    to_hex(c.as_bytes())
}

pub(super) fn chain_of(n: Network) -> ChainHash {
    match n {
        Network::Bitcoin => ChainHash::BITCOIN,
        Network::Testnet => ChainHash::TESTNET3,
        Network::Signet => ChainHash::SIGNET,
        Network::Regtest => ChainHash::REGTEST,
    }
}

/// The connection behind a `Peer` object (internal: JS sees the `Peer`
/// interface of types.d.ts, so the class is left out of the declarations).
#[wasm_bindgen(skip_typescript)]
pub struct PeerHandle {
    inner: Shared,
}

#[wasm_bindgen]
impl PeerHandle {
    #[wasm_bindgen(js_name = isConnected, skip_typescript)]
    pub fn is_connected(&self) -> bool {
        let i = self.inner.borrow();
        !i.closed && i.conn.as_ref().is_some_and(|c| c.is_ready())
    }

    /// How many pings from the peer were answered.
    #[wasm_bindgen(js_name = pingsAnswered, skip_typescript)]
    pub fn pings_answered(&self) -> u32 {
        self.inner.borrow().pings_answered
    }

    /// Pings the peer; resolves with the round-trip time in milliseconds.
    // (`Result` so that the raw wasm export is typed without `any`.)
    #[wasm_bindgen(skip_typescript)]
    pub fn ping(&self) -> Result<Promise, JsValue> {
        let (promise, settle) = Settle::new();
        with(&self.inner, |i| {
            match i.conn.as_mut().map(|c| c.ping(now())) {
                Some(Ok(())) => i.pings.push(settle),
                Some(Err(e)) => settle.reject(&to_js(e)),
                None => settle.reject(&to_js(TransportError::Disconnected(
                    DisconnectReason::StreamClosed,
                ))),
            }
        });
        Ok(promise)
    }

    /// Closes the connection; resolves once the socket is closed.
    #[wasm_bindgen(skip_typescript)]
    pub fn disconnect(&self) -> Result<Promise, JsValue> {
        let (promise, settle) = Settle::new();
        with(&self.inner, |i| {
            if i.closed {
                settle.resolve(&JsValue::UNDEFINED);
                return;
            }
            i.closing.push(settle);
            match i.conn.as_mut() {
                Some(c) => c.close(),
                None => {
                    if let Some(s) = &i.stream {
                        s.close()
                    }
                }
            }
        });
        Ok(promise)
    }
}

/// Options of `connectPeer` (see `ConnectPeerOptions` in types.d.ts).
struct Options {
    url: String,
    timeout: Duration,
    config: PeerConfig,
    key: SecretKey,
}

fn options(uri: &PeerUri, v: &JsValue) -> Result<Options, JsValue> {
    let get = |k: &str| -> Result<Option<JsValue>, JsValue> {
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        if !v.is_object() {
            return Err(bad_arg("options must be an object"));
        }
        let x = Reflect::get(v, &JsValue::from_str(k)).map_err(|_| bad_arg(k))?;
        Ok((!x.is_undefined() && !x.is_null()).then_some(x))
    };
    let string = |k: &str| -> Result<Option<String>, JsValue> {
        get(k)?
            .map(|x| {
                x.as_string()
                    .ok_or_else(|| bad_arg(&format!("{k} must be a string")))
            })
            .transpose()
    };
    let millis = |k: &str| -> Result<Option<Duration>, JsValue> {
        get(k)?
            .map(|x| {
                x.as_f64()
                    .filter(|n| n.is_finite() && *n > 0.0 && *n <= 86_400_000.0)
                    .map(|n| Duration::from_millis(n as u64))
                    .ok_or_else(|| {
                        bad_arg(&format!("{k} must be a positive number of milliseconds"))
                    })
            })
            .transpose()
    };
    let url = match (string("websocketUrl")?, string("proxyUrl")?) {
        (Some(u), None) => u,
        (None, Some(p)) => uri.proxy_url(&p),
        (None, None) => return Err(bad_arg("one of proxyUrl and websocketUrl is required")),
        (Some(_), Some(_)) => return Err(bad_arg("give proxyUrl or websocketUrl, not both")),
    };
    let network = match string("network")? {
        None => Network::Bitcoin,
        Some(n) => Network::from_name(&n)
            .ok_or_else(|| bad_arg("network must be bitcoin, testnet, signet or regtest"))?,
    };
    let timeout = millis("timeoutMs")?.unwrap_or(DEFAULT_TIMEOUT);
    let mut config = PeerConfig::new(chain_of(network));
    config.handshake_timeout = timeout;
    if let Some(p) = millis("pingIntervalMs")? {
        config.ping_interval = Some(p);
    }
    let key = match string("nodeSecretKey")? {
        None => random_secret_key(),
        Some(h) => from_hex_array::<32>(&h)
            .and_then(|b| SecretKey::from_slice(&b).ok())
            .ok_or_else(|| bad_arg("nodeSecretKey must be a 32-byte secret key in hex"))?,
    };
    Ok(Options {
        url,
        timeout,
        config,
        key,
    })
}

/// Connects to a Lightning peer `<pubkey>@<host>:<port>` over a WebSocket
/// (through `proxyUrl`, or straight to `websocketUrl`), runs the BOLT 8
/// handshake and the `init` exchange, and resolves with a `Peer`. Rejects
/// with an `LnwasmError` whose `code` says why (never throws: the `Result`
/// only keeps the raw wasm export typed without `any`).
#[wasm_bindgen(js_name = connectPeer, unchecked_return_type = "Promise<Peer>")]
pub fn connect_peer(
    #[wasm_bindgen(unchecked_param_type = "string")] uri: JsValue,
    #[wasm_bindgen(js_name = options, unchecked_param_type = "ConnectPeerOptions")]
    options_js: JsValue,
) -> Result<Promise, JsValue> {
    let (promise, settle) = Settle::new();
    let prepared = uri
        .as_string()
        .ok_or_else(|| bad_arg("uri must be a string"))
        .and_then(|s| PeerUri::parse(&s).map_err(to_js))
        .and_then(|u| options(&u, &options_js).map(|o| (u, o)));
    let (peer_uri, o) = match prepared {
        Ok(x) => x,
        Err(e) => {
            settle.reject(&e);
            return Ok(promise);
        }
    };
    let inner: Shared = Rc::new(RefCell::new(Inner {
        conn: None,
        stream: None,
        timer: None,
        connecting: Some(settle),
        pings: Vec::new(),
        closing: Vec::new(),
        closed: false,
        pings_answered: 0,
        pending: Some(Pending {
            config: o.config,
            key: o.key,
            uri: peer_uri,
        }),
    }));
    // The stream's callbacks keep the connection alive until it closes.
    let hold = inner.clone();
    let opened = WsStream::open(&o.url, o.timeout, move |ev| {
        let closed = matches!(ev, WsEvent::Closed { .. });
        with(&hold, |i| i.on_ws(ev));
        if closed {
            with(&hold, |i| i.finish(None));
        }
    });
    let mut i = inner.borrow_mut();
    match opened {
        Ok(stream) => i.stream = Some(stream),
        Err(e) => i.finish(Some(e)),
    }
    Ok(promise)
}
