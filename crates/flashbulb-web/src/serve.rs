//! Serving the router on a socket: HTTP/1.1 through hyper with upgrades, TCP_NODELAY on every
//! connection, peer addresses for the rate limits, and a graceful stop that gives requests in
//! flight a grace period. A worker process serves its probes and metrics only.
//!
//! Connections are served by hyper's HTTP/1 connection directly (not axum's `serve`, whose
//! protocol detection wraps each connection): an upgraded live socket then hands its TCP
//! stream itself to the hub, which writes frames to it without a task in between.

use std::{future::Future, net::SocketAddr, pin::pin, time::Duration};

use anyhow::Context;
use axum::{extract::ConnectInfo, routing::get, Router};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::net::TcpListener;
use tower::ServiceExt;

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
    let (stopping, _) = tokio::sync::watch::channel(false);
    {
        let mut stop = pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut stop => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, most likely: the backlog waits meanwhile.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            serve_connection(app.clone(), stream, peer, stopping.subscribe());
        }
    }
    // No new connections from the signal on: they are refused, not left in the backlog.
    drop(listener);
    // Live sockets are not requests the drain waits for.
    hub.close_all();
    stopping.send_replace(true);
    draining();
    // Each connection holds a receiver until it ends: closed once the last one did.
    if tokio::time::timeout(grace, stopping.closed())
        .await
        .is_err()
    {
        // Dropping them cancels their handlers; uploads leave nothing half-stored.
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still running after the grace period were cut"
        );
    }
    Ok(())
}

/// Serves one connection until it ends, or finishes its request in flight and closes once
/// `stopping` turns true.
fn serve_connection(
    app: Router,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    // Without TCP_NODELAY a response written in two pieces (head, then body) waits for the
    // client's delayed acknowledgement: 40 ms per request on keep-alive connections, measured
    // as 1,000 requests/s for a static file at 32 connections (BENCHMARKS.md).
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY could not be set");
    }
    // Peer addresses key the per-client rate limits.
    let service = TowerToHyperService::new(app.map_request(
        move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        },
    ));
    tokio::spawn(async move {
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut connection = pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    });
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
