//! The `ldk-peer` binary: READY line, a real peer behind it, clean exit on stdin close / SIGTERM.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldk_peer::{parse_peer_uri, Config, LdkNode};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const T: Duration = Duration::from_secs(10);

/// Everything the child wrote to stderr so far.
#[derive(Clone, Default)]
struct Stderr(Arc<Mutex<String>>);

impl Stderr {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
    async fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + T;
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in stderr:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn spawn(extra: &[&str]) -> (Child, String, Stderr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ldk-peer"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ldk-peer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(T, lines.next_line())
        .await
        .expect("READY within 10 s")
        .unwrap()
        .expect("a line on stdout");
    // Nothing else is ever printed to stdout.
    tokio::spawn(async move {
        if let Ok(Some(l)) = lines.next_line().await {
            panic!("unexpected stdout line {l:?}");
        }
    });
    let stderr = Stderr::default();
    let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            sink.0
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, line, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_ready_serves_a_peer_and_exits_when_stdin_closes() {
    let seed = "07".repeat(32);
    let (mut child, line, stderr) = spawn(&["--seed", &seed]).await;
    let uri = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("bad line {line:?}"));
    let (id, addr) = parse_peer_uri(uri).unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    // The seed fixes the node id: the same seed in-process gives the same key.
    let twin = LdkNode::start(Config::with_seed_byte(7)).await.unwrap();
    assert_eq!(twin.node_id(), id);
    drop(twin);

    let me = LdkNode::start(Config::with_seed_byte(8)).await.unwrap();
    let peer = me
        .connect_outbound(id, addr, T)
        .await
        .expect("connect to the binary");
    assert!(peer.init_features.requires_static_remote_key());
    stderr
        .wait_for(&format!(
            "peer connected {} (inbound) init features 0x",
            me.node_id()
        ))
        .await;
    me.disconnect(id);
    assert!(me.wait_for_peer_gone(id, T).await);
    stderr
        .wait_for(&format!("peer disconnected {}", me.node_id()))
        .await;

    drop(child.stdin.take()); // close stdin
    let status = tokio::time::timeout(T, child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    stderr.wait_for("stdin closed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_cleanly_on_sigterm() {
    let (mut child, line, stderr) = spawn(&[]).await;
    assert!(line.starts_with("READY "));
    // Keep stdin open throughout: tokio's Child::wait would close it, which also stops ldk-peer.
    let _stdin = child.stdin.take();
    let pid = child.id().unwrap().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(T, child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    stderr.wait_for("ldk-peer: SIGTERM, shutting down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_ldk-peer"))
        .args(["--listen", "nonsense"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
