//! Who this process is among every process sharing the database and the data folder: the name
//! its job leases and scratch folder carry, and whether the process behind such a name on
//! this host is gone, so what it left (leases, half-written files) can be taken back at once.

use std::sync::OnceLock;

/// This machine's host name, read once.
pub fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().replace('/', "_"))
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "host".into())
    })
}

/// `host-pid`: names this process's scratch folder; job leases add a random part.
pub fn name() -> String {
    format!("{}-{}", host(), std::process::id())
}

/// True when `name` (`host-pid`, or with `with_random_part` `host-pid-random`) was given by a
/// process of this host that no longer runs. A process of another host, or a name that does
/// not parse, is never declared gone: its lease runs out instead. Our own pid counts as gone
/// (containers reuse the same pid at every start), so ask only before this process made
/// anything under its name.
pub fn is_gone(name: &str, with_random_part: bool) -> bool {
    let without_random = if with_random_part {
        match name.rsplit_once('-') {
            Some((rest, _)) => rest,
            None => return false,
        }
    } else {
        name
    };
    let Some((host_part, pid)) = without_random.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host_part == host() && (pid == std::process::id() || !is_running(pid))
}

fn is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without /proc nothing can be told: keep what may belong to a live process.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_processes_of_this_host_that_stopped_are_gone() {
        let host = host();
        // PID 1 runs on every Linux machine.
        assert!(!is_gone(&format!("{host}-1"), false));
        assert!(!is_gone(&format!("{host}-1-0badcafe"), true));
        // Process ids above the kernel's maximum (4,194,304) never run.
        assert!(is_gone(&format!("{host}-99999999"), false));
        assert!(is_gone(&format!("{host}-99999999-0badcafe"), true));
        assert!(!is_gone("elsewhere-99999999", false));
        assert!(!is_gone("no pid here", false));
        assert!(!is_gone(&format!("{host}-x-1"), true));
        // Asked at start, this process's own name can only be an earlier life's.
        assert!(is_gone(&name(), false));
    }
}
