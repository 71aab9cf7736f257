//! End-to-end tests: the proxy runs in-process on 127.0.0.1:0, targets are
//! TCP servers on the loopback interface, and clients speak real WebSocket.
//! Nothing here reaches beyond this machine.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lnwasm_proxy::policy::parse_authority;
use lnwasm_proxy::{Config, Logger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

const WAIT: Duration = Duration::from_secs(5);

struct Proxy {
    addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start(mut config: Config) -> Proxy {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        config.logger = Logger::new(move |line| sink.lock().unwrap().push(line.to_string()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(lnwasm_proxy::run(config, listener));
        Proxy { addr, logs }
    }

    /// Wait until a log line containing all of `parts` appears.
    async fn log_line(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {parts:?}; have {:?}",
                self.logs.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn private_ok() -> Config {
    Config {
        allow_private: true,
        ..Config::default()
    }
}

/// A TCP echo server on `bind`; counts the connections it accepts.
async fn echo_server_on(bind: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut r, mut w) = sock.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, accepted)
}

async fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    echo_server_on("127.0.0.1:0").await
}

enum Upgrade {
    Open(Box<Ws>),
    Refused { status: u16, body: String },
}

impl Upgrade {
    fn open(self) -> Ws {
        match self {
            Upgrade::Open(ws) => *ws,
            Upgrade::Refused { status, body } => panic!("refused with {status}: {body}"),
        }
    }

    fn refused(self) -> (u16, String) {
        match self {
            Upgrade::Open(_) => panic!("expected a refusal, got an upgrade"),
            Upgrade::Refused { status, body } => (status, body),
        }
    }
}

/// Send a hand-written upgrade request (so any path, even one an URL parser
/// would reject, can be sent) and read the response.
async fn raw_upgrade(proxy: SocketAddr, request_head: &str, early: &[u8]) -> Upgrade {
    let mut tcp = TcpStream::connect(proxy).await.unwrap();
    let mut bytes = request_head.as_bytes().to_vec();
    bytes.extend_from_slice(early);
    tcp.write_all(&bytes).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = timeout(WAIT, tcp.read(&mut byte))
            .await
            .expect("response timed out")
            .unwrap();
        assert_eq!(
            n,
            1,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    if status == 101 {
        assert!(
            head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            "{head}"
        );
        return Upgrade::Open(Box::new(
            WebSocketStream::from_raw_socket(tcp, Role::Client, None).await,
        ));
    }
    let mut body = Vec::new();
    timeout(WAIT, tcp.read_to_end(&mut body))
        .await
        .unwrap()
        .unwrap();
    let body = String::from_utf8(body).unwrap();
    let len_header = format!("Content-Length: {}\r\n", body.len());
    assert!(head.contains(&len_header), "{head}");
    Upgrade::Refused { status, body }
}

fn upgrade_head(path: &str, origin: Option<&str>) -> String {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: proxy.test\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    )
}

async fn upgrade(proxy: &Proxy, path: &str) -> Upgrade {
    raw_upgrade(proxy.addr, &upgrade_head(path, None), b"").await
}

async fn upgrade_with_origin(proxy: &Proxy, path: &str, origin: Option<&str>) -> Upgrade {
    raw_upgrade(proxy.addr, &upgrade_head(path, origin), b"").await
}

async fn next_msg(ws: &mut Ws) -> Message {
    timeout(WAIT, ws.next())
        .await
        .expect("no message in time")
        .expect("stream ended")
        .expect("ws error")
}

/// Send `data` and read back exactly as many bytes.
async fn echo_round_trip(ws: &mut Ws, data: &[u8]) {
    ws.send(Message::binary(data.to_vec())).await.unwrap();
    let mut got = Vec::new();
    while got.len() < data.len() {
        match next_msg(ws).await {
            Message::Binary(b) => got.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, data);
}

/// After the proxy's close frame: send our reply and see the stream end.
async fn finish_close(ws: &mut Ws) {
    match timeout(WAIT, ws.next())
        .await
        .expect("close handshake timed out")
    {
        None => {}
        Some(other) => panic!("expected the stream to end, got {other:?}"),
    }
}

async fn expect_close(ws: &mut Ws, code: CloseCode) -> String {
    loop {
        match next_msg(ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, code, "close reason {:?}", frame.reason);
                finish_close(ws).await;
                return frame.reason.to_string();
            }
            Message::Close(None) => panic!("close without a code"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn relays_bytes_exactly_both_ways_with_tungstenite_client() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(private_ok()).await;
    let url = format!("ws://{}/v1/127_0_0_1/{}", proxy.addr, echo.port());
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let (ws, response) = tokio_tungstenite::client_async(url.into_client_request().unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 101);
    let (mut tx, mut rx) = ws.split();

    // 1 MiB of patterned data in uneven message sizes, read concurrently.
    let total: usize = 1 << 20;
    let data: Vec<u8> = (0..total).map(|i| (i * 7 + i / 251) as u8).collect();
    let expected = data.clone();
    let reader = tokio::spawn(async move {
        let mut got = Vec::with_capacity(total);
        while got.len() < total {
            match timeout(WAIT, rx.next()).await.unwrap().unwrap().unwrap() {
                Message::Binary(b) => got.extend_from_slice(&b),
                other => panic!("unexpected {other:?}"),
            }
        }
        (got, rx)
    });
    let mut sizes = [1usize, 2, 1000, 65535, 65536, 70000, 3].iter().cycle();
    let mut off = 0;
    while off < total {
        let n = (*sizes.next().unwrap()).min(total - off);
        tx.send(Message::binary(data[off..off + n].to_vec()))
            .await
            .unwrap();
        off += n;
    }
    let (got, rx) = reader.await.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "relayed bytes differ");

    let mut ws = tx.reunite(rx).unwrap();
    ws.close(None).await.unwrap();
    let line = proxy.log_line(&["reason=\"client closed\""]).await;
    assert!(line.contains(&format!("up={total} down={total}")), "{line}");
    assert!(
        line.contains(&format!("target=127.0.0.1:{}", echo.port())),
        "{line}"
    );
    assert!(
        line.contains("client=127.0.0.1 ")
            && line.contains("status=101")
            && line.contains("duration="),
        "{line}"
    );
}

#[tokio::test]
async fn host_port_path_formats() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(private_ok()).await;
    let port = echo.port();
    for path in [
        format!("/127.0.0.1:{port}"),
        format!("/localhost:{port}"),
        format!("/LOCALHOST.:{port}?session=1"),
        format!("/v1/127_0_0_1/{port}"),
    ] {
        let mut ws = upgrade(&proxy, &path).await.open();
        echo_round_trip(&mut ws, path.as_bytes()).await;
    }
}

#[tokio::test]
async fn bracketed_ipv6_path() {
    let Ok(probe) = TcpListener::bind("[::1]:0").await else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    drop(probe);
    let (echo, _) = echo_server_on("[::1]:0").await;
    let proxy = Proxy::start(private_ok()).await;
    for path in [
        format!("/[::1]:{}", echo.port()),
        format!("/%5B::1%5D:{}", echo.port()),
    ] {
        let mut ws = upgrade(&proxy, &path).await.open();
        echo_round_trip(&mut ws, b"over ipv6").await;
    }
    let (status, body) = raw_upgrade(
        Proxy::start(Config::default()).await.addr,
        &upgrade_head(&format!("/[::1]:{}", echo.port()), None),
        b"",
    )
    .await
    .refused();
    assert_eq!(status, 403);
    assert!(body.contains("loopback"), "{body}");
}

#[tokio::test]
async fn private_targets_refused_by_default() {
    let (echo, accepted) = echo_server().await;
    let proxy = Proxy::start(Config::default()).await;
    let port = echo.port();
    // All of these are refused before any connection attempt is made.
    let cases = [
        (format!("/v1/127_0_0_1/{port}"), "loopback"),
        (format!("/127.0.0.1:{port}"), "loopback"),
        (format!("/localhost:{port}"), "loopback"),
        ("/v1/10_0_0_1/9735".to_string(), "private"),
        ("/192.168.1.1:9735".to_string(), "private"),
        ("/100.64.0.1:9735".to_string(), "CGNAT"),
        ("/169.254.169.254:80".to_string(), "link-local"),
        ("/0.0.0.0:9735".to_string(), "unspecified"),
        ("/[fd00::1]:9735".to_string(), "unique-local"),
        ("/[::ffff:127.0.0.1]:9735".to_string(), "loopback"),
        ("/224.0.0.1:9735".to_string(), "multicast"),
        ("/255.255.255.255:9735".to_string(), "broadcast"),
        ("/192.0.2.1:9735".to_string(), "documentation"),
    ];
    for (path, why) in cases {
        let (status, body) = upgrade(&proxy, &path).await.refused();
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains(why), "{path}: {body}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a refused target was connected to"
    );
    let line = proxy.log_line(&["target=localhost:", "status=403"]).await;
    assert!(line.contains("loopback"), "{line}");
}

#[tokio::test]
async fn private_targets_allowed_with_flag() {
    let (echo, accepted) = echo_server().await;
    let proxy = Proxy::start(private_ok()).await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{}", echo.port()))
        .await
        .open();
    echo_round_trip(&mut ws, b"allowed").await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn origin_allowlist() {
    let (echo, _) = echo_server().await;
    let config = Config {
        allowed_origins: vec!["https://wallet.example".into()],
        ..private_ok()
    };
    let proxy = Proxy::start(config).await;
    let path = format!("/127.0.0.1:{}", echo.port());
    for origin in [
        None,
        Some("https://evil.example"),
        Some("http://wallet.example"),
        Some("null"),
    ] {
        let (status, body) = upgrade_with_origin(&proxy, &path, origin).await.refused();
        assert_eq!(status, 403, "{origin:?}");
        assert!(body.contains("origin"), "{body}");
    }
    let mut ws = upgrade_with_origin(&proxy, &path, Some("https://wallet.example"))
        .await
        .open();
    echo_round_trip(&mut ws, b"from the wallet").await;
}

#[tokio::test]
async fn target_allowlist() {
    let (echo, _) = echo_server().await;
    let (other, other_accepted) = echo_server().await;
    let allowed = parse_authority(&format!("127.0.0.1:{}", echo.port())).unwrap();
    let proxy = Proxy::start(Config {
        allowed_targets: vec![allowed],
        ..private_ok()
    })
    .await;

    let mut ws = upgrade(&proxy, &format!("/v1/127_0_0_1/{}", echo.port()))
        .await
        .open();
    echo_round_trip(&mut ws, b"listed").await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{}", echo.port()))
        .await
        .open();
    echo_round_trip(&mut ws, b"listed").await;

    for path in [
        format!("/127.0.0.1:{}", other.port()),
        format!("/localhost:{}", echo.port()),
    ] {
        let (status, body) = upgrade(&proxy, &path).await.refused();
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("target not allowed"), "{body}");
    }
    assert_eq!(other_accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn per_ip_limit() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(Config {
        max_conns_per_ip: 2,
        ..private_ok()
    })
    .await;
    let path = format!("/127.0.0.1:{}", echo.port());
    let mut first = upgrade(&proxy, &path).await.open();
    let mut second = upgrade(&proxy, &path).await.open();
    let (status, body) = upgrade(&proxy, &path).await.refused();
    assert_eq!(status, 429, "{body}");
    echo_round_trip(&mut second, b"still fine").await;

    first.close(None).await.unwrap();
    // The slot is freed when the proxy finishes with the connection.
    let deadline = Instant::now() + WAIT;
    loop {
        match upgrade(&proxy, &path).await {
            Upgrade::Open(mut ws) => {
                echo_round_trip(&mut ws, b"slot reused").await;
                break;
            }
            Upgrade::Refused { status, .. } => {
                assert_eq!(status, 429);
                assert!(Instant::now() < deadline, "slot never released");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test]
async fn total_limit() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(Config {
        max_conns: 1,
        ..private_ok()
    })
    .await;
    let path = format!("/127.0.0.1:{}", echo.port());
    let mut ws = upgrade(&proxy, &path).await.open();
    let (status, body) = upgrade(&proxy, &path).await.refused();
    assert_eq!(status, 503, "{body}");
    echo_round_trip(&mut ws, b"the one").await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let (echo, _) = echo_server().await;
    let idle = Duration::from_millis(600);
    let proxy = Proxy::start(Config {
        idle_timeout: Some(idle),
        ..private_ok()
    })
    .await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{}", echo.port()))
        .await
        .open();

    // Traffic keeps it open well past the timeout...
    let start = Instant::now();
    while start.elapsed() < idle * 2 {
        tokio::time::sleep(idle / 4).await;
        echo_round_trip(&mut ws, b"keepalive").await;
    }
    // ...and silence closes it.
    let last = Instant::now();
    let reason = expect_close(&mut ws, CloseCode::Away).await;
    let waited = last.elapsed();
    assert_eq!(reason, "idle timeout");
    assert!(
        waited >= idle - Duration::from_millis(100),
        "closed after only {waited:?}"
    );
    assert!(
        waited < idle + Duration::from_secs(2),
        "closed after {waited:?}"
    );
    proxy
        .log_line(&["reason=\"idle timeout\"", "status=101"])
        .await;
}

#[tokio::test]
async fn text_frames_are_refused() {
    let (eof_tx, eof_rx) = oneshot::channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let _ = sock.read_to_end(&mut got).await;
        let _ = eof_tx.send(got);
    });
    let proxy = Proxy::start(private_ok()).await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{port}")).await.open();
    ws.send(Message::binary(b"bin".to_vec())).await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    expect_close(&mut ws, CloseCode::Policy).await;
    // The TCP side is closed too, and the text never reached it.
    let got = timeout(WAIT, eof_rx).await.unwrap().unwrap();
    assert_eq!(got, b"bin");
    proxy.log_line(&["reason=\"text frame refused\""]).await;
}

#[tokio::test]
async fn ping_is_answered_and_not_relayed() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(private_ok()).await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{}", echo.port()))
        .await
        .open();
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    match next_msg(&mut ws).await {
        Message::Pong(p) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected pong, got {other:?}"),
    }
    ws.send(Message::Pong(b"unsolicited".to_vec().into()))
        .await
        .unwrap();
    echo_round_trip(&mut ws, b"data after ping").await;
    ws.close(None).await.unwrap();
    proxy
        .log_line(&["reason=\"client closed\"", "up=15 down=15"])
        .await;
}

#[tokio::test]
async fn peer_close_closes_websocket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(b"goodbye").await.unwrap();
    });
    let proxy = Proxy::start(private_ok()).await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{port}")).await.open();
    let mut got = Vec::new();
    loop {
        match next_msg(&mut ws).await {
            Message::Binary(b) => got.extend_from_slice(&b),
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::Normal);
                finish_close(&mut ws).await;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"goodbye");
    proxy
        .log_line(&["reason=\"peer closed\"", "up=0 down=7"])
        .await;
}

