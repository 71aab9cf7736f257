//! The network side: accept loop, HTTP upgrade handling, target connect,
//! and the byte relay between WebSocket and TCP.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{lookup_host, TcpListener, TcpStream};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::config::Config;
use crate::policy::{
    check_addresses, origin_allowed, parse_path, target_allowed, ConnLimits, ConnSlot, Host,
    LimitExceeded,
};

/// Largest HTTP upgrade request accepted (request line plus headers).
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long the closing handshake may take once either side has ended.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// TCP read size; each read becomes one binary WebSocket message.
const RELAY_CHUNK: usize = 16 * 1024;

struct Shared {
    config: Config,
    limits: Arc<ConnLimits>,
}

/// Serve WebSocket upgrades on `listener` until the task is dropped or the
/// process exits. Each accepted connection runs in its own task.
pub async fn run(config: Config, listener: TcpListener) -> io::Result<()> {
    let shared = Arc::new(Shared {
        limits: ConnLimits::new(config.max_conns, config.max_conns_per_ip),
        config,
    });
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(handle(Arc::clone(&shared), stream, peer));
            }
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                shared
                    .config
                    .logger
                    .log(&format!("lnwasm-proxy: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The fields of the one log line written per connection.
struct LogEntry {
    client: IpAddr,
    target: String,
    addr: Option<SocketAddr>,
    status: Option<u16>,
    up: u64,
    down: u64,
    reason: String,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client={} target={}", self.client, self.target)?;
        if let Some(addr) = self.addr {
            write!(f, " addr={addr}")?;
        }
        match self.status {
            Some(s) => write!(f, " status={s}")?,
            None => write!(f, " status=-")?,
        }
        write!(f, " up={} down={}", self.up, self.down)
    }
}

async fn handle(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let started = Instant::now();
    // Counted from accept on, so clients that never finish their request
    // still hold a place; behind a trusted reverse proxy the real client is
    // only known once the request has been read.
    let slot = (!shared.config.trust_forwarded_for).then(|| shared.limits.try_acquire(peer.ip()));
    let _ = stream.set_nodelay(true);
    let mut entry = LogEntry {
        client: peer.ip(),
        target: "-".into(),
        addr: None,
        status: None,
        up: 0,
        down: 0,
        reason: String::new(),
    };

    match prepare(&shared, &mut stream, slot, &mut entry).await {
        Err(refusal) => {
            if let Some(status) = refusal.status {
                let _ = timeout(
                    CLOSE_GRACE,
                    send_refusal(&mut stream, status, &refusal.reason, refusal.header),
                )
                .await;
            }
            entry.status = refusal.status;
            entry.reason = refusal.reason;
        }
        Ok(ready) => {
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(ready.key.as_bytes())
            );
            if let Err(e) = stream.write_all(response.as_bytes()).await {
                entry.reason = format!("client error: {e}");
            } else {
                entry.status = Some(101);
                let ws_config = WebSocketConfig::default()
                    .read_buffer_size(RELAY_CHUNK)
                    .max_message_size(Some(shared.config.max_message_size))
                    .max_frame_size(Some(shared.config.max_message_size));
                let ws = WebSocketStream::from_partially_read(
                    stream,
                    ready.leftover,
                    Role::Server,
                    Some(ws_config),
                )
                .await;
                let up = AtomicU64::new(0);
                let down = AtomicU64::new(0);
                let end = relay(ws, ready.upstream, shared.config.idle_timeout, &up, &down).await;
                entry.up = up.load(Ordering::Relaxed);
                entry.down = down.load(Ordering::Relaxed);
                entry.reason = end.to_string();
            }
            drop(ready.slot);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    shared.config.logger.log(&format!(
        "lnwasm-proxy: {entry} duration={secs:.3}s reason={:?}",
        entry.reason
    ));
}

/// A connection that passed every check, with the upstream TCP connection open.
struct Ready {
    upstream: TcpStream,
    leftover: Vec<u8>,
    key: String,
    slot: ConnSlot,
}

/// Why a request is not upgraded. `status: None` means the client is closed
/// without a response (it went away or never sent a request).
struct Refusal {
    status: Option<u16>,
    reason: String,
    header: Option<&'static str>,
}

impl Refusal {
    fn http(status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            status: Some(status),
            reason: reason.into(),
            header: None,
        }
    }

    fn silent(reason: impl Into<String>) -> Self {
        Refusal {
            status: None,
            reason: reason.into(),
            header: None,
        }
    }

    fn with_header(mut self, header: &'static str) -> Self {
        self.header = Some(header);
        self
    }
}

/// Read and check the upgrade request, resolve and vet the target, and open
/// the TCP connection. The upgrade is only completed (by the caller) once
/// this has succeeded, so connect failures surface as HTTP errors.
async fn prepare(
    shared: &Shared,
    stream: &mut TcpStream,
    slot: Option<Result<ConnSlot, LimitExceeded>>,
    entry: &mut LogEntry,
) -> Result<Ready, Refusal> {
    let cfg = &shared.config;
    let req = match timeout(cfg.request_timeout, read_request(stream)).await {
        Err(_) => return Err(Refusal::http(408, "timed out waiting for the request")),
        Ok(Err(ReadError::Closed)) => {
            return Err(Refusal::silent("client closed before sending a request"))
        }
        Ok(Err(ReadError::Io(e))) => return Err(Refusal::silent(format!("client error: {e}"))),
        Ok(Err(ReadError::TooLarge)) => {
            return Err(Refusal::http(431, "request headers too large"))
        }
        Ok(Err(ReadError::Malformed)) => return Err(Refusal::http(400, "malformed HTTP request")),
        Ok(Ok(req)) => req,
    };
    entry.target = quote_path(&req.path);

    if req.method != "GET" {
        return Err(
            Refusal::http(405, "only GET WebSocket upgrades are served").with_header("Allow: GET")
        );
    }
    if !req.upgrade_websocket || !req.connection_upgrade {
        return Err(Refusal::http(426, "expected a WebSocket upgrade request")
            .with_header("Upgrade: websocket"));
    }
    if req.version.as_deref() != Some("13") {
        return Err(Refusal::http(426, "unsupported WebSocket version")
            .with_header("Sec-WebSocket-Version: 13"));
    }
    let Some(key) = req.key.filter(|k| !k.is_empty()) else {
        return Err(Refusal::http(400, "missing Sec-WebSocket-Key"));
    };
    if !origin_allowed(&cfg.allowed_origins, req.origin.as_deref()) {
        return Err(Refusal::http(403, "origin not allowed"));
    }
    if cfg.trust_forwarded_for {
        if let Some(ip) = req.forwarded_for {
            entry.client = ip;
        }
    }
    let slot = slot.unwrap_or_else(|| shared.limits.try_acquire(entry.client));
    let slot = slot.map_err(|e| match e {
        LimitExceeded::PerIp => Refusal::http(429, "too many connections from this address"),
        LimitExceeded::Total => Refusal::http(503, "proxy is at its connection limit"),
    })?;

    let target = parse_path(&req.path).map_err(|e| Refusal::http(400, e.to_string()))?;
    entry.target = target.to_string();
    if !target_allowed(&cfg.allowed_targets, &target) {
        return Err(Refusal::http(403, "target not allowed"));
    }

    // One deadline covers resolution and connecting.
    let deadline = Instant::now() + cfg.connect_timeout;
    let addrs: Vec<SocketAddr> = match &target.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        Host::Name(name) => {
            match timeout_at(deadline, lookup_host((name.as_str(), target.port))).await {
                Err(_) => return Err(Refusal::http(504, "timed out resolving target host")),
                Ok(Err(_)) => return Err(Refusal::http(502, "cannot resolve target host")),
                Ok(Ok(found)) => {
                    let mut addrs: Vec<SocketAddr> = Vec::new();
                    for a in found {
                        if !addrs.contains(&a) {
                            addrs.push(a);
                        }
                    }
                    addrs
                }
            }
        }
    };
    if addrs.is_empty() {
        return Err(Refusal::http(502, "target host has no addresses"));
    }
    let ips: Vec<IpAddr> = addrs.iter().map(|a| a.ip()).collect();
    if let Err((ip, why)) = check_addresses(&ips, cfg.allow_private) {
        return Err(Refusal::http(
            403,
            format!("target address {ip} refused: {why}"),
        ));
    }

    // Connect to exactly the addresses that were checked, in resolver order.
    let mut last_err = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(Refusal::http(504, "timed out connecting to target")),
            Ok(Ok(upstream)) => {
                let _ = upstream.set_nodelay(true);
                entry.addr = Some(addr);
                return Ok(Ready {
                    upstream,
                    leftover: req.leftover,
                    key,
                    slot,
                });
            }
            Ok(Err(e)) => last_err = Some(e),
        }
    }
    let e = last_err.map(|e| e.to_string()).unwrap_or_default();
    Err(Refusal::http(502, format!("cannot connect to target: {e}")))
}

