use std::process::ExitCode;

use lnwasm_proxy::{parse_args, Command, USAGE};

fn main() -> ExitCode {
    let (listen, config) = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run { listen, config }) => (listen, config),
        Err(e) => {
            eprintln!("lnwasm-proxy: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lnwasm-proxy: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("lnwasm-proxy: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_string());
        eprintln!(
            "lnwasm-proxy: listening on {local} (allow-private={}, targets={}, origins={}, max-conns={}, per-ip={})",
            config.allow_private,
            if config.allowed_targets.is_empty() { "any".to_string() } else { config.allowed_targets.len().to_string() },
            if config.allowed_origins.is_empty() { "any".to_string() } else { config.allowed_origins.len().to_string() },
            config.max_conns,
            config.max_conns_per_ip,
        );
        match lnwasm_proxy::run(config, listener).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lnwasm-proxy: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
