#!/usr/bin/env python3
"""Turns the results of one `scripts/bench` run into BENCHMARKS.md and its plots (SVG).

    report.py --results DIR --report FILE.md --plots DIR [--smoke]

Every figure comes from a file of DIR written in the same run; a missing one is an error, so
the smoke run in CI fails as soon as a step stops producing its figure.
"""
import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FLASHBULB = "#d9480f"
NGINX = "#1c7ed6"
MIB = 1024 * 1024


def load(results, name):
    return json.loads((results / name).read_text())


def verdict(ok):
    return "pass" if ok else "**fail**"


def ms(value):
    if value is None:
        return "none measured"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:.2f} ms"


def cpu(seconds):
    return "?" if seconds is None else f"{seconds:.1f} s"


def per_delivery(micros):
    return "" if micros is None else f" ({micros:.2f} µs per change per socket)"


def live_clean(live):
    """No socket lost updates: none got a resync, none was disconnected."""
    return live["resyncs"] == 0 and live["disconnects"] == 0


def rate_reached(live):
    """The load run made the changes it was asked for: 95 % of the wanted rate or more."""
    return live["rate_achieved"] >= 0.95 * live["rate_wanted"]


def kb(value):
    return f"{value / 1000:,.1f} KB"


def inp_text(value):
    return "under 16 ms" if value is None else ms(value)


def machine():
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        "unknown CPU",
    )
    memory_gib = int(open("/proc/meminfo").readline().split()[1]) / MIB
    return f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.system()} {platform.release()}"


def save(figure, plots, name):
    figure.tight_layout()
    figure.savefig(plots / name, format="svg")
    plt.close(figure)
    return f"plots/{name}"


def http_figures(results):
    targets = []
    for line in (results / "http_targets.txt").read_text().split():
        name, path, _, *encoding = line.split("|")
        flashbulb = load(results, f"http_{name}_flashbulb.json")
        nginx = load(results, f"http_{name}_nginx.json")
        targets.append((name, path, flashbulb, nginx, (encoding or [""])[0]))
    return targets


def storage_section(results):
    """Media from object storage next to the data folder and nginx, same run."""
    listed = results / "storage_targets.txt"
    if not listed.exists():
        return []
    lines = [
        "## Media from object storage (same run)",
        "",
        "The same photograph served by a server whose files are in a bucket (`storage_url`, "
        "moto's S3 server on this machine: pure Python, so it bounds what streams through it), "
        "by one whose files are in the data folder, and by nginx from disk. The original is "
        "streamed on every request; the thumbnail is kept in memory once read. wrk, "
        "same connections and seconds as above.",
        "",
        "| what | data folder req/s | object storage req/s | nginx req/s | object storage / data folder "
        "| p50 / p99: data folder | object storage | nginx |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for line in listed.read_text().split():
        name = line.split("|")[0]
        folder, objects, nginx = (
            load(results, f"http_storage_{name}_{where}.json") for where in ("folder", "objects", "nginx")
        )
        percentiles = " | ".join(
            f"{ms(run['latency_ms']['p50'])} / {ms(run['latency_ms']['p99'])}"
            for run in (folder, objects, nginx)
        )
        lines.append(
            f"| {name} | {folder['requests_per_second']:,.0f} | {objects['requests_per_second']:,.0f} "
            f"| {nginx['requests_per_second']:,.0f} "
            f"| **{objects['requests_per_second'] / folder['requests_per_second']:.2f}×** | {percentiles} |"
        )
    return lines + [""]


def plot_http(targets, plots):
    names = [name.replace("_", " ") for name, *_ in targets]
    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    positions = range(len(targets))
    throughput.bar([p - 0.2 for p in positions], [t[2]["requests_per_second"] for t in targets], 0.4,
                   label="Flashbulb", color=FLASHBULB)
    throughput.bar([p + 0.2 for p in positions], [t[3]["requests_per_second"] for t in targets], 0.4,
                   label="nginx, same bytes from disk", color=NGINX)
    throughput.set_xticks(list(positions), names, rotation=20, ha="right")
    throughput.set_yscale("log")
    throughput.set_ylabel("requests / s (log)")
    throughput.set_title("Throughput (wrk, same run)")
    throughput.legend()
    percentiles = ["p50", "p75", "p90", "p99", "p999"]
    for index, (name, _, flashbulb, nginx, _) in enumerate(targets):
        colour = plt.cm.tab10(index)
        latency.plot(percentiles, [flashbulb["latency_ms"][p] for p in percentiles], "-o", color=colour,
                     label=f"{name.replace('_', ' ')}")
        latency.plot(percentiles, [nginx["latency_ms"][p] for p in percentiles], "--", color=colour, alpha=0.6)
    latency.set_yscale("log")
    latency.set_ylabel("latency, ms (log)")
    latency.set_title("Latency percentiles: Flashbulb solid, nginx dashed")
    latency.legend(fontsize="small")
    return save(figure, plots, "http.svg")


def plot_server(timeline, plots):
    series = {
        "timeline page, cold": timeline["timeline_page_cold_ms"],
        "timeline page, warm": timeline["timeline_page_warm_ms"],
        "bucket segment (500)": timeline["bucket_segment_500_ms"],
        **timeline["library_pages_ms"],
    }
    figure, axes = plt.subplots(figsize=(9, 0.35 * len(series) + 1.5))
    labels = list(series)
    axes.barh(labels, [series[k]["p99"] for k in labels], color=FLASHBULB, alpha=0.35, label="p99")
    axes.barh(labels, [series[k]["p50"] for k in labels], color=FLASHBULB, label="p50")
    axes.axvline(20, color="black", linestyle=":", label="page budget, p99 20 ms")
    axes.invert_yaxis()
    axes.set_xlabel("server time, ms")
    axes.set_title(f"Server time at {timeline['photos']:,} photos (in process)")
    axes.legend(loc="lower right")
    return save(figure, plots, "server_time.svg")


def plot_memory(runs, plots):
    figure, panels = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.6))
    for panel, (title, run) in zip(panels, runs):
        times = [sample[0] for sample in run["samples"]]
        panel.plot(times, [sample[1] for sample in run["samples"]], color=FLASHBULB, label="RSS")
        panel.plot(times, [sample[2] for sample in run["samples"]], color=NGINX, label="allocated (anonymous)")
        panel.axhline(run["baseline_anon_mib"] + 100e6 / MIB, color="black", linestyle=":",
                      label="allocated before + 100 MB (budget)")
        panel.set_title(title, fontsize="medium")
        panel.set_xlabel("seconds")
        panel.set_ylabel("MiB")
        panel.set_ylim(bottom=0)
    panels[0].legend(fontsize="small")
    return save(figure, plots, "memory.svg")


