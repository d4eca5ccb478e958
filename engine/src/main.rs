//! The `gemini` binary: `gemini serve` runs the server, `gemini bench` loads one, `gemini
//! import` copies history into one.

use clap::{Parser, Subcommand};

/// Requests are decoded on HTTP workers and freed on shard threads; glibc's allocator spends
/// half the ingest time on that pattern, mimalloc a small fraction of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "gemini", version, about = "Long-term storage for Prometheus: remote write and remote read over RocksDB, with the openGemini / InfluxDB 1.x HTTP API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(engine::config::ServeArgs),
    /// Load a running server with a node_exporter-shaped remote write workload and report
    /// samples/s, latency, bytes per sample and the server's peak RSS.
    Bench(engine::bench::BenchArgs),
    /// Copy history into a running Gemini through its import path (`/api/v1/import`), which
    /// merges it into series that already hold newer samples.
    Import(engine::import::ImportArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Serve(args) => match args.resolve() {
            Ok(cfg) => actix_web::rt::System::new().block_on(engine::server::run(cfg)).map_err(Into::into),
            Err(e) => Err(e.into()),
        },
        Command::Bench(args) => engine::bench::run(args).map_err(Into::into),
        Command::Import(args) => engine::import::run(args).map_err(Into::into),
    };
    if let Err(e) = result {
        eprintln!("gemini: {e}");
        std::process::exit(1);
    }
}
