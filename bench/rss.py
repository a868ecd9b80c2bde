#!/usr/bin/env python3
"""Runs a command while sampling a process's resident memory every 20 ms from /proc; writes
the baseline, the peak, the growth and the samples (for the plot) as JSON.

    rss.py --pid PID --out FILE.json -- COMMAND...    samples PID (a running server)
    rss.py --out FILE.json -- COMMAND...              samples COMMAND itself (baseline 0)

Both VmRSS and RssAnon are kept: file pages a process maps (its own binary, the page cache of
a memory-mapped database) are counted in RSS but are the kernel's to drop; anonymous pages
are the process's own allocations.
"""
import argparse
import json
import subprocess
import sys
import threading
import time


def memory_mib(pid):
    """(VmRSS, RssAnon) of `pid` in MiB, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except (FileNotFoundError, ProcessLookupError):
        return None
    if "VmRSS" not in fields:
        return None  # exited: a zombie has no memory left to report
    kib = lambda name: int(fields.get(name, "0 kB").split()[0])
    return kib("VmRSS") / 1024, kib("RssAnon") / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, help="process to sample (default: the command)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    baseline = memory_mib(args.pid) if args.pid else (0.0, 0.0)
    if baseline is None:
        sys.exit(f"no process {args.pid} to sample")
    started = time.monotonic()
    child = subprocess.Popen(command)
    target = args.pid or child.pid
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            reading = memory_mib(target)
            if reading is not None:
                samples.append((round(time.monotonic() - started, 3), *reading))
            time.sleep(args.interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    done.set()
    sampler.join()
    seconds = time.monotonic() - started
    if code != 0:
        sys.exit(f"{' '.join(command)} exited with {code}")
    if not samples:
        sys.exit("no memory samples were taken")
    peak = max(rss for _, rss, _ in samples)
    peak_anon = max(anon for _, _, anon in samples)
    json.dump(
        {
            "command": command,
            "seconds": round(seconds, 3),
            "baseline_rss_mib": round(baseline[0], 1),
            "baseline_anon_mib": round(baseline[1], 1),
            "peak_rss_mib": round(peak, 1),
            "peak_anon_mib": round(peak_anon, 1),
            "growth_rss_mib": round(peak - baseline[0], 1),
            "growth_anon_mib": round(peak_anon - baseline[1], 1),
            "samples": samples,
        },
        open(args.out, "w"),
    )
    print(
        f"RSS {baseline[0]:.0f} → peak {peak:.0f} MiB (anonymous {baseline[1]:.0f} → {peak_anon:.0f}) "
        f"over {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
