//! The command line: `serve` (default), `migrate`, `seed`, `import`, `user add`, `live-load`.

use std::path::PathBuf;

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};

use crate::{config::Config, db, seed, web, web::state::AppState};

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
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Load a running server's live-updates hub: hold many sockets, make changes at a
    /// steady rate, report delivery, frames per client and latency.
    LiveLoad(crate::live::load::LoadArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user who can sign in (or give a password to one made by `seed` or `import`).
    /// The password comes from FLASHBULB_PASSWORD, else the terminal (asked twice), else the
    /// first line of standard input.
    Add {
        /// The user name: 1 to 64 characters.
        name: String,
        /// Make the user an administrator: adds users, sees the operations console.
        #[arg(long)]
        admin: bool,
        /// Replace the password of an existing user instead, ending their sessions.
        #[arg(long, conflicts_with = "admin")]
        reset: bool,
    },
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
        Command::User(UserCommand::Add { name, admin, reset }) => {
            let password = read_password()?;
            let pool = db::connect(&config).await?;
            db::migrate(&pool).await?;
            if reset {
                crate::users::reset_password(&pool, &name, &password).await?;
                println!(
                    "new password set for {}; their sessions have ended",
                    name.trim()
                );
            } else {
                crate::users::add(&pool, &name, &password, admin).await?;
                let role = if admin { "administrator" } else { "user" };
                println!("added {role} {}", name.trim());
            }
            Ok(())
        }
        Command::Seed(args) => {
            let pool = db::connect(&config).await?;
            db::migrate(&pool).await?;
            let report = seed::run_with_pictures(&pool, &args, &config.data_dir).await?;
            println!("{report}");
            Ok(())
        }
    }
}

/// The new password: from FLASHBULB_PASSWORD, the terminal, or the first line of input.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if let Ok(password) = std::env::var("FLASHBULB_PASSWORD") {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("The password again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::connect(&config).await?;
    db::migrate(&pool).await?;
    // What a killed process of this host left: its half-written files and its job leases.
    let swept = crate::storage::sweep_scratch(&config.data_dir)
        .await
        .context("clearing the data folder's scratch space")?;
    if swept > 0 {
        tracing::info!(swept, "removed what stopped processes left half-written");
    }
    let reclaimed = flashbulb_store::jobs::reclaim_abandoned(&pool, |holder| {
        crate::instance::is_gone(holder, true)
    })
    .await?;
    if reclaimed != flashbulb_store::jobs::Reclaimed::default() {
        tracing::info!(
            requeued = reclaimed.requeued,
            failed = reclaimed.failed,
            "took back the jobs of stopped processes"
        );
    }
    let listen = config.listen;
    let grace = config.shutdown_grace();
    let workers_config = config.worker_config();
    let jobs = config.jobs(&pool);
    let state = AppState::new(config, pool.clone());
    let mut background = state.start();
    if let Err(error) = state.media.prepare().await {
        tracing::warn!(%error, "the media URL key is not ready yet; pages will make it");
    }
    let workers = crate::jobs::worker::Workers::start(
        pool.clone(),
        workers_config,
        &jobs,
        state.jobs_queued.clone(),
        state.events.clone(),
    );
    let hub = state.hub.clone();
    background.push("console sampler", crate::ops::start(&state));
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
    let draining = std::sync::Arc::new(tokio::sync::Notify::new());
    // Peer addresses key the per-client rate limits.
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown({
        let draining = draining.clone();
        async move {
            crate::shutdown::signal().await;
            // Live sockets are not requests the drain waits for: tell them to go, so
            // browsers reconnect to the next server at once.
            hub.close_all();
            draining.notify_one();
        }
    });
    // No new connections from the signal on; requests in flight get the grace period.
    tokio::select! {
        served = server => served.context("serving HTTP")?,
        () = async {
            draining.notified().await;
            workers.stop_taking();
            tokio::time::sleep(grace).await;
        } => {
            // Dropping them cancels their handlers; uploads leave nothing half-stored.
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still running after the grace period were cut"
            );
        }
    }
    // Running jobs get their grace period; the rest go back to the queue.
    workers.shutdown().await;
    background.abort();
    pool.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}
