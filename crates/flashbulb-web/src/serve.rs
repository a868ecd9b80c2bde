//! Serving the router on a socket: TCP_NODELAY on every connection, peer addresses for the
//! rate limits, and a graceful stop that gives requests in flight a grace period. A worker
//! process serves its probes and metrics only.

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use axum::{routing::get, serve::ListenerExt, Router};
use tokio::net::TcpListener;

use crate::{build_app, health, metrics, state::AppState};

/// Serves `state`'s application on `listener` until `stop` resolves. Then no connection is
/// taken, live sockets are told to go (browsers reconnect to the next server at once),
/// `draining` runs (the binary stops its workers taking jobs), and requests in flight get
/// `grace` before they are cut.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    draining: impl FnOnce(),
) -> anyhow::Result<()> {
    let hub = state.hub.clone();
    let app = build_app(state);
    // Without TCP_NODELAY a response written in two pieces (head, then body) waits for the
    // client's delayed acknowledgement: 40 ms per request on keep-alive connections, measured
    // as 1,000 requests/s for a static file at 32 connections (BENCHMARKS.md).
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    // Peer addresses key the per-client rate limits.
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown({
        let stopping = stopping.clone();
        async move {
            stop.await;
            // Live sockets are not requests the drain waits for.
            hub.close_all();
            stopping.notify_one();
        }
    });
    // No new connections from the signal on; requests in flight get the grace period.
    tokio::select! {
        served = server => served.context("serving HTTP")?,
        () = async {
            stopping.notified().await;
            draining();
            tokio::time::sleep(grace).await;
        } => {
            // Dropping them cancels their handlers; uploads leave nothing half-stored.
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still running after the grace period were cut"
            );
        }
    }
    Ok(())
}

/// Serves a worker process's port until `stop` resolves: `/healthz`, `/readyz` and
/// `/metrics`, as the web application answers them, and nothing else (404). Then `draining`
/// runs (the binary stops its workers taking jobs).
pub async fn serve_probes(
    state: AppState,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
    draining: impl FnOnce(),
) -> anyhow::Result<()> {
    let probes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::export))
        .with_state(state);
    axum::serve(listener, probes)
        .with_graceful_shutdown(stop)
        .await
        .context("serving the probes")?;
    draining();
    Ok(())
}
