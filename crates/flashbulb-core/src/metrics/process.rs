//! What a process costs the machine, read from Linux's `/proc`: resident memory and CPU time.

/// One reading of a process' resources.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub rss_bytes: u64,
    /// User plus system CPU time since the process started.
    pub cpu_seconds: f64,
}

impl ProcessStats {
    /// This process; `None` where `/proc` is not there.
    pub fn of_self() -> Option<Self> {
        Self::of("self")
    }

    /// Process `pid` (a number, or `self`).
    pub fn of(pid: &str) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
        Self::parse(&stat, &statm)
    }

    fn parse(stat: &str, statm: &str) -> Option<Self> {
        // The command name, in parentheses, may hold spaces and parentheses: the fields
        // after it start behind its last ')'. utime and stime are the 14th and 15th fields.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_whitespace().skip(11);
        let user: u64 = fields.next()?.parse().ok()?;
        let system: u64 = fields.next()?.parse().ok()?;
        let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        Some(Self {
            rss_bytes: resident_pages * rustix::param::page_size() as u64,
            cpu_seconds: (user + system) as f64 / ticks.max(1.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_odd_names() {
        let stats = ProcessStats::of_self().expect("/proc is mounted");
        assert!(stats.rss_bytes > 1024 * 1024);
        assert!(stats.cpu_seconds >= 0.0);
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        let parsed = ProcessStats::parse(stat, "100 25 0").expect("parses");
        assert!(parsed.cpu_seconds > 0.0);
        assert_eq!(parsed.rss_bytes, 25 * rustix::param::page_size() as u64);
        assert_eq!(ProcessStats::parse("garbage", "1 2"), None);
    }
}
