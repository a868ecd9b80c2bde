//! The console's pages: `/ops` (rendered on the server, then kept current by a lazy island
//! that takes each new snapshot from the live socket) and `/ops/diagnostics` (plain HTML).

use leptos::prelude::*;
use leptos_meta::Title;

use super::{AlertState, Diagnostics, OpsSnapshot, TrafficPoint};
use crate::{
    error::ApiError,
    format::{byte_size, decimal, moment_label, thousands},
    live::{LiveUpdates, Topic},
    timeline::LoadFailed,
    zone::ViewerZone,
};

#[server(prefix = "/api", endpoint = "ops")]
pub async fn load_ops() -> Result<OpsSnapshot, ApiError> {
    crate::backend::operations()?.snapshot().await
}

#[server(prefix = "/api", endpoint = "diagnostics")]
pub async fn load_diagnostics() -> Result<Diagnostics, ApiError> {
    crate::backend::operations()?.diagnostics().await
}

#[component]
pub fn OpsPage() -> impl IntoView {
    let snapshot = Resource::new_blocking(|| (), |()| load_ops());
    let zone = use_context::<ViewerZone>().unwrap_or_default();
    view! {
        <Title text="Operations" />
        <Suspense fallback=|| view! { <p class="notice">"Reading the server's figures…"</p> }>
            {move || Suspend::new({
                let zone = zone.clone();
                async move {
                match snapshot.await {
                    Ok(snapshot) => view! {
                        <div class="ops">
                            <div class="timeline-head">
                                <h1>"Operations"</h1>
                                <p class="summary">
                                    "Live · " <a href="/ops/diagnostics">"Diagnostics"</a>
                                    " · " <a href="/metrics">"Prometheus metrics"</a>
                                </p>
                                <LiveUpdates topics=vec![Topic::Ops] notice=false />
                            </div>
                            <OpsConsole snapshot zone />
                        </div>
                    }
                        .into_any(),
                    Err(error) => view! {
                        <LoadFailed error title="The server's figures could not be read" />
                    }
                        .into_any(),
                }
                }
            })}
        </Suspense>
    }
}

/// The console's figures, replaced whenever the hub sends a newer snapshot; times in `zone`.
#[island(lazy)]
fn OpsConsole(snapshot: OpsSnapshot, zone: ViewerZone) -> impl IntoView {
    let current = RwSignal::new(snapshot);
    #[cfg(feature = "hydrate")]
    crate::live::on_message(move |message| {
        if let crate::live::ServerMessage::Frame {
            topic: Topic::Ops,
            state,
            ..
        } = message
        {
            for change in state {
                if let crate::live::Change::Ops(snapshot) = change {
                    current.set(*snapshot);
                }
            }
        }
    });
    move || view! { <Console snapshot=current.get() zone=zone.clone() /> }
}