#[tokio::test]
async fn client_close_closes_tcp() {
    let (eof_tx, eof_rx) = oneshot::channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let _ = sock.read_to_end(&mut got).await;
        let _ = eof_tx.send(got);
    });
    let proxy = Proxy::start(private_ok()).await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{port}")).await.open();
    ws.send(Message::binary(b"act one".to_vec())).await.unwrap();
    ws.send(Message::binary(b", act two".to_vec()))
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    // The proxy answers the close handshake...
    assert!(matches!(next_msg(&mut ws).await, Message::Close(_)));
    // ...and the peer sees everything, then EOF.
    let got = timeout(WAIT, eof_rx).await.unwrap().unwrap();
    assert_eq!(got, b"act one, act two");

    // A client that just drops its socket also ends the TCP side.
    let (eof_tx, eof_rx) = oneshot::channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let _ = sock.read_to_end(&mut got).await;
        let _ = eof_tx.send(got);
    });
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{port}")).await.open();
    ws.send(Message::binary(b"x".to_vec())).await.unwrap();
    drop(ws);
    assert_eq!(timeout(WAIT, eof_rx).await.unwrap().unwrap(), b"x");
}

#[tokio::test]
async fn unreachable_target_gets_502() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let proxy = Proxy::start(private_ok()).await;
    let (status, body) = upgrade(&proxy, &format!("/v1/127_0_0_1/{port}"))
        .await
        .refused();
    assert_eq!(status, 502);
    assert!(body.contains("cannot connect to target"), "{body}");
    proxy.log_line(&["status=502", "cannot connect"]).await;
}