fn quote_path(path: &str) -> String {
    let mut p: String = path.chars().take(200).collect();
    if p.len() < path.len() {
        p.push_str("...");
    }
    format!("{p:?}")
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

async fn send_refusal(
    stream: &mut TcpStream,
    status: u16,
    reason: &str,
    header: Option<&str>,
) -> io::Result<()> {
    let body = format!("{reason}\n");
    let extra = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        status_text(status),
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The parts of the upgrade request the proxy looks at.
struct Request {
    method: String,
    path: String,
    upgrade_websocket: bool,
    connection_upgrade: bool,
    version: Option<String>,
    key: Option<String>,
    origin: Option<String>,
    /// The last address of the last `X-Forwarded-For` header (the one the
    /// nearest reverse proxy appended), if it parses.
    forwarded_for: Option<IpAddr>,
    /// Bytes received after the request head (early WebSocket frames).
    leftover: Vec<u8>,
}

enum ReadError {
    Closed,
    Io(io::Error),
    TooLarge,
    Malformed,
}

fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

async fn read_request(stream: &mut TcpStream) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let mut req = Request {
                    method: parsed.method.unwrap_or("").to_string(),
                    path: parsed.path.unwrap_or("").to_string(),
                    upgrade_websocket: false,
                    connection_upgrade: false,
                    version: None,
                    key: None,
                    origin: None,
                    forwarded_for: None,
                    leftover: Vec::new(),
                };
                for h in parsed.headers.iter() {
                    let Ok(value) = std::str::from_utf8(h.value) else {
                        return Err(ReadError::Malformed);
                    };
                    let value = value.trim();
                    let name = h.name;
                    if name.eq_ignore_ascii_case("upgrade") {
                        req.upgrade_websocket |= has_token(value, "websocket");
                    } else if name.eq_ignore_ascii_case("connection") {
                        req.connection_upgrade |= has_token(value, "upgrade");
                    } else if name.eq_ignore_ascii_case("sec-websocket-version") {
                        req.version = Some(value.to_string());
                    } else if name.eq_ignore_ascii_case("sec-websocket-key") {
                        req.key = Some(value.to_string());
                    } else if name.eq_ignore_ascii_case("origin") {
                        req.origin = Some(value.to_string());
                    } else if name.eq_ignore_ascii_case("x-forwarded-for") {
                        req.forwarded_for =
                            value.rsplit(',').next().and_then(|v| v.trim().parse().ok());
                    }
                }
                req.leftover = buf[len..].to_vec();
                return Ok(req);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST_BYTES => continue,
            Ok(httparse::Status::Partial) => return Err(ReadError::TooLarge),
            Err(httparse::Error::TooManyHeaders) => return Err(ReadError::TooLarge),
            Err(_) => return Err(ReadError::Malformed),
        }
    }
}

