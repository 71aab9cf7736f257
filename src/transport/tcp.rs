//! Native transport: a blocking driver for a [`PeerConnection`] over any
//! [`ByteStream`], implemented for `std::net::TcpStream`.
//!
//! ```no_run
//! # use lnwasm::transport::{PeerUri, tcp};
//! # use lnwasm::peer::PeerConfig;
//! # use std::time::Duration;
//! let uri = PeerUri::parse("02...@127.0.0.1:9735").unwrap();
//! let key = lnwasm::transport::random_secret_key();
//! let cfg = PeerConfig::new(bitcoin::constants::ChainHash::REGTEST);
//! let (mut peer, info) = tcp::connect(&uri, &key, cfg, Duration::from_secs(10)).unwrap();
//! let rtt = peer.ping(Duration::from_secs(5)).unwrap();
//! peer.disconnect();
//! ```

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use secp256k1::SecretKey;

use super::{random_secret_key, PeerUri, TransportError};
use crate::peer::{Millis, PeerConfig, PeerConnection, PeerEvent, PeerInfo, SendError};
use crate::wire::Message;

/// A byte stream the blocking driver can use.
pub trait ByteStream {
    /// Writes all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Reads what is available into `buf`, waiting at most `timeout`
    /// (which is non-zero). `Ok(Some(0))` is the end of the stream,
    /// `Ok(None)` means nothing arrived in time.
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>>;
    /// Closes the stream (both directions).
    fn shutdown(&mut self);
}

impl ByteStream for TcpStream {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        Write::write_all(self, bytes)
    }

    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        self.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match self.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(None),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn shutdown(&mut self) {
        let _ = TcpStream::shutdown(self, Shutdown::Both);
    }
}

/// A [`PeerConnection`] driven over a blocking [`ByteStream`]: every call
/// moves bytes and advances the connection's timers with the real clock.
pub struct BlockingPeer<S: ByteStream> {
    stream: S,
    conn: PeerConnection,
    epoch: Instant,
    /// Events read while waiting for something else.
    queued: VecDeque<PeerEvent>,
    stream_done: bool,
}

/// A peer over TCP.
pub type TcpPeer = BlockingPeer<TcpStream>;

impl<S: ByteStream> BlockingPeer<S> {
    /// Wraps a fresh connection (made with [`BlockingPeer::now`] as its
    /// start time, or [`Millis(0)`](Millis) — the clock starts at 0).
    pub fn new(stream: S, conn: PeerConnection) -> Self {
        let mut p = BlockingPeer {
            stream,
            conn,
            epoch: Instant::now(),
            queued: VecDeque::new(),
            stream_done: false,
        };
        p.flush();
        p
    }

    /// The driver's clock: milliseconds since it was created.
    pub fn now(&self) -> Millis {
        Millis(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// The sans-IO connection being driven.
    pub fn connection(&self) -> &PeerConnection {
        &self.conn
    }

    pub fn connection_mut(&mut self) -> &mut PeerConnection {
        &mut self.conn
    }

    fn flush(&mut self) {
        let out = self.conn.take_outbound();
        if !out.is_empty() && !self.stream_done && self.stream.write_all(&out).is_err() {
            self.conn.stream_closed();
        }
        if self.conn.is_closed() && !self.stream_done {
            // Whatever the connection said last (a warning) is written.
            let out = self.conn.take_outbound();
            if !out.is_empty() {
                let _ = self.stream.write_all(&out);
            }
            self.stream.shutdown();
            self.stream_done = true;
        }
    }

    /// Moves bytes for at most `max_wait`: writes what is pending, reads
    /// once (returning early when bytes arrive), runs the timers, writes again.
    pub fn pump(&mut self, max_wait: Duration) {
        self.flush();
        if self.conn.is_closed() {
            return;
        }
        let now = self.now();
        let until_deadline = self.conn.next_deadline().map_or(max_wait, |d| d.since(now));
        let wait = max_wait.min(until_deadline).max(Duration::from_millis(1));
        let mut buf = [0u8; 16 * 1024];
        match self.stream.read_timeout(&mut buf, wait) {
            Ok(Some(0)) | Err(_) => {
                self.stream_done = true;
                self.conn.stream_closed();
            }
            Ok(Some(n)) => {
                let now = self.now();
                self.conn.read(&buf[..n], now);
            }
            Ok(None) => {}
        }
        let now = self.now();
        self.conn.tick(now);
        self.flush();
    }

    /// The next event, waiting at most `timeout` for one.
    pub fn next_event(&mut self, timeout: Duration) -> Option<PeerEvent> {
        let start = Instant::now();
        loop {
            if let Some(e) = self.queued.pop_front().or_else(|| self.conn.next_event()) {
                return Some(e);
            }
            let left = timeout.checked_sub(start.elapsed())?;
            if self.conn.is_closed() || left.is_zero() {
                return None;
            }
            self.pump(left);
        }
    }

    /// Waits for the first event `f` maps to `Some`, keeping the others
    /// for [`BlockingPeer::next_event`]. A disconnection ends the wait.
    fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&PeerEvent) -> Option<T>,
    ) -> Result<T, TransportError> {
        let start = Instant::now();
        let mut skipped = VecDeque::new();
        let result = loop {
            let ev = self.queued.pop_front().or_else(|| self.conn.next_event());
            match ev {
                Some(e) => {
                    if let Some(t) = f(&e) {
                        break Ok(t);
                    }
                    if let PeerEvent::Disconnected(r) = &e {
                        let r = r.clone();
                        skipped.push_back(e);
                        break Err(TransportError::Disconnected(r));
                    }
                    skipped.push_back(e);
                }
                None => {
                    let Some(left) = timeout.checked_sub(start.elapsed()) else {
                        break Err(TransportError::Timeout);
                    };
                    if let Some(r) = self.conn.disconnect_reason() {
                        break Err(TransportError::Disconnected(r.clone()));
                    }
                    self.pump(left);
                }
            }
        };
        skipped.extend(self.queued.drain(..));
        self.queued = skipped;
        result
    }