#[tokio::test]
async fn malformed_paths_get_400() {
    let proxy = Proxy::start(private_ok()).await;
    let cases = [
        ("/", "missing target"),
        ("/v1", "bad /v1 path"),
        ("/v1/127_0_0_1", "bad /v1 path"),
        ("/v1/127_0_0_1/9735/extra", "bad /v1 path"),
        ("/v1/127_0_1/9735", "bad /v1 address"),
        ("/v1/127.0.0.1/9735", "bad /v1 address"),
        ("/v1/300_0_0_1/9735", "bad /v1 address"),
        ("/v1/127_0_0_1/0", "bad port"),
        ("/v1/127_0_0_1/65536", "bad port"),
        ("/v1/127_0_0_1/port", "bad port"),
        ("/127.0.0.1", "missing port"),
        ("/127.0.0.1:", "bad port"),
        ("/127.0.0.1:9735/x", "unexpected characters"),
        ("/::1:9735", "must be bracketed"),
        ("/[::1:9735", "bad IPv6"),
        ("/[::1]", "missing port"),
        ("/-bad-.example:9735", "bad host name"),
        ("/exa%20mple.com:9735", "bad host name"),
        ("/2130706433:9735", "numeric"),
    ];
    for (path, why) in cases {
        let (status, body) = upgrade(&proxy, path).await.refused();
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(why), "{path}: {body}");
    }
    proxy
        .log_line(&["target=\"/v1/127_0_1/9735\"", "status=400"])
        .await;
}