/// How a relayed connection ended (the `reason` of its log line).
#[derive(Debug)]
enum End {
    ClientClosed,
    ClientGone,
    ClientError(String),
    TextFrame,
    PeerClosed,
    PeerError(String),
    Idle,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::ClientClosed => write!(f, "client closed"),
            End::ClientGone => write!(f, "client disconnected"),
            End::ClientError(e) => write!(f, "client error: {e}"),
            End::TextFrame => write!(f, "text frame refused"),
            End::PeerClosed => write!(f, "peer closed"),
            End::PeerError(e) => write!(f, "peer error: {e}"),
            End::Idle => write!(f, "idle timeout"),
        }
    }
}

/// Relay bytes both ways until either side closes, errs, or the connection
/// is idle; then close the other side.
async fn relay(
    ws: WebSocketStream<TcpStream>,
    upstream: TcpStream,
    idle_timeout: Option<Duration>,
    up: &AtomicU64,
    down: &AtomicU64,
) -> End {
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut tcp_rx, mut tcp_tx) = upstream.into_split();
    let base = Instant::now();
    let last_activity_ms = AtomicU64::new(0);
    let touch = || {
        let ms = u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX);
        last_activity_ms.store(ms, Ordering::Relaxed);
    };

    let client_to_peer = async {
        loop {
            match ws_rx.next().await {
                None => return End::ClientGone,
                Some(Ok(Message::Binary(data))) => {
                    if let Err(e) = tcp_tx.write_all(&data).await {
                        return End::PeerError(format!("write: {e}"));
                    }
                    up.fetch_add(data.len() as u64, Ordering::Relaxed);
                    touch();
                }
                Some(Ok(Message::Text(_))) => return End::TextFrame,
                Some(Ok(Message::Close(_))) => return End::ClientClosed,
                // Pings are answered by tungstenite on the next read; pongs
                // and raw frames carry nothing to relay.
                Some(Ok(_)) => {}
                Some(Err(e)) => return End::ClientError(e.to_string()),
            }
        }
    };

    let peer_to_client = async {
        let mut buf = vec![0u8; RELAY_CHUNK];
        loop {
            match tcp_rx.read(&mut buf).await {
                Ok(0) => return End::PeerClosed,
                Ok(n) => {
                    if let Err(e) = ws_tx.send(Message::binary(buf[..n].to_vec())).await {
                        return End::ClientError(e.to_string());
                    }
                    down.fetch_add(n as u64, Ordering::Relaxed);
                    touch();
                }
                Err(e) => return End::PeerError(format!("read: {e}")),
            }
        }
    };

    let idle_watch = async {
        let Some(limit) = idle_timeout else {
            return std::future::pending::<End>().await;
        };
        loop {
            let deadline =
                base + Duration::from_millis(last_activity_ms.load(Ordering::Relaxed)) + limit;
            if Instant::now() >= deadline {
                return End::Idle;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };

    let end = tokio::select! {
        end = client_to_peer => end,
        end = peer_to_client => end,
        end = idle_watch => end,
    };

    let close = match &end {
        End::TextFrame => Some((CloseCode::Policy, "text frames are not supported")),
        End::PeerClosed => Some((CloseCode::Normal, "peer closed the connection")),
        End::PeerError(_) => Some((CloseCode::Error, "peer connection failed")),
        End::Idle => Some((CloseCode::Away, "idle timeout")),
        End::ClientClosed | End::ClientGone | End::ClientError(_) => None,
    };
    match close {
        Some((code, reason)) => {
            // Start the closing handshake and wait briefly for the reply.
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = timeout(CLOSE_GRACE, async {
                if ws_tx.send(Message::Close(Some(frame))).await.is_ok() {
                    while let Some(Ok(_)) = ws_rx.next().await {}
                }
            })
            .await;
        }
        None => {
            // The client ended: let the peer see EOF, and flush our close reply.
            let _ = timeout(CLOSE_GRACE, tcp_tx.shutdown()).await;
            if matches!(end, End::ClientClosed) {
                let _ = timeout(CLOSE_GRACE, ws_tx.close()).await;
            }
        }
    }
    end
}
