//! Proxy configuration and command-line parsing.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::policy::{normalize_origin, parse_authority, Target};

pub const USAGE: &str = "\
lnwasm-proxy: WebSocket-to-TCP proxy for browser Lightning wallets

USAGE:
    lnwasm-proxy --listen <ip:port> [OPTIONS]

Serves WebSocket upgrades on
    /v1/<a_b_c_d>/<port>    IPv4 target, dots written as underscores
    /<host>:<port>          host = DNS name, IPv4, or [IPv6]
and relays binary frames to and from a TCP connection to the target.

OPTIONS:
    --listen <ip:port>          Address to listen on (required)
    --allow-private             Allow loopback, private, link-local and other
                                non-public target addresses
    --allow-target <host:port>  Only allow this target (repeatable; default: any)
    --allow-origin <origin>     Only accept requests with this Origin header
                                (repeatable; default: any or none)
    --max-conns <N>             Maximum open connections overall [default: 1024]
    --max-conns-per-ip <N>      Maximum open connections per client IP
                                (per /64 for IPv6) [default: 16]
    --idle-timeout <SECS>       Close connections with no bytes relayed either
                                way for this long; 0 disables [default: 300]
    --connect-timeout <SECS>    Resolve-and-connect timeout [default: 10]
    --trust-forwarded-for       Take the client IP (for limits and logs) from
                                the last X-Forwarded-For entry; only behind a
                                reverse proxy that sets it (e.g. for TLS)
    -h, --help                  Print this help
";

/// Receives the one log line written per connection.
#[derive(Clone)]
pub struct Logger(Arc<dyn Fn(&str) + Send + Sync>);

impl Logger {
    /// Log to standard error (the default).
    pub fn stderr() -> Self {
        Logger(Arc::new(|line| eprintln!("{line}")))
    }

    /// Log through a custom function (tests collect lines this way).
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Logger(Arc::new(f))
    }

    pub fn log(&self, line: &str) {
        (self.0)(line)
    }
}

impl Default for Logger {
    fn default() -> Self {
        Logger::stderr()
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Logger")
    }
}

/// Everything the server needs besides its listening socket.
#[derive(Debug, Clone)]
pub struct Config {
    pub allow_private: bool,
    /// Empty: any target.
    pub allowed_targets: Vec<Target>,
    /// Normalized with [`normalize_origin`]. Empty: any Origin, or none.
    pub allowed_origins: Vec<String>,
    pub max_conns: usize,
    pub max_conns_per_ip: usize,
    /// `None`: never close idle connections.
    pub idle_timeout: Option<Duration>,
    /// Covers DNS resolution and the TCP connect together.
    pub connect_timeout: Duration,
    /// Time a client gets to send its complete HTTP upgrade request.
    pub request_timeout: Duration,
    /// Largest WebSocket message (and frame) accepted from a client.
    pub max_message_size: usize,
    /// Take the client IP from `X-Forwarded-For` (last entry), for use behind
    /// a reverse proxy that terminates TLS.
    pub trust_forwarded_for: bool,
    pub logger: Logger,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow_private: false,
            allowed_targets: Vec::new(),
            allowed_origins: Vec::new(),
            max_conns: 1024,
            max_conns_per_ip: 16,
            idle_timeout: Some(Duration::from_secs(300)),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_message_size: 1 << 20,
            trust_forwarded_for: false,
            logger: Logger::stderr(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Help,
    Run { listen: SocketAddr, config: Config },
}

/// Parse command-line arguments (without the program name). Values may be
/// given as `--flag value` or `--flag=value`.
pub fn parse_args<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let mut listen = None;
    let mut config = Config::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--allow-private" => {
                if inline.is_some() {
                    return Err("--allow-private takes no value".into());
                }
                config.allow_private = true;
            }
            "--trust-forwarded-for" => {
                if inline.is_some() {
                    return Err("--trust-forwarded-for takes no value".into());
                }
                config.trust_forwarded_for = true;
            }
            "--listen" => {
                let v = value("--listen")?;
                listen = Some(
                    v.parse::<SocketAddr>()
                        .map_err(|_| format!("--listen: bad address {v:?} (expected ip:port)"))?,
                );
            }
            "--allow-target" => {
                let v = value("--allow-target")?;
                let t = parse_authority(&v).map_err(|e| format!("--allow-target {v:?}: {e}"))?;
                config.allowed_targets.push(t);
            }
            "--allow-origin" => {
                let v = value("--allow-origin")?;
                let o = normalize_origin(&v);
                if o.is_empty() {
                    return Err("--allow-origin: empty origin".into());
                }
                config.allowed_origins.push(o);
            }
            "--max-conns" => config.max_conns = positive("--max-conns", &value("--max-conns")?)?,
            "--max-conns-per-ip" => {
                config.max_conns_per_ip =
                    positive("--max-conns-per-ip", &value("--max-conns-per-ip")?)?
            }
            "--idle-timeout" => {
                let secs = number("--idle-timeout", &value("--idle-timeout")?)?;
                config.idle_timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "--connect-timeout" => {
                let secs = positive("--connect-timeout", &value("--connect-timeout")?)?;
                config.connect_timeout = Duration::from_secs(secs as u64);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let listen = listen.ok_or("--listen <ip:port> is required")?;
    Ok(Command::Run { listen, config })
}

fn number(name: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| format!("{name}: expected a number, got {v:?}"))
}

