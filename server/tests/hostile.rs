//! Every class of the hostile set derived as the job does, one file at a time: each ends
//! `ready` or failed with its reason, within the job's memory budget (the peak of memory
//! allocated while it runs, counted by this binary's allocator, and the peak of what malloc
//! has handed out, sampled, which sees libjpeg's C allocations too) and its time limit.

#[path = "support/hostile.rs"]
#[allow(dead_code)] // the benchmark reads what the test does not
mod hostile;

use std::time::Duration;

use flashbulb_core::pipeline::derive::Limits;

#[global_allocator]
static ALLOCATOR: hostile::Counting = hostile::Counting;

#[test]
fn every_hostile_file_stays_within_its_memory_budget_and_time_limit() {
    let folder = tempfile::tempdir().expect("a folder");
    let cases = hostile::build(folder.path(), hostile::Size::Quick);
    let limits = Limits {
        time_limit: Duration::from_secs(20),
        ..Limits::default()
    };
    let budget = limits.memory_bytes;
    let mut problems = Vec::new();
    for case in &cases {
        let outcome = hostile::run(case, limits);
        let result = outcome.result_text();
        eprintln!("{}", outcome.line());
        let peak = outcome.peak_bytes.max(outcome.malloc_peak_bytes);
        if peak > budget {
            problems.push(format!(
                "{}: {} MiB allocated, {} MiB in malloc, over the {} MiB budget",
                outcome.name,
                outcome.peak_bytes >> 20,
                outcome.malloc_peak_bytes >> 20,
                budget >> 20
            ));
        }
        // The time limit stops the decoders' reading; what follows it is bounded by the
        // preview's size.
        if outcome.elapsed > limits.time_limit + Duration::from_secs(5) {
            problems.push(format!("{}: ran {:?}", outcome.name, outcome.elapsed));
        }
        if !outcome.as_expected() {
            problems.push(format!(
                "{}: expected {:?}, got {result}",
                outcome.name, outcome.expect
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