    /// Runs the handshake and `init` exchange; the peer's accepted `init`.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<PeerInfo, TransportError> {
        if let Some(info) = self.conn.peer_info() {
            return Ok(info.clone());
        }
        self.wait_for(timeout, |e| match e {
            PeerEvent::Connected(info) => Some(info.clone()),
            _ => None,
        })
    }

    /// Pings the peer and waits for its pong: the round-trip time.
    pub fn ping(&mut self, timeout: Duration) -> Result<Duration, TransportError> {
        let now = self.now();
        self.conn.ping(now).map_err(send_error)?;
        self.flush();
        self.wait_for(timeout, |e| match e {
            PeerEvent::Pong { rtt } => Some(*rtt),
            _ => None,
        })
    }

    /// Queues `msg` and writes it.
    pub fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        self.conn.send(msg)?;
        self.flush();
        Ok(())
    }

    /// Closes the connection and the stream.
    pub fn disconnect(&mut self) {
        self.conn.close();
        self.flush();
    }

    /// Whether the connection is still up.
    pub fn is_connected(&self) -> bool {
        !self.conn.is_closed()
    }
}

fn send_error(e: SendError) -> TransportError {
    match e {
        SendError::Closed => {
            TransportError::Disconnected(crate::peer::DisconnectReason::LocalClose)
        }
        other => TransportError::Io(other.to_string()),
    }
}

/// Connects to `uri` over TCP with our node key `local_key` and completes
/// the handshake and `init` exchange within `timeout`.
pub fn connect(
    uri: &PeerUri,
    local_key: &SecretKey,
    config: PeerConfig,
    timeout: Duration,
) -> Result<(TcpPeer, PeerInfo), TransportError> {
    let addrs: Vec<_> = (
        uri.host.to_string().trim_matches(|c| c == '[' || c == ']'),
        uri.port,
    )
        .to_socket_addrs()
        .map_err(|e| TransportError::ConnectFailed(format!("{}: {e}", uri.host_port())))?
        .collect();
    let mut last = TransportError::ConnectFailed(format!("{}: no address", uri.host_port()));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let conn = PeerConnection::outbound(
                    config,
                    local_key,
                    &uri.node_id,
                    &random_secret_key(),
                    Millis(0),
                );
                let mut peer = BlockingPeer::new(stream, conn);
                let info = peer.wait_ready(timeout)?;
                return Ok((peer, info));
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => last = TransportError::ConnectTimeout,
            Err(e) => last = TransportError::ConnectFailed(format!("{addr}: {e}")),
        }
    }
    Err(last)
}

/// Accepts one connection on `listener` as node `local_key` and completes
/// the handshake and `init` exchange within `timeout` after accepting.
pub fn accept(
    listener: &TcpListener,
    local_key: &SecretKey,
    config: PeerConfig,
    timeout: Duration,
) -> Result<(TcpPeer, PeerInfo), TransportError> {
    let (stream, _) = listener
        .accept()
        .map_err(|e| TransportError::Io(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let conn = PeerConnection::inbound(config, local_key, &random_secret_key(), Millis(0));
    let mut peer = BlockingPeer::new(stream, conn);
    let info = peer.wait_ready(timeout)?;
    Ok((peer, info))
}
