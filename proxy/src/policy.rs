//! Pure policy logic: request path parsing, target address classification,
//! target and Origin allowlists, and connection limits.
//!
//! Nothing here touches the network; the server module applies these rules.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// The host part of a target: a literal IP address or a (validated, lowercase,
/// no trailing dot) DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Where a client asked to be connected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

/// Why a request path (or a `host:port` string) was rejected. `Display` gives
/// the short reason sent back in the HTTP 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    MissingTarget,
    BadV1Path,
    BadV1Address,
    BadPort,
    UnbracketedIpv6,
    BadIpv6,
    BadHostName,
    NumericHostName,
    MissingPort,
    TrailingGarbage,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            PathError::MissingTarget => {
                "missing target: use /<host>:<port> or /v1/<a_b_c_d>/<port>"
            }
            PathError::BadV1Path => "bad /v1 path: expected /v1/<a_b_c_d>/<port>",
            PathError::BadV1Address => "bad /v1 address: expected an IPv4 address written a_b_c_d",
            PathError::BadPort => "bad port: expected a number from 1 to 65535",
            PathError::UnbracketedIpv6 => "IPv6 addresses must be bracketed: /[addr]:<port>",
            PathError::BadIpv6 => "bad IPv6 address",
            PathError::BadHostName => "bad host name",
            PathError::NumericHostName => {
                "bad host: numeric name that is not a dotted IPv4 address"
            }
            PathError::MissingPort => "missing port: expected <host>:<port>",
            PathError::TrailingGarbage => "unexpected characters after the port",
        };
        f.write_str(s)
    }
}

impl std::error::Error for PathError {}

/// Parse the request target of a WebSocket upgrade into the TCP target.
///
/// Accepted forms (a query string, if any, is ignored):
/// - `/v1/<a_b_c_d>/<port>`: IPv4 with underscores instead of dots;
/// - `/<host>:<port>`: host is a DNS name, a dotted IPv4 address or a
///   bracketed IPv6 address (`[`, `]` and `:` may be percent-encoded).
pub fn parse_path(path: &str) -> Result<Target, PathError> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let rest = path.strip_prefix('/').ok_or(PathError::MissingTarget)?;
    if rest.is_empty() {
        return Err(PathError::MissingTarget);
    }
    if let Some(v1) = rest.strip_prefix("v1/") {
        return parse_v1(v1);
    }
    if rest == "v1" {
        return Err(PathError::BadV1Path);
    }
    let decoded = decode_authority(rest);
    parse_authority(&decoded)
}

fn parse_v1(v1: &str) -> Result<Target, PathError> {
    let mut parts = v1.split('/');
    let (Some(addr), Some(port), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PathError::BadV1Path);
    };
    if addr.split('_').count() != 4 || addr.contains('.') {
        return Err(PathError::BadV1Address);
    }
    let ip: Ipv4Addr = addr
        .replace('_', ".")
        .parse()
        .map_err(|_| PathError::BadV1Address)?;
    Ok(Target {
        host: Host::Ip(IpAddr::V4(ip)),
        port: parse_port(port)?,
    })
}

/// Percent-decode only the characters that may legitimately appear encoded in
/// an authority (`[`, `]`, `:`); anything else percent-encoded stays as is and
/// is then rejected by host validation.
fn decode_authority(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let decoded = match tail.get(1..3).map(|h| h.to_ascii_uppercase()) {
            Some(h) if h == "5B" => Some('['),
            Some(h) if h == "5D" => Some(']'),
            Some(h) if h == "3A" => Some(':'),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[3..];
            }
            None => {
                out.push('%');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parse `host:port` (host: DNS name, dotted IPv4, or `[IPv6]`). Used for the
/// request path and for `--allow-target` values.
pub fn parse_authority(s: &str) -> Result<Target, PathError> {
    if s.is_empty() {
        return Err(PathError::MissingTarget);
    }
    if let Some(inner) = s.strip_prefix('[') {
        let (addr, after) = inner.split_once(']').ok_or(PathError::BadIpv6)?;
        let ip: Ipv6Addr = addr.parse().map_err(|_| PathError::BadIpv6)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => return Err(PathError::MissingPort),
            None => return Err(PathError::TrailingGarbage),
        };
        return Ok(Target {
            host: Host::Ip(IpAddr::V6(ip)),
            port: parse_port(port)?,
        });
    }
    let (host, port) = s.rsplit_once(':').ok_or(PathError::MissingPort)?;
    if host.contains(':') {
        return Err(PathError::UnbracketedIpv6);
    }
    if port.contains('/') {
        return Err(PathError::TrailingGarbage);
    }
    let port = parse_port(port)?;
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Target {
            host: Host::Ip(IpAddr::V4(ip)),
            port,
        });
    }
    Ok(Target {
        host: Host::Name(validate_host_name(host)?),
        port,
    })
}