fn positive(name: &str, v: &str) -> Result<usize, String> {
    match number(name, v)? {
        0 => Err(format!("{name}: must be at least 1")),
        n => usize::try_from(n).map_err(|_| format!("{name}: too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (SocketAddr, Config) {
        match parse_args(args.iter().copied()).unwrap() {
            Command::Run { listen, config } => (listen, config),
            Command::Help => panic!("unexpected help"),
        }
    }

    #[test]
    fn defaults() {
        let (listen, c) = run(&["--listen", "127.0.0.1:8080"]);
        assert_eq!(listen, "127.0.0.1:8080".parse().unwrap());
        assert!(!c.allow_private);
        assert!(c.allowed_targets.is_empty() && c.allowed_origins.is_empty());
        assert_eq!((c.max_conns, c.max_conns_per_ip), (1024, 16));
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
    }

    #[test]
    fn all_options() {
        let (listen, c) = run(&[
            "--listen=[::]:443",
            "--allow-private",
            "--allow-target",
            "node.example:9735",
            "--allow-target=[2001:db8::1]:9735",
            "--allow-origin",
            "https://Wallet.example/",
            "--max-conns",
            "10",
            "--max-conns-per-ip=2",
            "--idle-timeout",
            "0",
            "--connect-timeout",
            "3",
            "--trust-forwarded-for",
        ]);
        assert_eq!(listen, "[::]:443".parse().unwrap());
        assert!(c.allow_private);
        assert_eq!(c.allowed_targets.len(), 2);
        assert_eq!(c.allowed_targets[0].to_string(), "node.example:9735");
        assert_eq!(c.allowed_targets[1].to_string(), "[2001:db8::1]:9735");
        assert_eq!(
            c.allowed_origins,
            vec!["https://wallet.example".to_string()]
        );
        assert_eq!((c.max_conns, c.max_conns_per_ip), (10, 2));
        assert_eq!(c.idle_timeout, None);
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert!(c.trust_forwarded_for);
    }

    #[test]
    fn help_and_errors() {
        assert!(matches!(parse_args(["--help"]), Ok(Command::Help)));
        assert!(matches!(
            parse_args(["--listen", "1.2.3.4:1", "-h"]),
            Ok(Command::Help)
        ));
        let err = |args: &[&str]| parse_args(args.iter().copied()).unwrap_err();
        assert!(err(&[]).contains("--listen"));
        assert!(err(&["--listen"]).contains("needs a value"));
        assert!(err(&["--listen", "localhost:80"]).contains("bad address"));
        assert!(err(&["--listen", "1.2.3.4:1", "--bogus"]).contains("unknown"));
        assert!(err(&["--listen", "1.2.3.4:1", "--max-conns", "0"]).contains("at least 1"));
        assert!(err(&["--listen", "1.2.3.4:1", "--max-conns-per-ip", "x"]).contains("number"));
        assert!(err(&["--listen", "1.2.3.4:1", "--allow-target", "nope"]).contains("missing port"));
        assert!(err(&["--listen", "1.2.3.4:1", "--allow-private=yes"]).contains("no value"));
    }
}