def plot_pages(web, plots):
    pages = list(web["pages"])
    figure, axes = plt.subplots(figsize=(7, 3.8))
    first = [web["pages"][p]["weight"]["first_load_brotli"] / 1000 for p in pages]
    lazy = [web["pages"][p]["weight"]["lazy_brotli"] / 1000 for p in pages]
    axes.bar(pages, first, color=FLASHBULB, label="first load")
    axes.bar(pages, lazy, bottom=first, color=FLASHBULB, alpha=0.4, label="lazy chunks this page fetched")
    axes.axhline(60, color="black", linestyle=":", label="budget, 60 KB first load")
    axes.set_ylabel("JS + WASM, KB brotli")
    axes.set_title("What each page downloads")
    axes.legend(fontsize="small")
    return save(figure, plots, "page_weight.svg")


def plot_live(live, plots):
    figure, axes = plt.subplots(figsize=(7, 3.6))
    labels = ["p50", "p90", "p99", "max"]
    axes.bar([f"request→frame {p}" for p in labels],
             [live[f"latency_ms_{p}"] for p in labels], color=FLASHBULB, alpha=0.5)
    axes.bar(["fan-out p50, read", "fan-out p99, read"], [live["fanout_ms_p50"], live["fanout_ms_p99"]],
             color=FLASHBULB, alpha=0.75)
    if live.get("fanout_arrived_ms_p99") is not None:
        axes.bar(["fan-out p50, arrived", "fan-out p99, arrived"],
                 [live["fanout_arrived_ms_p50"], live["fanout_arrived_ms_p99"]], color=FLASHBULB)
    axes.axhline(150, color="black", linestyle=":", label="fan-out budget, p99 150 ms")
    axes.set_ylabel("ms")
    axes.set_title(f"Live updates: {live['connections_held']:,} clients, "
                   f"{live['rate_achieved']:,.0f} of {live['rate_wanted']:,} changes/s")
    axes.tick_params(axis="x", rotation=25)
    axes.legend(fontsize="small")
    return save(figure, plots, "live.svg")


def plot_soak(soak, plots):
    figure, axes = plt.subplots(figsize=(7, 3.4))
    seconds = [sample[0] for sample in soak["rss_kib_by_second"]]
    axes.plot(seconds, [sample[1] * 1024 / MIB for sample in soak["rss_kib_by_second"]], color=FLASHBULB, label="RSS")
    axes.axvline(soak["warm_up_s"], color="black", linestyle=":", label="end of warm-up")
    axes.axhline(soak["rss_after_warm_up_kib"] * 1.05 * 1024 / MIB, color=NGINX, linestyle=":",
                 label="after warm-up + 5 % (limit)")
    axes.set_xlabel("seconds")
    axes.set_ylabel("MiB")
    axes.set_ylim(bottom=0)
    axes.set_title("Soak: resident memory of the server under a steady mixed load")
    axes.legend(fontsize="small")
    return save(figure, plots, "soak.svg")


