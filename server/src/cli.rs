//! The command line: `serve` (default), `worker`, `migrate`, `seed`, `import`, `rederive`,
//! `user add`, `live-load`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flashbulb_core::import::ImportArgs;
use flashbulb_tools::{load, seed};
use flashbulb_web::AppState;

use crate::config::Config;

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
    /// Serve the web application (the default), with derivative workers unless told not to.
    Serve(ServeCommand),
    /// Run derivative workers only: no pages, just `/healthz`, `/readyz` and `/metrics` on
    /// `listen`. For a deployment of several machines, beside web-only `serve` processes.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Add a synthetic library for demos and benchmarks.
    Seed(seed::SeedArgs),
    /// Add every photo below a folder (idempotent: photos already there are skipped), then
    /// make their derivatives.
    Import(ImportCommand),
    /// Give photos derived by an earlier version every preview size, AVIF and the
    /// high-density thumbnail (idempotent: photos that have them are skipped).
    Rederive(RederiveCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Load a running server's live-updates hub: hold many sockets, make changes at a
    /// steady rate, report delivery, frames per client and latency.
    LiveLoad(load::LoadArgs),
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeCommand {
    /// Run no derivative workers (as `derivative_workers = 0`): jobs are left to
    /// `flashbulb worker` processes sharing the database.
    #[arg(long)]
    pub no_workers: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportCommand {
    /// The folder to walk (subfolders too).
    pub dir: PathBuf,
    /// The user who owns the photos; created if missing.
    #[arg(long, default_value = "demo")]
    pub owner: String,
    /// Only add the photos and queue their derivatives; a running server makes them.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RederiveCommand {
    /// Only queue the photos' jobs; a running server makes them.
    #[arg(long)]
    pub no_wait: bool,
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
    let mut config = Config::load(cli.config.as_deref()).context("reading the configuration")?;
    crate::telemetry::init(&config.log);
    match cli
        .command
        .unwrap_or(Command::Serve(ServeCommand::default()))
    {
        Command::Serve(args) => {
            if args.no_workers {
                config.derivative_workers = Some(0);
            }
            serve(config).await
        }
        Command::Worker => work(config).await,
        Command::Migrate => {
            let pool = config.connect().await?;
            let applied = flashbulb_store::migrate(&pool).await?;
            println!("database is at migration {applied}");
            Ok(())
        }
        Command::Import(args) => {
            let pool = config.connect().await?;
            flashbulb_store::migrate(&pool).await?;
            let args = ImportArgs {
                dir: args.dir,
                owner: args.owner,
                no_wait: args.no_wait,
            };
            let report = flashbulb_core::import::run(&pool, &config.core(), &args).await?;
            println!("{report}");
            Ok(())
        }
        Command::Rederive(args) => {
            let pool = config.connect().await?;
            flashbulb_store::migrate(&pool).await?;
            let report = flashbulb_core::rederive::run(&pool, &config.core(), args.no_wait).await?;
            println!("{report}");
            Ok(())
        }
        Command::LiveLoad(args) => {
            let report = load::run(&args).await?;
            if let Some(path) = &args.json {
                std::fs::write(path, serde_json::to_vec_pretty(&report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("{report}");
            Ok(())
        }
        Command::User(UserCommand::Add { name, admin, reset }) => {
            let password = read_password()?;
            let pool = config.connect().await?;
            flashbulb_store::migrate(&pool).await?;
            if reset {
                flashbulb_core::users::reset_password(&pool, &name, &password).await?;
                println!(
                    "new password set for {}; their sessions have ended",
                    name.trim()
                );
            } else {
                flashbulb_core::users::add(&pool, &name, &password, admin).await?;
                let role = if admin { "administrator" } else { "user" };
                println!("added {role} {}", name.trim());
            }
            Ok(())
        }
        Command::Seed(args) => {
            let pool = config.connect().await?;
            flashbulb_store::migrate(&pool).await?;
            let report = seed::run_with_pictures(&pool, &args, &config.files()).await?;
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

/// What every long-running process does first: the database, migrated, and what killed
/// processes of this host left behind (half-written files, job leases) cleared.
async fn open_for_serving(config: &Config) -> anyhow::Result<flashbulb_store::Pool> {
    let pool = config.connect().await?;
    flashbulb_store::migrate(&pool).await?;
    // What a killed process of this host left: its half-written files and its job leases.
    let swept = flashbulb_core::storage::sweep_scratch(&config.data_dir)
        .await
        .context("clearing the data folder's scratch space")?;
    if swept > 0 {
        tracing::info!(swept, "removed what stopped processes left half-written");
    }
    let reclaimed = flashbulb_store::jobs::reclaim_abandoned(&pool, |holder| {
        flashbulb_core::instance::is_gone(holder, true)
    })
    .await?;
    if reclaimed != flashbulb_store::jobs::Reclaimed::default() {
        tracing::info!(
            requeued = reclaimed.requeued,
            failed = reclaimed.failed,
            "took back the jobs of stopped processes"
        );
    }
    Ok(pool)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = open_for_serving(&config).await?;
    let listen = config.listen;
    let settings = config.core();
    let grace = settings.shutdown_grace();
    let state = AppState::new(settings.clone(), config.web(), pool.clone());
    let mut background = state.start();
    if let Err(error) = state.media.prepare().await {
        tracing::warn!(%error, "the media URL key is not ready yet; pages will make it");
    }
    let workers = (settings.derivative_workers > 0).then(|| {
        flashbulb_core::jobs::worker::Workers::start(
            pool.clone(),
            settings.worker_config(),
            &settings.jobs(&pool),
            state.jobs_queued.clone(),
            state.events.clone(),
        )
    });
    if workers.is_none() {
        tracing::info!("web only: derivative jobs are left to `flashbulb worker` processes");
    }
    background.push("console sampler", flashbulb_core::ops::start(&state.ops));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!("Flashbulb listening on http://{}", listener.local_addr()?);
    flashbulb_web::serve(state, listener, crate::shutdown::signal(), grace, || {
        if let Some(workers) = &workers {
            workers.stop_taking();
        }
    })
    .await?;
    // Running jobs get their grace period; the rest go back to the queue.
    if let Some(workers) = workers {
        workers.shutdown().await;
    }
    background.abort();
    pool.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The worker role: the services a job needs (the database, the live updates and cache
/// invalidations it publishes, through Redis to every web instance), the workers, and a port
/// for probes and metrics only.
async fn work(config: Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.effective_derivative_workers() > 0,
        "a worker with derivative_workers = 0 has nothing to do: leave it unset (one per core) \
         or give a number"
    );
    let pool = open_for_serving(&config).await?;
    let listen = config.listen;
    let settings = config.core();
    let state = AppState::new(settings.clone(), config.web(), pool.clone());
    let background = state.start();
    let workers = flashbulb_core::jobs::worker::Workers::start(
        pool.clone(),
        settings.worker_config(),
        &settings.jobs(&pool),
        state.jobs_queued.clone(),
        state.events.clone(),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(
        "Flashbulb worker running; probes and metrics on http://{}",
        listener.local_addr()?
    );
    flashbulb_web::serve_probes(state, listener, crate::shutdown::signal(), || {
        workers.stop_taking()
    })
    .await?;
    // Running jobs get their grace period; the rest go back to the queue.
    workers.shutdown().await;
    background.abort();
    pool.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}
