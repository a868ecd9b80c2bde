//! The hostile set at full size (1 × 100,000,000 strips, 100-megapixel flat files, metadata
//! bombs, thousand-scan JPEGs, unusual JPEGs), each derived as the job does with the default
//! limits, one at a time: the peak of memory allocated during each job (this binary's
//! counting allocator) and of what malloc has handed out (sampled; it sees C libraries too),
//! its time and its outcome. The report's row is the worst of either.
//!
//! `cargo bench -p flashbulb --bench hostile` (or `scripts/bench`). Environment: `BENCH_OUT`;
//! `BENCH_HOSTILE_SIZE=quick` for the smaller set the test uses, `smoke` for the smoke run.

#[path = "../tests/support/hostile.rs"]
mod hostile;

use flashbulb_core::pipeline::derive::Limits;

#[global_allocator]
static ALLOCATOR: hostile::Counting = hostile::Counting;

fn main() {
    let size = match std::env::var("BENCH_HOSTILE_SIZE").as_deref() {
        Ok("quick") => hostile::Size::Quick,
        Ok("smoke") => hostile::Size::Smoke,
        _ => hostile::Size::Full,
    };
    let folder = tempfile::tempdir().expect("a folder");
    let cases = hostile::build(folder.path(), size);
    let limits = Limits::default();
    let mut files = Vec::new();
    for case in &cases {
        let outcome = hostile::run(case, limits);
        let result = outcome.result_text();
        eprintln!("{}", outcome.line());
        files.push(serde_json::json!({
            "name": outcome.name,
            "class": outcome.class,
            "bytes": outcome.bytes,
            "peak_mib": outcome.peak_bytes as f64 / f64::from(1 << 20),
            "malloc_mib": outcome.malloc_peak_bytes as f64 / f64::from(1 << 20),
            "seconds": outcome.elapsed.as_secs_f64(),
            "result": result,
            "as_expected": outcome.as_expected(),
        }));
    }
    // A job's memory: what Rust allocated or what malloc handed out, whichever is more
    // (libjpeg allocates in C, past the counting allocator).
    let memory = |file: &serde_json::Value| {
        f64::max(
            file["peak_mib"].as_f64().unwrap_or_default(),
            file["malloc_mib"].as_f64().unwrap_or_default(),
        )
    };
    let worst = files
        .iter()
        .max_by(|a, b| memory(a).total_cmp(&memory(b)))
        .cloned()
        .expect("a file");
    let slowest = files
        .iter()
        .map(|file| file["seconds"].as_f64().unwrap_or_default())
        .fold(0.0, f64::max);
    let json = serde_json::json!({
        "benchmark": "hostile",
        "size": format!("{size:?}").to_lowercase(),
        "budget_mib": limits.memory_bytes >> 20,
        "time_limit_seconds": limits.time_limit.as_secs(),
        "worst_peak_mib": memory(&worst),
        "worst_file": worst["name"],
        "slowest_seconds": slowest,
        "all_as_expected": files.iter().all(|file| file["as_expected"] == true),
        "files": files,
    });
    let text = serde_json::to_string_pretty(&json).expect("json");
    println!("{text}");
    if let Ok(path) = std::env::var("BENCH_OUT") {
        std::fs::write(path, text).expect("write results");
    }
}