/// Strict decimal port, 1..=65535 (no sign, no more than 5 digits).
pub fn parse_port(s: &str) -> Result<u16, PathError> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PathError::BadPort);
    }
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(PathError::BadPort),
    }
}

/// Validate a DNS host name (LDH rule), returning it lowercased without a
/// trailing dot. A name whose last label is numeric (`1.2.3`, `0x7f`,
/// `2130706433`) is refused: resolvers may read it as an IPv4 address in a
/// non-standard notation.
pub fn validate_host_name(host: &str) -> Result<String, PathError> {
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return Err(PathError::BadHostName);
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(PathError::BadHostName);
        }
    }
    let last = name.rsplit('.').next().unwrap_or("");
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if last.bytes().all(|b| b.is_ascii_digit()) || hex {
        return Err(PathError::NumericHostName);
    }
    Ok(name)
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn v6_in(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

/// Why an address must not be connected to without `--allow-private`, or
/// `None` if it is a public unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RULES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([100, 64, 0, 0], 10, "private (CGNAT 100.64.0.0/10)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 0, 0, 0], 24, "reserved (IETF protocol assignments)"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        ([198, 18, 0, 0], 15, "reserved (benchmarking)"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
    ];
    RULES
        .iter()
        .find(|(net, prefix, _)| v4_in(ip, *net, *prefix))
        .map(|(_, _, reason)| *reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let seg = ip.segments();
    // Addresses that embed an IPv4 address are judged by that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if v6_in(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        let o = ip.octets();
        return forbidden_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if seg[0] == 0x2002 {
        let o = ip.octets();
        return forbidden_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    const RULES: &[(u16, u16, u32, &str)] = &[
        // (first segment, second segment, prefix length, reason)
        (0x0064, 0xff9b, 32, "private (local-use NAT64 64:ff9b::/32)"),
        (0x0100, 0x0000, 16, "reserved (discard-only 100::/64)"),
        (0x2001, 0x0002, 32, "reserved (benchmarking)"),
        (0x2001, 0x0db8, 32, "documentation"),
        (0x3fff, 0x0000, 20, "documentation"),
        (0xfc00, 0x0000, 7, "private (unique-local fc00::/7)"),
        (0xfe80, 0x0000, 10, "link-local"),
        (0xfec0, 0x0000, 10, "private (site-local fec0::/10)"),
        (0xff00, 0x0000, 8, "multicast"),
    ];
    for &(a, b, prefix, reason) in RULES {
        if v6_in(ip, Ipv6Addr::new(a, b, 0, 0, 0, 0, 0, 0), prefix) {
            return Some(reason);
        }
    }
    // Everything outside global unicast 2000::/3 is unassigned or special.
    if !v6_in(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return Some("reserved (outside global unicast 2000::/3)");
    }
    None
}

/// Check every resolved address. With `allow_private` everything passes;
/// otherwise the first forbidden address refuses the whole target (a name
/// that resolves to both public and private addresses is not trusted).
pub fn check_addresses(
    addrs: &[IpAddr],
    allow_private: bool,
) -> Result<(), (IpAddr, &'static str)> {
    if allow_private {
        return Ok(());
    }
    for &ip in addrs {
        if let Some(reason) = forbidden_reason(ip) {
            return Err((ip, reason));
        }
    }
    Ok(())
}

/// `--allow-target` list: empty means any target (subject to the address
/// rules); otherwise the requested host and port must match an entry exactly
/// (names compare case-insensitively; a name is not matched by its addresses).
pub fn target_allowed(allowlist: &[Target], target: &Target) -> bool {
    allowlist.is_empty() || allowlist.iter().any(|t| t == target)
}

/// Normalize an Origin for comparison: ASCII-lowercase, no trailing slash.
pub fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// `--allow-origin` list: empty means any (or no) Origin; otherwise the
/// request must carry an Origin header equal to one entry.
pub fn origin_allowed(allowlist: &[String], origin: Option<&str>) -> bool {
    if allowlist.is_empty() {
        return true;
    }
    match origin {
        Some(o) => {
            let o = normalize_origin(o);
            allowlist.contains(&o)
        }
        None => false,
    }
}

/// Which limit a new connection would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitExceeded {
    /// `--max-conns-per-ip` (HTTP 429).
    PerIp,
    /// `--max-conns` (HTTP 503).
    Total,
}