#[component]
fn Console(snapshot: OpsSnapshot, zone: ViewerZone) -> impl IntoView {
    let OpsSnapshot {
        at_ms,
        version,
        uptime_secs,
        sample_secs,
        traffic,
        resources,
        queue,
        hub,
        cache,
        vitals_minutes,
        vitals,
        alerts,
        alert_history,
    } = snapshot;
    let latest = traffic.last().copied().unwrap_or_default();
    let series = |pick: fn(&TrafficPoint) -> Option<f64>| -> Vec<Option<f64>> {
        traffic.iter().map(pick).collect()
    };
    let requests = series(|point| Some(point.requests_per_sec));
    let p99 = series(|point| point.p99_ms);
    let errors = series(|point| Some(point.error_ratio * 100.0));
    let cache_hits = series(|point| point.cache_hit_ratio.map(|ratio| ratio * 100.0));
    let firing = alerts
        .iter()
        .filter(|alert| alert.state == AlertState::Firing)
        .count();
    let chart_span = format!(
        "last {} min",
        (traffic.len() as u64 * sample_secs).div_ceil(60)
    );
    view! {
        <p class="muted ops-meta" data-ops-at=at_ms>
            {format!(
                "Flashbulb {version} · up {} · a reading every {sample_secs} s · charts: {chart_span}",
                duration_words(uptime_secs),
            )}
        </p>
        <section class="ops-tiles" aria-label="Server">
            <Tile
                label="Requests"
                value=format!("{}/s", decimal(latest.requests_per_sec, 1))
                chart=requests
            />
            <Tile
                label="p99 latency"
                value=latest.p99_ms.map_or("–".into(), |ms| format!("≤ {} ms", decimal(ms, 0)))
                chart=p99
            />
            <Tile
                label="Server errors"
                value=format!("{} %", decimal(latest.error_ratio * 100.0, 2))
                chart=errors
            />
            <Tile
                label="Memory"
                value=byte_size(resources.rss_bytes)
                detail=format!("CPU {} % of a core", decimal(resources.cpu_percent, 0))
            />
            <Tile
                label="Database pool"
                value=format!("{} open", resources.pool_connections)
                detail=format!("{} idle · at most {}", resources.pool_idle, resources.pool_max)
            />
            <Tile
                label="Job queue"
                value=format!("{} waiting", thousands(queue.queued.max(0) as u64))
                detail=format!(
                    "{} running · {} failed · oldest {}",
                    queue.running,
                    queue.failed,
                    queue.oldest_waiting_secs.map_or("–".into(), duration_words),
                )
            />
            <Tile
                label="Live sockets"
                value=thousands(hub.connections)
                detail=format!(
                    "{} frames/s · {} resyncs · {} dropped",
                    decimal(hub.frames_per_sec, 1),
                    hub.resyncs,
                    hub.peers_dropped,
                )
            />
            <Tile
                label="Page cache"
                value=latest
                    .cache_hit_ratio
                    .map_or("–".into(), |ratio| format!("{} % hits", decimal(ratio * 100.0, 0)))
                detail=format!(
                    "{} entries · {} · {} evicted · {}",
                    thousands(cache.entries),
                    byte_size(cache.bytes),
                    thousands(cache.evictions),
                    match cache.redis_up {
                        None => "no Redis",
                        Some(true) => "Redis up",
                        Some(false) => "Redis away",
                    },
                )
                chart=cache_hits
            />
            <Tile
                label="Alerts"
                value=format!("{firing} firing")
                detail=format!("{} rules", alerts.len())
            />
        </section>

        <section aria-labelledby="alerts-title">
            <h2 id="alerts-title">"Alerts"</h2>
            <table class="ops-table">
                <thead>
                    <tr><th>"Rule"</th><th>"Condition"</th><th>"State"</th><th>"Value"</th><th>"Since"</th></tr>
                </thead>
                <tbody>
                    {alerts
                        .into_iter()
                        .map(|alert| {
                            let name = alert.name.clone();
                            view! {
                                <tr data-alert=name data-state=alert.state.label()>
                                    <td>{alert.name}</td>
                                    <td>{alert.rule}</td>
                                    <td><span class=format!("badge alert-{}", alert.state.label())>{alert.state.label()}</span></td>
                                    <td>{alert.shown.unwrap_or_else(|| "–".into())}</td>
                                    <td>{alert.since.map_or("–".into(), |since| moment_label(since, &zone))}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            {(!alert_history.is_empty()).then(|| view! {
                <h3>"Recent alert events"</h3>
                <ul class="ops-list">
                    {alert_history
                        .into_iter()
                        .map(|event| view! {
                            <li>
                                <span class=format!("badge alert-{}", event.state.label())>{event.state.label()}</span>
                                " " {event.rule} " · " {event.shown.unwrap_or_default()}
                                " · " {moment_label(event.at, &zone)}
                            </li>
                        })
                        .collect_view()}
                </ul>
            })}
        </section>

        <section aria-labelledby="vitals-title">
            <h2 id="vitals-title">"Web Vitals"</h2>
            <p class="muted">
                {format!(
                    "From visitors' browsers over the last {vitals_minutes} min. p75 coloured by Google's bands: good, needs improvement, poor."
                )}
            </p>
            {if vitals.is_empty() {
                view! { <p class="notice">"No page views reported yet."</p> }.into_any()
            } else {
                view! {
                    <table class="ops-table vitals-table">
                        <thead>
                            <tr><th>"Route"</th><th>"Metric"</th><th>"p75"</th><th>"p95"</th><th>"Page views"</th><th>"p75 per minute"</th></tr>
                        </thead>
                        <tbody>
                            {vitals
                                .into_iter()
                                .map(|row| {
                                    let band = row.metric.band(row.p75);
                                    let route = row.route.clone();
                                    view! {
                                        <tr data-route=route data-metric=row.metric.name()>
                                            <td><code>{row.route}</code></td>
                                            <td>{row.metric.name()}</td>
                                            <td>
                                                <span class=format!("badge {}", band.class()) title=band.label()>
                                                    {row.metric.format(row.p75)}
                                                </span>
                                            </td>
                                            <td>{row.metric.format(row.p95)}</td>
                                            <td>{thousands(row.page_views)}</td>
                                            <td><Sparkline values=row.trend threshold=Some(row.metric.thresholds().0) /></td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>

        <section aria-labelledby="failures-title">
            <h2 id="failures-title">"Failed jobs"</h2>
            {if queue.failures.is_empty() {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! {
                    <ul class="ops-list">
                        {queue
                            .failures
                            .into_iter()
                            .map(|failure| view! {
                                <li>
                                    <a href=format!("/p/{}", failure.photo)>{format!("Photo {}", failure.photo)}</a>
                                    " · " {failure.kind} " · " {failure.error} " · " {moment_label(failure.at, &zone)}
                                </li>
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn Tile(
    label: &'static str,
    value: String,
    #[prop(optional)] detail: Option<String>,
    #[prop(optional)] chart: Option<Vec<Option<f64>>>,
) -> impl IntoView {
    view! {
        <div class="ops-tile">
            <span class="ops-tile-label">{label}</span>
            <strong class="ops-tile-value">{value}</strong>
            {detail.map(|detail| view! { <span class="muted">{detail}</span> })}
            {chart.map(|values| view! { <Sparkline values threshold=None /> })}
        </div>
    }
}

/// A small line chart of `values` (gaps where `None`), scaled to its largest value, with a
/// dashed line at `threshold` when it is in range.
#[component]
fn Sparkline(values: Vec<Option<f64>>, threshold: Option<f64>) -> impl IntoView {
    const WIDTH: f64 = 120.0;
    const HEIGHT: f64 = 32.0;
    let top = values
        .iter()
        .flatten()
        .copied()
        .chain(threshold)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let step = WIDTH / (values.len().max(2) - 1) as f64;
    let y = move |value: f64| HEIGHT - 2.0 - (value / top) * (HEIGHT - 4.0);
    // Runs of consecutive values; a lone value becomes a short dash, or it would not show.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (index, value) in values.iter().enumerate() {
        match value {
            Some(value) => runs
                .last_mut()
                .into_iter()
                .for_each(|run| run.push((index as f64 * step, y(*value)))),
            None => runs.push(Vec::new()),
        }
    }
    let runs: Vec<String> = runs
        .into_iter()
        .filter(|run| !run.is_empty())
        .map(|run| match run.as_slice() {
            [(x, y)] => format!(
                "{},{y} {},{y}",
                decimal((x - 2.0).max(0.0), 1),
                decimal((x + 2.0).min(WIDTH), 1),
                y = decimal(*y, 1),
            ),
            _ => run
                .iter()
                .map(|(x, y)| format!("{},{}", decimal(*x, 1), decimal(*y, 1)))
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    view! {
        <svg class="sparkline" viewBox=format!("0 0 {} {}", WIDTH as u32, HEIGHT as u32) preserveAspectRatio="none" aria-hidden="true">
            {threshold.map(|threshold| view! {
                <line class="sparkline-threshold" x1="0" x2=decimal(WIDTH, 0) y1=decimal(y(threshold), 1) y2=decimal(y(threshold), 1) />
            })}
            {runs
                .into_iter()
                .map(|points| view! { <polyline points=points /> })
                .collect_view()}
        </svg>
    }
}

fn duration_words(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

#[component]
pub fn DiagnosticsPage() -> impl IntoView {
    let diagnostics = Resource::new_blocking(|| (), |()| load_diagnostics());
    view! {
        <Title text="Diagnostics" />
        <Suspense fallback=|| view! { <p class="notice">"Reading the diagnostics…"</p> }>
            {move || Suspend::new(async move {
                match diagnostics.await {
                    Ok(diagnostics) => view! { <DiagnosticsView diagnostics /> }.into_any(),
                    Err(error) => view! {
                        <LoadFailed error title="The diagnostics could not be read" />
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DiagnosticsView(diagnostics: Diagnostics) -> impl IntoView {
    let Diagnostics {
        version,
        uptime_secs,
        config,
        migration_version,
        migrations_pending,
        database,
        resources,
        slow_queries,
        slow_query_ms,
    } = diagnostics;
    let zone = use_context::<ViewerZone>().unwrap_or_default();
    view! {
        <div class="ops">
            <div class="timeline-head">
                <h1>"Diagnostics"</h1>
                <p class="summary"><a href="/ops">"Operations"</a></p>
            </div>
            <dl class="ops-facts">
                <dt>"Version"</dt><dd>{version}</dd>
                <dt>"Up for"</dt><dd>{duration_words(uptime_secs)}</dd>
                <dt>"Database"</dt><dd>{database}</dd>
                <dt>"Migration"</dt>
                <dd data-migration=migration_version>
                    {format!("{migration_version} ({migrations_pending} pending)")}
                </dd>
                <dt>"Pool"</dt>
                <dd>{format!(
                    "{} open, {} idle, at most {}",
                    resources.pool_connections, resources.pool_idle, resources.pool_max
                )}</dd>
                <dt>"Memory"</dt><dd>{byte_size(resources.rss_bytes)}</dd>
            </dl>
            <section aria-labelledby="slow-title">
                <h2 id="slow-title">"Slowest statements"</h2>
                <p class="muted">{format!("Statements slower than {slow_query_ms} ms since the server started.")}</p>
                {if slow_queries.is_empty() {
                    view! { <p class="muted">"None so far."</p> }.into_any()
                } else {
                    view! {
                        <table class="ops-table">
                            <thead><tr><th>"Time"</th><th>"Rows"</th><th>"Statement"</th><th>"When"</th></tr></thead>
                            <tbody>
                                {slow_queries
                                    .into_iter()
                                    .map(|query| view! {
                                        <tr>
                                            <td>{format!("{} ms", decimal(query.millis, 0))}</td>
                                            <td>{query.rows}</td>
                                            <td><code class="statement">{query.statement}</code></td>
                                            <td>{moment_label(query.at, &zone)}</td>
                                        </tr>
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }}
            </section>
            <section aria-labelledby="config-title">
                <h2 id="config-title">"Configuration"</h2>
                <table class="ops-table config-table">
                    <tbody>
                        {config
                            .into_iter()
                            .map(|(key, value)| view! {
                                <tr><th scope="row"><code>{key}</code></th><td><code>{value}</code></td></tr>
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vitals::Metric;

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(duration_words(59), "59 s");
        assert_eq!(duration_words(600), "10 min");
        assert_eq!(duration_words(7200), "2 h");
        // Every metric is shown in its own unit.
        assert_eq!(Metric::Cls.format(0.1), "0.100");
    }
}
