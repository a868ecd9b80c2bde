//! The command line: `serve` (default), `migrate`, `seed`, `import`, `live-load`.

use std::path::PathBuf;

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};

use crate::{config::Config, db, seed, state::AppState, web};

#[derive(Debug, Parser)]
#[command(
    name = "flashbulb",
    version,
    about = "A self-hosted photo library, instant at any size"
)]
pub struct Cli {
    /// A TOML configuration file; `FLASHBULB_*` environment variables override it.
    #[arg(long, global = true, env = "FLASHBULB_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Add a synthetic library for demos and benchmarks.
    Seed(seed::SeedArgs),
    /// Add every photo below a folder (idempotent: photos already there are skipped), then
    /// make their derivatives.
    Import(crate::import::ImportArgs),
    /// Load a running server's live-updates hub: hold many sockets, make changes at a
    /// steady rate, report delivery, frames per client and latency.
    LiveLoad(crate::live::load::LoadArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref()).context("reading the configuration")?;
    crate::telemetry::init(&config.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let pool = db::connect(&config).await?;
            let applied = db::migrate(&pool).await?;
            println!("database is at migration {applied}");
            Ok(())
        }
        Command::Import(args) => {
            let pool = db::connect(&config).await?;
            db::migrate(&pool).await?;
            let report = crate::import::run(&pool, &config, &args).await?;
            println!("{report}");
            Ok(())
        }
        Command::LiveLoad(args) => {
            let report = crate::live::load::run(&args).await?;
            if let Some(path) = &args.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("{report}");
            Ok(())
        }
        Command::Seed(args) => {
            let pool = db::connect(&config).await?;
            db::migrate(&pool).await?;
            let report = seed::run(&pool, &args).await?;
            println!("{report}");
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::connect(&config).await?;
    db::migrate(&pool).await?;
    let listen = config.listen;
    let workers_config = config.worker_config();
    let state = AppState::new(config, pool.clone());
    let workers = crate::jobs::worker::Workers::start(
        pool.clone(),
        workers_config,
        state.jobs_queued.clone(),
        state.events.clone(),
    );
    let hub = state.hub.clone();
    crate::ops::start(&state);
    let app = web::build_app(state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!("Flashbulb listening on http://{}", listener.local_addr()?);
    // Without TCP_NODELAY a response written in two pieces (head, then body) waits for the
    // client's delayed acknowledgement: 40 ms per request on keep-alive connections, measured
    // as 1,000 requests/s for a static file at 32 connections (BENCHMARKS.md).
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    // Peer addresses key the per-client rate limits.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        crate::shutdown::signal().await;
        // Live sockets are not requests the drain waits for: tell them to go, so
        // browsers reconnect to the next server at once.
        hub.close_all();
    })
    .await
    .context("serving HTTP")?;
    // Requests have drained; running jobs get their grace period, the rest go back.
    workers.shutdown().await;
    pool.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}