/// The key a client is counted under: its IPv4 address, or the /64 of its
/// IPv6 address (one subscriber usually holds a whole /64).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

#[derive(Debug, Default)]
struct LimitState {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts open connections, overall and per client; a [`ConnSlot`] is held
/// for the life of each connection and frees its place when dropped.
#[derive(Debug)]
pub struct ConnLimits {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<LimitState>,
}

impl ConnLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnLimits {
            max_total,
            max_per_ip,
            state: Mutex::new(LimitState::default()),
        })
    }

    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, LimitExceeded> {
        let key = client_key(ip);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mine = st.per_ip.get(&key).copied().unwrap_or(0);
        if mine >= self.max_per_ip {
            return Err(LimitExceeded::PerIp);
        }
        if st.total >= self.max_total {
            return Err(LimitExceeded::Total);
        }
        st.total += 1;
        st.per_ip.insert(key, mine + 1);
        Ok(ConnSlot {
            limits: Arc::clone(self),
            key,
        })
    }

    /// (total, for this client) currently open.
    pub fn counts(&self, ip: IpAddr) -> (usize, usize) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (
            st.total,
            st.per_ip.get(&client_key(ip)).copied().unwrap_or(0),
        )
    }
}

/// A place taken in [`ConnLimits`]; released on drop.
#[derive(Debug)]
pub struct ConnSlot {
    limits: Arc<ConnLimits>,
    key: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut st = self.limits.state.lock().unwrap_or_else(|e| e.into_inner());
        st.total = st.total.saturating_sub(1);
        if let Some(n) = st.per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                st.per_ip.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip4(a: u8, b: u8, c: u8, d: u8) -> Host {
        Host::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn v1_paths() {
        assert_eq!(
            parse_path("/v1/1_2_3_4/9735"),
            Ok(Target {
                host: ip4(1, 2, 3, 4),
                port: 9735
            })
        );
        assert_eq!(
            parse_path("/v1/203_0_113_7/65535?x=1"),
            Ok(Target {
                host: ip4(203, 0, 113, 7),
                port: 65535
            })
        );
        assert_eq!(parse_path("/v1"), Err(PathError::BadV1Path));
        assert_eq!(parse_path("/v1/"), Err(PathError::BadV1Path));
        assert_eq!(parse_path("/v1/1_2_3_4"), Err(PathError::BadV1Path));
        assert_eq!(parse_path("/v1/1_2_3_4/9735/"), Err(PathError::BadV1Path));
        assert_eq!(parse_path("/v1/1_2_3/9735"), Err(PathError::BadV1Address));
        assert_eq!(parse_path("/v1/1.2.3.4/9735"), Err(PathError::BadV1Address));
        assert_eq!(
            parse_path("/v1/1_2_3_256/9735"),
            Err(PathError::BadV1Address)
        );
        assert_eq!(
            parse_path("/v1/01_2_3_4/9735"),
            Err(PathError::BadV1Address)
        );
        assert_eq!(
            parse_path("/v1/example_com/9735"),
            Err(PathError::BadV1Address)
        );
        assert_eq!(parse_path("/v1/1_2_3_4/0"), Err(PathError::BadPort));
        assert_eq!(parse_path("/v1/1_2_3_4/65536"), Err(PathError::BadPort));
        assert_eq!(parse_path("/v1/1_2_3_4/+80"), Err(PathError::BadPort));
    }

    #[test]
    fn host_port_paths() {
        assert_eq!(
            parse_path("/1.2.3.4:9735"),
            Ok(Target {
                host: ip4(1, 2, 3, 4),
                port: 9735
            })
        );
        assert_eq!(
            parse_path("/Node.Example.COM.:9735"),
            Ok(Target {
                host: Host::Name("node.example.com".into()),
                port: 9735
            })
        );
        let v6 = Target {
            host: Host::Ip("2001:db8::1".parse().unwrap()),
            port: 9735,
        };
        assert_eq!(parse_path("/[2001:db8::1]:9735"), Ok(v6.clone()));
        assert_eq!(parse_path("/%5B2001:db8::1%5d%3A9735"), Ok(v6));
        assert_eq!(parse_path("/"), Err(PathError::MissingTarget));
        assert_eq!(parse_path(""), Err(PathError::MissingTarget));
        assert_eq!(parse_path("/example.com"), Err(PathError::MissingPort));
        assert_eq!(parse_path("/example.com:"), Err(PathError::BadPort));
        assert_eq!(parse_path("/example.com:http"), Err(PathError::BadPort));
        assert_eq!(
            parse_path("/example.com:9735/x"),
            Err(PathError::TrailingGarbage)
        );
        assert_eq!(
            parse_path("/2001:db8::1:9735"),
            Err(PathError::UnbracketedIpv6)
        );
        assert_eq!(parse_path("/[2001:db8::1]"), Err(PathError::MissingPort));
        assert_eq!(
            parse_path("/[2001:db8::1]x:1"),
            Err(PathError::TrailingGarbage)
        );
        assert_eq!(parse_path("/[fe80::1%eth0]:1"), Err(PathError::BadIpv6));
        assert_eq!(parse_path("/[1.2.3.4]:1"), Err(PathError::BadIpv6));
        assert_eq!(parse_path("/exa%20mple.com:1"), Err(PathError::BadHostName));
        assert_eq!(parse_path("/-bad.com:1"), Err(PathError::BadHostName));
        assert_eq!(parse_path("/bad-.com:1"), Err(PathError::BadHostName));
        assert_eq!(parse_path("/a..b:1"), Err(PathError::BadHostName));
        assert_eq!(
            parse_path("/under_score.com:1"),
            Err(PathError::BadHostName)
        );
        assert_eq!(parse_path("/user@host.com:1"), Err(PathError::BadHostName));
        assert_eq!(parse_path("/2130706433:1"), Err(PathError::NumericHostName));
        assert_eq!(parse_path("/0x7f000001:1"), Err(PathError::NumericHostName));
        assert_eq!(parse_path("/127.1:1"), Err(PathError::NumericHostName));
        assert_eq!(parse_path("/127.0.0.01:1"), Err(PathError::NumericHostName));
        let long = format!("/{}.com:1", "a".repeat(64));
        assert_eq!(parse_path(&long), Err(PathError::BadHostName));
    }

    #[test]
    fn target_display_round_trips() {
        for s in ["1.2.3.4:9735", "[2001:db8::1]:9735", "node.example:1"] {
            assert_eq!(parse_authority(s).unwrap().to_string(), s);
        }
    }

    fn reason(s: &str) -> Option<&'static str> {
        forbidden_reason(s.parse().unwrap())
    }