def formats_section(formats):
    """HEIF and AVIF originals against vipsthumbnail, and what each preview format costs."""
    heif, avif, enc = formats["heif"], formats["avif"], formats["encodings"]
    lines = [
        "## Phone formats: HEIF and AVIF in, AVIF out (same files, same run, one core each)",
        "",
        "Thumbnails (256 × 256 centre crop, WebP quality 80) from the HEIC and HIF files of "
        "pillow_heif's tests (iPhone 8 Plus and 13 Pro, Xiaomi, Canon, a Nokia burst) and the "
        "AVIFs of Pillow's (small; no camera's AVIF is in the registries). Both decode through "
        f"Debian's libheif; {formats['rounds']} rounds, alternating; per second: the median round.",
        "",
        "| originals | files | MP in all | Flashbulb / s | `vipsthumbnail` / s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in (("HEIF/HEIC", heif), ("AVIF", avif)):
        lines.append(
            f"| {name} | {row['files']} | {row['megapixels']:.1f} | "
            f"{row['flashbulb_per_second']:.1f} | {row['vipsthumbnail_per_second']:.1f} | "
            f"**{row['ratio']:.2f}** |"
        )
    only_ours = heif["only_flashbulb_reads"] + avif["only_flashbulb_reads"]
    if only_ours:
        lines += [
            "",
            "Left out of the comparison, as `vipsthumbnail` could not read them (Flashbulb "
            f"does): {', '.join(f'`{name}`' for name in only_ours)}.",
        ]
    lines += [
        "",
        f"Previews: the {formats['previews']} test photographs' previews fitted within "
        f"{formats['preview_edge']} pixels, encoded by each format; time: the median preview; bytes: the mean. AVIF at "
        f"quality {formats['avif_quality']} through libaom at speed {formats['avif_speed']} "
        "(what the pipeline makes) and at speed 6 (libaom's default in libheif); WebP at "
        f"{formats['webp_quality']:.0f}, JPEG at {formats['jpeg_quality']}.",
        "",
        "| preview format | encode ms | KB a preview | bytes against JPEG |",
        "|---|---|---|---|",
    ]
    jpeg = enc["jpeg"]["mean_bytes"]
    for key, label in (
        ("avif", f"AVIF, speed {formats['avif_speed']}"),
        ("avif_speed_6", "AVIF, speed 6"),
        ("webp", "WebP"),
        ("jpeg", "JPEG"),
    ):
        row = enc[key]
        lines.append(
            f"| {label} | {row['median_ms']:.0f} | {row['mean_bytes'] / 1e3:.0f} | "
            f"{row['mean_bytes'] / jpeg:.2f}× |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--plots", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    results, plots = args.results, args.plots
    plots.mkdir(parents=True, exist_ok=True)

    timeline = load(results, "timeline.json")
    timeline_pg = load(results, "timeline_postgres.json")
    thumbs = load(results, "thumbnails.json")
    formats = load(results, "formats.json")
    hostile = load(results, "hostile.json")
    web = load(results, "web.json")
    held = load(results, "live_held.json")
    live = load(results, "live_latency.json")
    seed = load(results, "seed_rss.json")
    export = load(results, "export_rss.json")
    upload = load(results, "upload_rss.json")
    processing = load(results, "upload_processing_rss.json")
    upload_status = load(results, "upload_status.json")[0]
    soak = load(results, "soak.json")
    exported_rows = int((results / "export_rows.txt").read_text())
    upload_bytes = int(os.environ["BENCH_UPLOAD_BYTES"])
    size = (results / "size.txt").read_text().strip()
    fd_limit = (results / "live_fd_limit.txt").read_text().strip()
    elapsed = int((results / "elapsed_seconds.txt").read_text())
    targets = http_figures(results)
    photos = timeline["photos"]

    plot_links = {
        "http": plot_http(targets, plots),
        "server": plot_server(timeline, plots),
        "memory": plot_memory(
            [("seeding the library (the seed process)", seed),
             ("exporting every row as CSV (server)", export),
             ("the large upload (server)", upload)],
            plots,
        ),
        "pages": plot_pages(web, plots),
        "live": plot_live(live, plots),
        "soak": plot_soak(soak, plots),
    }
    plot_prefix = "bench/" if not args.smoke else ""

    timeline_page = web["pages"]["/"]
    lighthouse = {path: page["lighthouse"] for path, page in web["pages"].items()}
    worst_performance = min(lighthouse.items(), key=lambda item: item[1]["performance"])
    worst_accessibility = min(lighthouse.items(), key=lambda item: item[1]["accessibility"])
    worst_cls = max(lighthouse.items(), key=lambda item: item[1]["cls"])
    interactions = web["interactions"]
    worst_inp = max(interactions.items(), key=lambda item: item[1]["inp_ms"] or 0)
    motion = web["timeline_motion"]
    # Pages without islands fetch no lazy chunk: their first load is all they load.
    plain_pages = {path: page for path, page in web["pages"].items() if page["weight"]["lazy_brotli"] == 0}
    heaviest_plain = max(plain_pages.items(), key=lambda item: item[1]["weight"]["first_load_brotli"],
                         default=(None, None))
    grey_share = motion["visible_cells_grey"] / max(motion["visible_cells_seen"], 1)
    page_ratio = {name: f["requests_per_second"] / n["requests_per_second"] for name, _, f, n, _ in targets}
    budgets_ms = timeline["budgets_ms"]
    rss_budget_mib = 100 * 1000 * 1000 / MIB  # 100 MB

    budgets = [
        ("first-load JS + WASM of the timeline, brotli", "≤ 60 KB",
         kb(timeline_page["weight"]["first_load_brotli"]),
         timeline_page["weight"]["first_load_brotli"] <= 60_000),
        ("Lighthouse performance (mobile), every page", "100",
         f"lowest {worst_performance[1]['performance']:g} ({worst_performance[0]})",
         worst_performance[1]["performance"] >= 100),
        *([("first-load JS + WASM of a page without islands, brotli", "≤ 25 KB",
            f"{kb(heaviest_plain[1]['weight']['first_load_brotli'])} ({heaviest_plain[0]})",
            heaviest_plain[1]["weight"]["first_load_brotli"] <= 25_000)] if heaviest_plain[0] else []),
        ("Lighthouse accessibility, every page", "100",
         f"lowest {worst_accessibility[1]['accessibility']:g} ({worst_accessibility[0]})",
         worst_accessibility[1]["accessibility"] >= 100),
        (f"timeline in Chromium at {photos:,} photos: DOM elements", "≤ 1,500",
         f"{motion['dom_elements_max']:,}", motion["dom_elements_max"] <= 1500),
        (f"timeline fast scroll ({motion['speed_px_per_s']:,} px/s), unthrottled", "≥ 55 fps",
         f"{motion['fps']:.1f} fps", motion["fps"] >= 55),
        ("… visible cells without their placeholder colour while moving", "≤ 5 %",
         f"{grey_share * 100:.1f} % ({motion['visible_cells_grey']:,} of {motion['visible_cells_seen']:,})",
         grey_share <= 0.05),
        (f"longest task at {motion['throttle']}× CPU: hydration", "≤ 50 ms",
         ms(motion["hydration_longest_task_ms"]), motion["hydration_longest_task_ms"] <= 50),
        (f"longest task at {motion['throttle']}× CPU: a 3-second fast scroll", "≤ 50 ms",
         ms(motion["scroll_longest_task_ms"]), motion["scroll_longest_task_ms"] <= 50),
        ("CLS, every page (Lighthouse)", "0",
         f"highest {worst_cls[1]['cls']:.3f} ({worst_cls[0]})", worst_cls[1]["cls"] == 0),
        (f"timeline page at {photos:,} photos, warm, p99", "≤ 20 ms",
         ms(timeline["timeline_page_warm_ms"]["p99"]),
         timeline["timeline_page_warm_ms"]["p99"] <= budgets_ms["timeline_page_warm_p99"]),
        (f"timeline page at {photos:,} photos, cold, p99", "≤ 100 ms",
         ms(timeline["timeline_page_cold_ms"]["p99"]),
         timeline["timeline_page_cold_ms"]["p99"] <= budgets_ms["timeline_page_cold_p99"]),
        ("cached page throughput (the timeline, brotli as browsers ask) against nginx, same bytes", "≥ 0.5×",
         f"{page_ratio['timeline_page']:.2f}×", page_ratio["timeline_page"] >= 0.5),
        (f"bucket fetch at {photos:,} photos, p99 (SQLite)", "≤ 10 ms",
         ms(timeline["bucket_segment_500_ms"]["p99"]),
         timeline["bucket_segment_500_ms"]["p99"] <= budgets_ms["bucket_segment_p99"]),
        (f"bucket fetch at {timeline_pg['photos']:,} photos, p99 (PostgreSQL)", "≤ 10 ms",
         ms(timeline_pg["bucket_segment_500_ms"]["p99"]),
         timeline_pg["bucket_segment_500_ms"]["p99"] <= budgets_ms["bucket_segment_p99"]),
        ("thumbnails against vipsthumbnail", "≥ 1.0×", f"{thumbs['ratio']:.2f}×",
         thumbs["ratio"] >= thumbs["target_ratio"]),
        (f"worst job memory across the hostile set ({len(hostile['files'])} files)",
         f"≤ {hostile['budget_mib']} MiB",
         f"{hostile['worst_peak_mib']:.0f} MiB ({hostile['worst_file']})"
         + ("" if hostile["all_as_expected"] else "; an outcome was not the expected one"),
         hostile["worst_peak_mib"] <= hostile["budget_mib"] and hostile["all_as_expected"]
         and hostile["slowest_seconds"] <= hostile["time_limit_seconds"] + 5),
        (f"WebSocket hub: RSS holding {held['connections_held']:,} sockets", "< 1 GiB at 20,000",
         f"{held['server_rss_held_mib']:.0f} MiB",
         held["server_rss_held_mib"] < 1024 and held["connections_held"] >= min(20_000, held["connections_wanted"])),
        # Labelled with the rate the server really took; a rate short of the one asked for
        # fails the row, however fast the few changes that were made went out. Timed to the
        # frame's arrival at the client's socket (the kernel's receive time), with the time the
        # load tool's one reading thread then took to get to it beside.
        (f"WebSocket fan-out p99 (stored → frame at the client's socket), "
         f"{live['connections_held']:,} clients, "
         f"{live['rate_achieved']:,.0f} changes/s achieved of {live['rate_wanted']:,} wanted",
         "≤ 150 ms at the wanted rate, no resync or disconnect",
         ms(live.get("fanout_arrived_ms_p99"))
         + f" (read by the load tool: {ms(live['fanout_ms_p99'])})"
         + ("" if rate_reached(live) else f"; only {live['rate_achieved']:,.0f} changes/s")
         + ("" if live_clean(live) else f"; {live['resyncs']} resyncs, {live['disconnects']} disconnects"),
         live.get("fanout_arrived_ms_p99") is not None and live["fanout_arrived_ms_p99"] <= 150
         and rate_reached(live) and live_clean(live)),
        (f"the changes' own HTTP answers during that fan-out, p99", "≤ 100 ms",
         ms(live["answer_ms_p99"]),
         live["answer_ms_p99"] is not None and live["answer_ms_p99"] <= 100),
        (f"seeding {photos:,} rows: memory of the seed process at its peak", "≤ 100 MB growth",
         f"{seed['peak_anon_mib']:.0f} MiB allocated (RSS {seed['peak_rss_mib']:.0f} MiB)",
         seed["peak_anon_mib"] <= rss_budget_mib),
        (f"exporting {exported_rows:,} rows: server memory growth", "≤ 100 MB",
         f"{export['growth_anon_mib']:+.0f} MiB allocated (RSS {export['growth_rss_mib']:+.0f} MiB)",
         export["growth_anon_mib"] <= rss_budget_mib),
        (f"a {upload_bytes / 2**30:.2f} GiB upload: server memory growth", "≤ 100 MB",
         f"{upload['growth_anon_mib']:+.0f} MiB allocated (RSS {upload['growth_rss_mib']:+.0f} MiB)",
         upload["growth_anon_mib"] <= rss_budget_mib),
        ("… and making its derivatives", "≤ 100 MB",
         f"{processing['growth_anon_mib']:+.0f} MiB allocated (RSS {processing['growth_rss_mib']:+.0f} MiB)",
         processing["growth_anon_mib"] <= rss_budget_mib),
        ("INP of interactions in Chromium (the timeline's at 4× CPU)", "≤ 100 ms",
         inp_text(worst_inp[1]["inp_ms"]) + f" ({worst_inp[0]})",
         (worst_inp[1]["inp_ms"] or 0) <= 100),
        (f"seed {photos:,} synthetic photos (SQLite)", "≤ 60 s at 1M",
         f"{timeline['seed_seconds']:.1f} s", timeline["seed_seconds"] * 1_000_000 / photos <= 60),
    ]

    # Taken when the run started: the tree measured, not the one the report is written from.
    commit = (results / "commit.txt").read_text().strip()
    dirty = " (with uncommitted changes)" if (results / "changes.txt").read_text().strip() else ""
    title = "Benchmark smoke run" if args.smoke else "Benchmarks"
    lines = [
        f"# {title}",
        "",
        f"- commit: `{commit}`{dirty}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        f"- the whole run took {elapsed / 60:.1f} minutes",
        "",
    ]
    if args.smoke:
        lines += [
            "Small sizes on debug builds: this run proves every step still produces its figure.",
            "Its figures say nothing about the budgets.",
            "",
        ]
    else:
        lines += [
            "Written by `make bench` (`scripts/bench`); every figure below comes from that one run.",
            "Medians and ratios against a reference measured in the same run are the figures to",
            "compare across runs: absolute times vary on shared machines. The load generators and",
            "the servers share the machine's two cores.",
            "",
        ]
    lines += [
        "## Budgets (SPEC §4)",
        "",
        "| budget | target | measured | |",
        "|---|---|---|---|",
        *[f"| {what} | {target} | {figure} | {verdict(ok)} |" for what, target, figure, ok in budgets],
        "",
        "Pages and segments under HTTP load come from the page cache after their first",
        "request: repeat views of an unchanged library are what the cache is for.",
        "",
        "## HTTP load against nginx",
        "",
        f"`wrk -t1 -c{os.environ['BENCH_HTTP_CONNECTIONS']} -d{os.environ['BENCH_HTTP_SECONDS']}s` against Flashbulb ({'debug' if args.smoke else 'release'} "
        f"build, {photos:,} photos), then against nginx 1.22 (2 workers, sendfile, no logging) serving",
        "the bytes Flashbulb answered, saved to files. wrk asks for no compression, except where a",
        "row says `br`: there it asks Flashbulb for brotli, as browsers do, and nginx sends the same",
        "brotli bytes from a file.",
        "",
        "| what | Flashbulb req/s | nginx req/s | ratio | Flashbulb p50 / p99 | nginx p50 / p99 | errors |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {name.replace('_', ' ')} (`{path}`{', ' + encoding if encoding else ''}) | {f['requests_per_second']:,.0f} | {n['requests_per_second']:,.0f} "
            f"| {page_ratio[name]:.2f}× | {ms(f['latency_ms']['p50'])} / {ms(f['latency_ms']['p99'])} "
            f"| {ms(n['latency_ms']['p50'])} / {ms(n['latency_ms']['p99'])} "
            f"| {sum(f['errors'].values())} / {sum(n['errors'].values())} |"
            for name, path, f, n, encoding in targets
        ],
        "",
        f"![Throughput and latency percentiles]({plot_prefix}{plot_links['http']})",
        "",
        "## Pages in the browser",
        "",
        f"Lighthouse {next(iter(lighthouse.values()))['version']}, mobile preset (simulated slow 4G, 4× CPU "
        f"slowdown), Debian's Chromium; median of {web['lighthouse_runs']} runs per page. Page weights are",
        "the JS and WASM each page fetched until the network went idle, compressed with brotli 11.",
        "",
        "| page | performance | accessibility | LCP | TBT | CLS | first load (brotli) | lazy chunks (brotli) |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| `{path}` | {lh['performance']:g} | {lh['accessibility']:g} | {lh['lcp_ms']:,.0f} ms "
            f"| {lh['tbt_ms']:,.0f} ms | {lh['cls']:.3f} | {kb(web['pages'][path]['weight']['first_load_brotli'])} "
            f"| {kb(web['pages'][path]['weight']['lazy_brotli'])} |"
            for path, lh in lighthouse.items()
        ],
        "",
        "Audits below full marks (any run):",
        "",
        *[
            f"- `{path}`: performance {', '.join(sorted({a for run in lh['runs'] for a in run['failing_performance']})) or 'none'}; "
            f"accessibility {', '.join(sorted({a for run in lh['runs'] for a in run['failing_accessibility']})) or 'none'}"
            for path, lh in lighthouse.items()
        ],
        "",
        "Interactions (Event Timing API in Chromium, the timeline's with the CPU four times",
        "slower; INP is the longest interaction when there are fewer than 50, and browsers",
        "report none under 16 ms):",
        "",
        "| page | interaction | INP |",
        "|---|---|---|",
        *[f"| `{path}` | {result['what']} | {inp_text(result['inp_ms'])} |" for path, result in interactions.items()],
        "",
        f"The timeline in motion ({motion['speed_px_per_s']:,} px/s for 3 s, one step a frame): "
        f"{motion['fps']:.1f} fps unthrottled and {motion['scroll_fps_throttled']:.1f} fps at "
        f"{motion['throttle']}× CPU; at most {motion['dom_elements_max']:,} elements in the page.",
        "",
        f"![JS and WASM per page]({plot_prefix}{plot_links['pages']})",
        "",
        "Files per page (raw / brotli bytes):",
        "",
        *[
            f"- `{path}`: " + ", ".join(
                f"{file['name']} {file['raw']:,} / {file['brotli']:,}{' (lazy)' if file['lazy'] else ''}"
                for file in page["weight"]["files"]
            )
            for path, page in web["pages"].items()
        ],
        "",
        "The built site as `scripts/size` lists it:",
        "",
        "```",
        size,
        "```",
        "",
        f"## Server time at {photos:,} photos (in process)",
        "",
        f"Seeded in {timeline['seed_seconds']:.1f} s on SQLite, {timeline_pg['seed_seconds']:.1f} s on "
        "PostgreSQL (the local server, default settings, a schema of its own). Reference: "
        f"`GET /healthz`, p50 {timeline['reference_healthz_ms']['p50']:.3f} ms (SQLite run) and "
        f"{timeline_pg['reference_healthz_ms']['p50']:.3f} ms (PostgreSQL run), in the same runs.",
        "",
        "| what | SQLite p50 | SQLite p99 | PostgreSQL p50 | PostgreSQL p99 | SQLite p50 / reference |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {ms(s['p50'])} | {ms(s['p99'])} | {ms(pg['p50'])} | {ms(pg['p99'])} "
            f"| {s['p50'] / timeline['reference_healthz_ms']['p50']:,.0f}× |"
            for name, s, pg in [
                ("timeline page, cold (fresh pool)", timeline["timeline_page_cold_ms"],
                 timeline_pg["timeline_page_cold_ms"]),
                ("timeline page, warm", timeline["timeline_page_warm_ms"],
                 timeline_pg["timeline_page_warm_ms"]),
                ("bucket segment of 500 photos", timeline["bucket_segment_500_ms"],
                 timeline_pg["bucket_segment_500_ms"]),
                *[(name, s, timeline_pg["library_pages_ms"][name])
                  for name, s in timeline["library_pages_ms"].items()],
            ]
        ],
        "",
        f"![Server time per request]({plot_prefix}{plot_links['server']})",
        "",
        "## Thumbnails against vipsthumbnail (same photos, same run, one core each)",
        "",
        f"{thumbs['photos']} real photographs ({thumbs['megapixels']:.1f} MP in all, from `scripts/fixtures`), "
        f"256 × 256 centre crop, WebP quality 80, {thumbs['rounds']} rounds, each side's alternating; "
        "per second: the median round. Both decode with libjpeg-turbo's DCT scaling; the "
        "difference is everything around the decoder.",
        "",
        "| tool | thumbnails / s |",
        "|---|---|",
        f"| Flashbulb (`pipeline::thumbnail`) | {thumbs['flashbulb_per_second']:.1f} |",
        f"| `vipsthumbnail` (libvips, `VIPS_CONCURRENCY=1`) | {thumbs['vipsthumbnail_per_second']:.1f} |",
        f"| **ratio** (median of the rounds') | **{thumbs['ratio']:.2f}** |",
        "",
        *formats_section(formats),
        *storage_section(results),
        "",
        "## The hostile set: one job at a time, peak memory",
        "",
        f"Crafted by `server/tests/support/hostile.rs` ({hostile['size']} size), derived as the "
        f"job does with the default limits: {hostile['budget_mib']} MiB and "
        f"{hostile['time_limit_seconds']} s per photo. Allocated: the most memory Rust code "
        "allocated at once during the job, above what was allocated before it. malloc: the "
        "peak of what malloc had handed out above the start (glibc's `mallinfo2`, sampled every "
        "millisecond), which also sees what libjpeg allocates in C. The budget row takes the "
        "larger.",
        "",
        "| file | class | size on disk | allocated | malloc | time | outcome |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| `{f['name']}` | {f['class']} | {f['bytes'] / 2**20:.2f} MiB | "
            f"{f['peak_mib']:.1f} MiB | {f.get('malloc_mib', 0):.1f} MiB | "
            f"{f['seconds']:.2f} s | {f['result']} |"
            for f in hostile["files"]
        ],
        "",
        "## Live-updates hub (`flashbulb live-load`, same machine)",
        "",
        f"Open-files limit per process here: {fd_limit}; the sockets held are capped 100 below it.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| sockets held, each following the library | {held['connections_held']:,} of {held['connections_wanted']:,} "
        f"({held['connect_failures']} failed, opened in {held['connect_seconds']:.1f} s) |",
        f"| server RSS idle → holding them | {held['server_rss_idle_mib']:.0f} MiB → {held['server_rss_held_mib']:.0f} MiB "
        f"({(held['server_rss_held_mib'] - held['server_rss_idle_mib']) * 1024 / max(held['connections_held'], 1):.1f} KiB per socket) |",
        f"| changes made (favourites through the HTTP API) | {live['changes_made']:,} in {live['seconds']:.1f} s "
        f"({live['rate_achieved']:.0f}/s answered within the run, {live['rate_wanted']}/s wanted, {live['change_failures']} failed) |",
        f"| messages delivered | {live['messages_delivered']:,} ({live['megabytes_delivered']:.0f} MB), "
        f"{live['messages_per_client_per_second']:.1f} WebSocket messages per client per second |",
        f"| bytes on the wire per change per socket | "
        f"{'-' if live['bytes_per_delivered_change'] is None else format(live['bytes_per_delivered_change'], ',.0f')} |",
        f"| resyncs, disconnects | {live['resyncs']}, {live['disconnects']} |",
        f"| CPU from the first change to the last frame | server {cpu(live.get('server_cpu_seconds'))}"
        f"{per_delivery(live.get('server_cpu_us_per_delivered_change'))}, load tool {cpu(live.get('load_cpu_seconds'))} |",
        f"| change requested → frame received ({live['latency_samples']:,} samples) | p50 {ms(live['latency_ms_p50'])}, "
        f"p90 {ms(live['latency_ms_p90'])}, p99 {ms(live['latency_ms_p99'])}, max {ms(live['latency_ms_max'])} |",
        f"| fan-out: change stored and published → frame at the client's socket (kernel receive time) | "
        f"p50 {ms(live.get('fanout_arrived_ms_p50'))}, p99 {ms(live.get('fanout_arrived_ms_p99'))} |",
        f"| fan-out: change stored and published → frame read by the load tool | p50 {ms(live['fanout_ms_p50'])}, p99 {ms(live['fanout_ms_p99'])} |",
        f"| the changes' HTTP answers: request sent → response received | p50 {ms(live['answer_ms_p50'])}, "
        f"p99 {ms(live['answer_ms_p99'])}, max {ms(live['answer_ms_max'])} |",
        f"| server RSS during the run | {live['server_rss_held_mib']:.0f} MiB → {live['server_rss_after_load_mib']:.0f} MiB |",
        "",
        "Frames are built every 50 ms (`live_frame_ms`) and, while a sweep of the sockets runs, "
        "more often: under load a change waits about one sweep, and frames merge into each "
        "socket's one write of a sweep. Far behind, the hub gathers longer (up to ten "
        "intervals) instead of sockets falling behind. The load tool reads every socket on one thread, so a frame may "
        "wait in its socket while the thread reads thousands of others; the budget is timed to the "
        "frame's arrival (the kernel's receive time, `SO_TIMESTAMPING`), and the time to the tool's "
        "read is given beside it.",
        "",
        f"![Live-update latency]({plot_prefix}{plot_links['live']})",
        "",
        "## Memory of large operations",
        "",
        "Resident memory sampled every 20 ms from `/proc` (`bench/rss.py`). RSS also counts file",
        "pages the process maps, which are the kernel's page cache and dropped under pressure;",
        "\"allocated\" (anonymous memory, `RssAnon`, SQLite's page caches included) is what the",
        "process itself holds, and is what the budgets above are checked against.",
        "",
        "| operation | took | RSS before → peak (growth) | allocated before → peak (growth) |",
        "|---|---|---|---|",
        *[
            f"| {what} | {run['seconds']:.1f} s | {run['baseline_rss_mib']:.0f} → {run['peak_rss_mib']:.0f} MiB "
            f"({run['growth_rss_mib']:+.0f}) | {run['baseline_anon_mib']:.0f} → {run['peak_anon_mib']:.0f} MiB "
            f"({run['growth_anon_mib']:+.0f}) |"
            for what, run in [
                (f"`flashbulb seed --photos {photos}` (a new process)", seed),
                (f"`GET /api/export/photos.csv`, {exported_rows:,} rows", export),
                (f"`POST /api/upload` of one {upload_bytes / 2**30:.2f} GiB JPEG, streamed to disk", upload),
                (f"its derivatives (status afterwards: {upload_status['status']})", processing),
            ]
        ],
        "",
        f"![Memory during large operations]({plot_prefix}{plot_links['memory']})",
        "",
        "## Soak (the reliability drill `scripts/drills [--full] soak`)",
        "",
        f"One server ({'release' if 'release' in soak['binary'] else 'debug'} build, SQLite, "
        f"{soak['library_photos']:,} photos) under a steady mixed load for {soak['measured_s'] / 60:g} minutes "
        f"after {soak['warm_up_s']} s of warm-up: three readers at 25 requests/s each over the timeline, "
        "albums and photo pages, the timeline's month buckets and a photo's status; an upload every "
        f"2 s; a favourite set or cleared every second; {soak['live_sockets']} live sockets. The load "
        "generator shares the machine's two cores with the server.",
        "",
        "| requests | p50 | p99 |",
        "|---|---|---|",
        *[
            f"| {kind}: {figures['requests']:,} | {ms(figures['p50_ms'])} | {ms(figures['p99_ms'])} |"
            for kind, figures in soak["by_kind"].items()
        ],
        "",
        f"- 5xx or unanswered: {soak['server_errors']} of {soak['requests']:,} requests",
        f"- live frames delivered: {soak['live_frames']:,}; sockets reconnected: {soak['live_reconnections']}",
        f"- resident memory: {soak['rss_after_warm_up_kib'] / 1024:.1f} MiB in the 10 s after the warm-up, "
        f"{soak['rss_at_end_kib'] / 1024:.1f} MiB in the last 10 s ({soak['rss_growth_percent']:+.2f} %, "
        f"limit +5 %); peak {soak['rss_peak_kib'] / 1024:.1f} MiB",
        "",
        f"![Soak memory]({plot_prefix}{plot_links['soak']})",
        "",
    ]
    args.report.write_text("\n".join(lines))
    print("\n".join(lines[: 12 + len(budgets) + 4]))
    failed = [what for what, _, _, ok in budgets if not ok]
    print(f"{len(budgets) - len(failed)} of {len(budgets)} budgets within; report: {args.report}")


if __name__ == "__main__":
    main()
