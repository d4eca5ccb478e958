//! The `gemini` binary: `gemini serve` runs the server, `gemini bench` loads one.

use clap::Parser;
use engine::config::{Cli, Command};

/// Requests are decoded on HTTP workers and freed on shard threads; glibc's allocator spends
/// half the ingest time on that pattern, mimalloc a small fraction of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => args
            .resolve()
            .and_then(|cfg| actix_web::rt::System::new().block_on(engine::run(cfg))),
        Command::Bench(args) => engine::bench::run(args),
    };
    if let Err(e) = result {
        eprintln!("gemini: {e}");
        std::process::exit(1);
    }
}