#[tokio::test]
async fn non_upgrade_requests_are_refused() {
    let proxy = Proxy::start(private_ok()).await;
    let cases = [
        ("GET /127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n", 426),
        (
            "POST /127.0.0.1:1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            405,
        ),
        (
            "GET /127.0.0.1:1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            426,
        ),
        (
            "GET /127.0.0.1:1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            400,
        ),
        ("NOT HTTP AT ALL\r\n\r\n", 400),
    ];
    for (head, want) in cases {
        let (status, _) = raw_upgrade(proxy.addr, head, b"").await.refused();
        assert_eq!(status, want, "{head:?}");
    }
    let huge = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(10_000));
    let (status, _) = raw_upgrade(proxy.addr, &huge, b"").await.refused();
    assert_eq!(status, 431);
}

#[tokio::test]
async fn frames_sent_right_after_the_request_are_relayed() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(private_ok()).await;
    // A masked binary frame carrying "early", in the same write as the request.
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x82, 0x80 | 5];
    frame.extend_from_slice(&mask);
    frame.extend(b"early".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let head = upgrade_head(&format!("/127.0.0.1:{}", echo.port()), None);
    let mut ws = raw_upgrade(proxy.addr, &head, &frame).await.open();
    match next_msg(&mut ws).await {
        Message::Binary(b) => assert_eq!(&b[..], b"early"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn oversized_messages_end_the_connection() {
    let (echo, _) = echo_server().await;
    let proxy = Proxy::start(Config {
        max_message_size: 1024,
        ..private_ok()
    })
    .await;
    let mut ws = upgrade(&proxy, &format!("/127.0.0.1:{}", echo.port()))
        .await
        .open();
    echo_round_trip(&mut ws, &[7u8; 1024]).await;
    let _ = ws.send(Message::binary(vec![0u8; 1025])).await;
    // The proxy drops the connection; the client sees it end without data.
    match timeout(WAIT, ws.next()).await.unwrap() {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {}
        Some(Ok(other)) => panic!("unexpected {other:?}"),
    }
    proxy.log_line(&["client error", "up=1024 down=1024"]).await;
}

#[tokio::test]
async fn forwarded_for_is_used_only_when_trusted() {
    let (echo, _) = echo_server().await;
    let path = format!("/127.0.0.1:{}", echo.port());
    let head = |xff: &str| {
        upgrade_head(&path, None).replacen(
            "\r\n\r\n",
            &format!("\r\nX-Forwarded-For: {xff}\r\n\r\n"),
            1,
        )
    };

    // Trusted: limits and logs follow the forwarded address.
    let config = Config {
        trust_forwarded_for: true,
        max_conns_per_ip: 1,
        ..private_ok()
    };
    let proxy = Proxy::start(config).await;
    let mut a = raw_upgrade(proxy.addr, &head("198.51.100.9, 203.0.113.1"), b"")
        .await
        .open();
    let mut b = raw_upgrade(proxy.addr, &head("203.0.113.2"), b"")
        .await
        .open();
    let (status, _) = raw_upgrade(proxy.addr, &head("203.0.113.1"), b"")
        .await
        .refused();
    assert_eq!(status, 429);
    echo_round_trip(&mut a, b"a").await;
    echo_round_trip(&mut b, b"b").await;
    proxy.log_line(&["client=203.0.113.1 ", "status=429"]).await;

    // Not trusted (the default): the header is ignored.
    let proxy = Proxy::start(Config {
        max_conns_per_ip: 1,
        ..private_ok()
    })
    .await;
    let _a = raw_upgrade(proxy.addr, &head("203.0.113.1"), b"")
        .await
        .open();
    let (status, _) = raw_upgrade(proxy.addr, &head("203.0.113.2"), b"")
        .await
        .refused();
    assert_eq!(status, 429);
    proxy.log_line(&["client=127.0.0.1 ", "status=429"]).await;
}