    #[test]
    fn classifies_ipv4() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "223.255.255.255",
            "192.0.3.1",
            "169.253.0.1",
        ] {
            assert_eq!(reason(public), None, "{public}");
        }
        let cases = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.255", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
        ];
        for (ip, want) in cases {
            let got = reason(ip).unwrap_or_else(|| panic!("{ip} should be refused"));
            assert!(got.contains(want), "{ip}: {got}");
        }
    }

    #[test]
    fn classifies_ipv6() {
        for public in [
            "2606:4700::1111",
            "2a00:1450::1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(reason(public), None, "{public}");
        }
        let cases = [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b:1::1", "NAT64"),
            ("2002:c0a8:0101::1", "private"),
            ("::127.0.0.1", "reserved"),
            ("100::1", "discard"),
            ("2001:2::1", "benchmarking"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("4000::1", "reserved"),
        ];
        for (ip, want) in cases {
            let got = reason(ip).unwrap_or_else(|| panic!("{ip} should be refused"));
            assert!(got.contains(want), "{ip}: {got}");
        }
    }

    #[test]
    fn every_resolved_address_is_checked() {
        let public: IpAddr = "1.1.1.1".parse().unwrap();
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(check_addresses(&[public], false), Ok(()));
        assert_eq!(
            check_addresses(&[public, private], false),
            Err((private, "private (10.0.0.0/8)"))
        );
        assert_eq!(check_addresses(&[public, private], true), Ok(()));
    }

    #[test]
    fn target_allowlist() {
        let t = |s: &str| parse_authority(s).unwrap();
        assert!(target_allowed(&[], &t("1.2.3.4:9735")));
        let list = vec![t("1.2.3.4:9735"), t("Node.Example:9736")];
        assert!(target_allowed(&list, &t("1.2.3.4:9735")));
        assert!(target_allowed(
            &list,
            &parse_path("/v1/1_2_3_4/9735").unwrap()
        ));
        assert!(target_allowed(&list, &t("node.example.:9736")));
        assert!(!target_allowed(&list, &t("1.2.3.4:9736")));
        assert!(!target_allowed(&list, &t("node.example:9735")));
        assert!(!target_allowed(&list, &t("other.example:9736")));
    }

    #[test]
    fn origin_allowlist() {
        assert!(origin_allowed(&[], None));
        assert!(origin_allowed(&[], Some("https://x.example")));
        let list = vec![normalize_origin("https://Wallet.example/")];
        assert!(origin_allowed(&list, Some("https://wallet.example")));
        assert!(origin_allowed(&list, Some("HTTPS://WALLET.EXAMPLE")));
        assert!(!origin_allowed(&list, None));
        assert!(!origin_allowed(&list, Some("null")));
        assert!(!origin_allowed(&list, Some("https://wallet.example:8443")));
        assert!(!origin_allowed(&list, Some("http://wallet.example")));
    }

    #[test]
    fn limits_per_ip_and_total() {
        let a: IpAddr = "1.1.1.1".parse().unwrap();
        let b: IpAddr = "2.2.2.2".parse().unwrap();
        let c: IpAddr = "3.3.3.3".parse().unwrap();
        let limits = ConnLimits::new(3, 2);
        let a1 = limits.try_acquire(a).unwrap();
        let _a2 = limits.try_acquire(a).unwrap();
        assert_eq!(limits.try_acquire(a).unwrap_err(), LimitExceeded::PerIp);
        let _b1 = limits.try_acquire(b).unwrap();
        assert_eq!(limits.try_acquire(c).unwrap_err(), LimitExceeded::Total);
        assert_eq!(limits.counts(a), (3, 2));
        drop(a1);
        assert_eq!(limits.counts(a), (2, 1));
        let _c1 = limits.try_acquire(c).unwrap();
        assert_eq!(limits.try_acquire(a).unwrap_err(), LimitExceeded::Total);
    }

    #[test]
    fn ipv6_clients_counted_per_64() {
        let limits = ConnLimits::new(10, 1);
        let _s = limits
            .try_acquire("2001:db8:1:2::1".parse().unwrap())
            .unwrap();
        assert_eq!(
            limits
                .try_acquire("2001:db8:1:2:ffff::9".parse().unwrap())
                .unwrap_err(),
            LimitExceeded::PerIp
        );
        assert!(limits
            .try_acquire("2001:db8:1:3::1".parse().unwrap())
            .is_ok());
        let _m = limits
            .try_acquire("::ffff:1.2.3.4".parse().unwrap())
            .unwrap();
        assert_eq!(
            limits.try_acquire("1.2.3.4".parse().unwrap()).unwrap_err(),
            LimitExceeded::PerIp
        );
    }
}
