//! `ldk-peer --listen 127.0.0.1:<port> [--seed <hex>] [--peer-tick-secs <n>] [--accept-channels]
//!           [--connect <node_id>@<ip:port>] [--control <ip:port>]`
//!
//! Starts an in-memory LDK node, prints exactly one line `READY <node_id_hex>@<ip:port>` to
//! stdout once it listens (preceded, with `--control`, by `CONTROL <ip:port>`: the address of
//! the HTTP control API of [`ldk_peer::control`], which also claims payments to LDK's
//! invoices at once), logs peers and their init features to stderr, and runs until stdin
//! closes, SIGTERM or ctrl-c. Set `LDK_PEER_LOG=debug|trace|...` for LDK's own log on stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use std::net::SocketAddr;
use std::sync::Arc;

use ldk_peer::{features_hex, parse_peer_uri, parse_seed, Config, LdkNode, NodeEvent};
use tokio::io::AsyncReadExt;

const USAGE: &str = "usage: ldk-peer --listen <ip:port> [--seed <64 hex>] [--peer-tick-secs <n>] \
                     [--accept-channels] [--connect <node_id>@<ip:port>] \
                     [--control <ip:port>]";

struct Args {
    config: Config,
    connect: Vec<String>,
    control: Option<SocketAddr>,
}

fn parse_args() -> Result<Args, String> {
    let mut config = Config::default();
    let mut connect = Vec::new();
    let mut control = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                config.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--seed" => config.seed = parse_seed(&value("--seed")?).map_err(|e| e.to_string())?,
            "--peer-tick-secs" => {
                let v = value("--peer-tick-secs")?;
                let secs: f64 = v
                    .parse()
                    .map_err(|e| format!("--peer-tick-secs {v}: {e}"))?;
                if !secs.is_finite() || secs <= 0.0 {
                    return Err("--peer-tick-secs must be positive".into());
                }
                config.peer_tick = Duration::from_secs_f64(secs);
            }
            "--accept-channels" => config.accept_inbound_channels = true,
            "--connect" => connect.push(value("--connect")?),
            "--control" => {
                let v = value("--control")?;
                control = Some(v.parse().map_err(|e| format!("--control {v}: {e}"))?);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        config,
        connect,
        control,
    })
}

fn log_event(ev: &NodeEvent) {
    match ev {
        NodeEvent::PeerConnected {
            node_id,
            features,
            inbound,
            ..
        } => eprintln!(
            "ldk-peer: peer connected {node_id} ({}) init features 0x{} [{features}]",
            if *inbound { "inbound" } else { "outbound" },
            features_hex(features),
        ),
        NodeEvent::PeerDisconnected { node_id } => {
            eprintln!("ldk-peer: peer disconnected {node_id}")
        }
        NodeEvent::Ldk(e) => eprintln!("ldk-peer: event {e:?}"),
    }
}

/// Resolves when the process should stop. Built before READY is printed so that the signal
/// handlers are in place by the time a test can send a signal.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    let (term, int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        let stdin_closed = async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 256];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        };
        #[cfg(unix)]
        {
            let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                _ = recv(term) => "SIGTERM",
                _ = recv(int) => "ctrl-c",
                _ = stdin_closed => "stdin closed",
            }
        }
        #[cfg(not(unix))]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "ctrl-c",
            _ = stdin_closed => "stdin closed",
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    // Returns only on argument/start errors; a normal shutdown exits the process itself.
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let node = match LdkNode::start(args.config).await {
        Ok(n) => Arc::new(n),
        Err(e) => {
            eprintln!("ldk-peer: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let shutdown = shutdown_signal();
    let mut events = node.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ev) => log_event(&ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
    });
    eprintln!(
        "ldk-peer: listening on {} as {}; our init features 0x{} [{}]",
        node.listen_addr(),
        node.node_id(),
        features_hex(&node.our_init_features()),
        node.our_init_features(),
    );
    let control = match args.control {
        Some(addr) => match ldk_peer::control::serve_control(node.clone(), addr).await {
            Ok((addr, _task)) => Some(addr),
            Err(e) => {
                eprintln!("ldk-peer: cannot serve the control API on {addr}: {e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    {
        let mut out = std::io::stdout().lock();
        if let Some(addr) = control {
            eprintln!("ldk-peer: control API on http://{addr}");
            let _ = writeln!(out, "CONTROL {addr}");
        }
        let _ = writeln!(out, "READY {}", node.uri());
        let _ = out.flush();
    }
    for uri in &args.connect {
        match parse_peer_uri(uri) {
            Ok((id, addr)) => match node
                .connect_outbound(id, addr, Duration::from_secs(10))
                .await
            {
                Ok(_) => eprintln!("ldk-peer: connected to {uri}"),
                Err(e) => eprintln!("ldk-peer: connecting to {uri}: {e}"),
            },
            Err(e) => eprintln!("ldk-peer: {e}"),
        }
    }
    let why = shutdown.await;
    eprintln!("ldk-peer: {why}, shutting down");
    // The control tasks share the node: disconnect the peers without taking it back.
    node.peer_manager().disconnect_all_peers();
    // Give the socket tasks a moment to close the connections cleanly.
    tokio::time::sleep(Duration::from_millis(50)).await;
    // tokio's stdin reader sits in a blocking thread that a runtime shutdown would wait for
    // (after SIGTERM stdin may still be open), so leave without waiting for it.
    let _ = std::io::stderr().flush();
    std::process::exit(0)
}
