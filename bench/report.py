#!/usr/bin/env python3
"""Turns criterion's estimates into bench/results.json and the results section of docs/benchmarks.md.

Reads every `<criterion>/**/new/benchmark.json` with its `estimates.json` (criterion is
`$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else `target/criterion`), takes each
benchmark's time and divides it by the `raw-hmac-sha256` benchmark of the same group and size:
that is the floor the goals are stated against (issue 3):

    verify    every scheme <= 1.25 x raw HMAC-SHA256 at 1 KiB, <= 1.10 x at 1 MiB
    receiver  the whole handler <= 2 x raw HMAC-SHA256 at 1 KiB

The dispatcher's groups (issue 4) have other floors:

    dispatch       the handler's deliveries/s >= 0.5 x a bare hyper client's, both at 16
                   connections to the same sink (a time ratio to `raw-hyper` <= 2)
    dispatch-20ms  a 10-record batch to a subscriber taking 20 ms <= 1.25 x 20 ms

A benchmark's time is the 10th percentile of its samples' time per call (criterion's
`sample.json`), with criterion's median beside it. On a shared 2-core machine other processes only
ever add time, and they do so unevenly over a run that measures benchmarks one after another; the
fastest decile is the closest to the uncontended cost, so ratios of it are steadier than ratios of
medians taken minutes apart.

bench/results.json is {"context": {...}, "figures": [{"name", "value", "unit"}, ...]}: per
benchmark its time (ns), its criterion median (ns), throughput (MiB/s, or deliveries/s for a
benchmark counting elements) and ratio to the floor (x; for `dispatch`, also the ratio of
deliveries/s to `raw-hyper`'s). A benchmark group or size added later
(issue 6) is picked up without changes here; only GOALS names what is judged.

Python 3 standard library only. Usage: python3 bench/report.py [--no-docs]
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
DOC = ROOT / "docs" / "benchmarks.md"
FLOOR = "raw-hmac-sha256"
START = "<!-- bench/report.py: start (generated, edits here are overwritten) -->"
END = "<!-- bench/report.py: end -->"

# (group, benchmark, size) -> the most the ratio to the floor may be. `*` is every benchmark of
# the group that is not a reference (`raw-*`).
GOALS = {
    ("verify", "*", "1KiB"): 1.25,
    ("verify", "*", "1MiB"): 1.10,
    ("receiver", "handler", "1KiB"): 2.0,
    # Deliveries/s >= 0.5 x bare hyper's is a time per batch <= 2 x bare hyper's.
    ("dispatch", "handler", "16-conn"): 2.0,
    ("dispatch-20ms", "handler", "10x20ms"): 1.25,
    # Issue 17: a 5-field payload filter against a parsed 1 KiB body, <= 2 us.
    ("pattern", "match-parsed-event", ""): 1.0,
    # Issue 19: the asymmetric schemes against their own primitive (BENCH_FLOORS), not HMAC.
    ("verify", "discord", "1KiB"): 1.10,
    ("verify", "discord", "1MiB"): 1.10,
    ("verify", "sendgrid", "1KiB"): 1.10,
    ("verify", "sendgrid", "1MiB"): 1.10,
}
# A group's floor when it is not FLOOR: another benchmark of the group and size, or a fixed time
# in ns (the slow subscriber's delay).
FLOORS: dict[str, str | float] = {
    "dispatch": "raw-hyper",
    "dispatch-20ms": 20e6,
    "pattern": 2000.0,
}
# A benchmark's floor when it is not its group's: Discord is Ed25519 and SendGrid ECDSA P-256, so
# each is judged against a bare verify of the same message with the same (already decoded) key.
BENCH_FLOORS: dict[tuple[str, str], str] = {
    ("verify", "discord"): "raw-ed25519",
    ("verify", "sendgrid"): "raw-p256",
}
# Groups whose benchmarks count deliveries (criterion's element throughput).
DELIVERY_GROUPS = ("dispatch", "dispatch-20ms")
# Benchmarks of a group that are parts or references, reported but not judged against a goal.
NOT_JUDGED = {
    ("receiver", "parse-event"),
    ("receiver", "encode-envelope"),
    ("receiver", "json-string"),
    ("receiver", "handler-lambda-http"),
}

# Figures measured outside criterion in the same `make bench` run, each tool writing
# {"figures": [{"name", "value", "unit"}], "context": {...}} under target/bench/:
#   python-handler  bench/baselines/bench_receiver.py: the Python receiver baseline
#   coldstart       bench/tools/benches/coldstart: init time, first invocation, peak RSS, artifact sizes
#   pipeline        bench/tools/benches/pipeline.rs: the whole local pipeline through moto
EXTERNAL = ("python-handler", "coldstart", "pipeline")
# The Rust handler must be at least this many times faster than the Python baseline (1 KiB).
PYTHON_GOAL = 8.0
# Each function's init (spawn -> first /next) and peak RSS, at most this many times bare hello's:
# issue 6's goals for the receiver and the dispatcher, which issue 19 extends to the API function.
COLDSTART_GOAL = 1.5
RSS_GOAL = 2.5
# Issue 18: the rate-limited subscriber's busiest 5 s may reach 22/s under a 20/s limit (1.1×).
RATE_SLACK = 1.1
FUNCTIONS = ("receiver", "dispatcher", "api")
JUDGED_FUNCTIONS = FUNCTIONS
# Issue 19, against what users would run instead (the coldstart bench's `python` and `node`
# receivers): Hookpost's receiver >= this many times faster to init and through its first
# invocation (medians) than the Python one, with at most this share of its peak RSS.
BASELINE_INIT_GOAL = 40.0
BASELINE_FIRST_INVOKE_GOAL = 5.0
BASELINE_RSS_GOAL = 0.25
# The contenders, in the order the tables list them, and what each is.
CONTENDERS = {
    "hello": "bare `lambda_runtime` echo (the floor)",
    "receiver": "Hookpost's receiver (Rust)",
    "python": "Python + boto3 under awslambdaric",
    "node": "Node.js + AWS SDK v3 under aws-lambda-ric",
}
IMAGES = ROOT / "docs" / "img"
# Issue 19: DynamoDB write units per event with one subscription, at most.
WRITE_UNITS_GOAL = 4.0
# List prices, us-east-1, arm64, on-demand, free tiers left out (docs/benchmarks.md cites the
# pricing pages): dollars per unit.
PRICE = {
    "apigw-request": 1.00e-6,  # HTTP API, first 300 M requests a month
    "lambda-request": 0.20e-6,
    "lambda-gb-s": 0.0000133334,  # arm64
    "sqs-request": 0.40e-6,  # standard queue, per 64 KiB chunk
    "wru": 0.625e-6,  # DynamoDB on-demand write request unit
    "rru": 0.125e-6,  # DynamoDB on-demand read request unit
    "logs-gb": 0.50,  # CloudWatch Logs ingestion
    "eventbridge-event": 1.00e-6,  # a custom event published (per 64 KB chunk)
    "api-destination": 0.20e-6,  # an API destination invocation
}
# What the local bench cannot measure, taken on paper (docs/benchmarks.md): each function's
# memory and billed time per invocation in-region, and the log lines an event writes.
RECEIVER_GB_S = 0.25 * 0.015  # 256 MB × ≈15 ms (three sequential AWS calls)
DISPATCHER_GB_S = 0.5 * 0.130  # 512 MB × ≈130 ms a batch (a 100 ms subscriber)
LOG_GB_PER_EVENT = 0.6e-6  # two JSON lines, ≈0.6 KB


def criterion_dir() -> Path:
    if os.environ.get("CRITERION_HOME"):
        return Path(os.environ["CRITERION_HOME"])
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    return ROOT / "target" / "criterion"


def size_bytes(label: str) -> int:
    match = re.fullmatch(r"(\d+)(B|KiB|MiB)", label)
    if not match:
        return 0
    return int(match.group(1)) * {"B": 1, "KiB": 1024, "MiB": 1024 * 1024}[match.group(2)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load(base: Path) -> list[dict]:
    """One record per benchmark: group, name, size, fastest-decile and median ns per call."""
    records = []
    for meta_path in sorted(base.glob("**/new/benchmark.json")):
        meta = json.loads(meta_path.read_text())
        estimates = json.loads((meta_path.parent / "estimates.json").read_text())
        sample = json.loads((meta_path.parent / "sample.json").read_text())
        per_call = [t / n for t, n in zip(sample["times"], sample["iters"]) if n]
        records.append(
            {
                "group": meta["group_id"],
                "name": meta.get("function_id") or meta["group_id"],
                "size": meta.get("value_str") or "",
                "ns": percentile(per_call, 0.10),
                "median_ns": estimates["median"]["point_estimate"],
                "bytes": (meta.get("throughput") or {}).get("Bytes"),
                "elements": (meta.get("throughput") or {}).get("Elements"),
            }
        )
    return records


def goal_for(group: str, name: str, size: str) -> float | None:
    if name.startswith("raw-") or (group, name) in NOT_JUDGED:
        return None
    return GOALS.get((group, name, size), GOALS.get((group, "*", size)))


def cpuinfo() -> tuple[str, set[str]]:
    """The CPU model and the first processor's flags, from /proc/cpuinfo where there is one."""
    model, flags = "", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown", flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model or platform.processor() or "unknown", flags


def sha_backends(flags: set[str]) -> dict[str, str]:
    """What sha2 0.10 / sha1 0.10 pick at run time on x86_64 (their cpufeatures checks)."""
    if platform.machine() not in ("x86_64", "AMD64", "i686"):
        return {"sha256": f"not x86 ({platform.machine()}): see sha2's aarch64 backend notes"}
    shani = {"sha_ni", "sse2", "ssse3", "sse4_1"} <= flags
    return {
        "sha256": "SHA-NI (x86 SHA extensions)" if shani else "software (no sha_ni flag)",
        "sha1": "SHA-NI (x86 SHA extensions)" if shani else "software (no sha_ni flag)",
        "sha512": "AVX2" if "avx2" in flags else "software (no avx2 flag)",
    }


def command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def context() -> dict:
    model, flags = cpuinfo()
    commit = command("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = command("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "rustc": command("rustc", "--version"),
        "commit": commit + (" (with uncommitted changes)" if dirty not in ("", "unknown") else ""),
        "sha_backends": sha_backends(flags),
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3])
        if Path("/proc/loadavg").exists()
        else "unknown",
    }


def floor_of(group: str, name: str) -> str | float:
    return BENCH_FLOORS.get((group, name), FLOORS.get(group, FLOOR))


def floor_name(group: str, name: str = "") -> str:
    floor = floor_of(group, name)
    return floor if isinstance(floor, str) else f"{floor / 1e6:g}ms"


def analyse(records: list[dict]) -> list[dict]:
    named = {(r["group"], r["name"], r["size"]): r["ns"] for r in records}
    for r in records:
        floor = floor_of(r["group"], r["name"])
        if isinstance(floor, str):
            floor_ns = named.get((r["group"], floor, r["size"])) if r["name"] != floor else None
        else:
            floor_ns = floor
        r["floor"] = floor_name(r["group"], r["name"])
        r["ratio"] = r["ns"] / floor_ns if floor_ns else None
        r["goal"] = goal_for(r["group"], r["name"], r["size"])
        r["met"] = None if r["goal"] is None or r["ratio"] is None else r["ratio"] <= r["goal"]
        r["mib_s"] = r["bytes"] / (r["ns"] / 1e9) / (1024 * 1024) if r["bytes"] else None
        r["per_s"] = r["elements"] / (r["ns"] / 1e9) if r["elements"] else None
    return records


def figures(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        base = f"{r['group']}/{r['name']}/{r['size']}"
        out.append({"name": f"{base}/time", "value": round(r["ns"], 1), "unit": "ns"})
        out.append({"name": f"{base}/median", "value": round(r["median_ns"], 1), "unit": "ns"})
        if r["mib_s"] is not None:
            out.append({"name": f"{base}/throughput", "value": round(r["mib_s"], 1), "unit": "MiB/s"})
        if r["per_s"] is not None:
            out.append({"name": f"{base}/deliveries", "value": round(r["per_s"]), "unit": "1/s"})
        if r["ratio"] is not None:
            out.append({"name": f"{base}/vs-{r['floor']}", "value": round(r["ratio"], 3), "unit": "x"})
            if r["per_s"] is not None:
                out.append(
                    {
                        "name": f"{base}/deliveries-vs-{r['floor']}",
                        "value": round(1 / r["ratio"], 3),
                        "unit": "x",
                    }
                )
    return out


def human_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def cell(r: dict | None) -> str:
    if r is None:
        return "–"
    text = human_time(r["ns"])
    if r["ratio"] is not None:
        # The floor is named where it is not the group's own.
        own = (r["group"], r["name"]) in BENCH_FLOORS
        text += f" ({r['ratio']:.2f}× {r['floor']})" if own else f" ({r['ratio']:.2f}×)"
    if r["met"] is False:
        text = f"**{text}** ✗"
    elif r["met"]:
        text += " ✓"
    return text


def table(records: list[dict], group: str) -> list[str]:
    rows = [r for r in records if r["group"] == group]
    sizes = sorted({r["size"] for r in rows}, key=size_bytes)
    names = []
    for r in rows:  # references first, then the order criterion's directories sort in
        if r["name"] not in names:
            names.append(r["name"])
    names.sort(key=lambda n: (not n.startswith("raw-"), n != FLOOR))
    by_key = {(r["name"], r["size"]): r for r in rows}
    lines = [
        "| benchmark | " + " | ".join(sizes) + " | goal |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | --- |",
    ]
    for name in names:
        judged = [by_key[(name, s)] for s in sizes if (name, s) in by_key and by_key[(name, s)]["met"] is not None]
        verdict = "–" if not judged else ("met" if all(r["met"] for r in judged) else "missed")
        lines.append(
            f"| {name} | " + " | ".join(cell(by_key.get((name, s))) for s in sizes) + f" | {verdict} |"
        )
    return lines


def delivery_cell(r: dict) -> str:
    """Deliveries/s and their ratio to the floor's for a throughput benchmark, else the time and
    its ratio to the floor (a batch's wall time)."""
    if r["per_s"] is not None and r["group"] == "dispatch":
        text = f"{r['per_s']:,.0f}/s"
        if r["ratio"] is not None:
            text += f" ({1 / r['ratio']:.2f}× {r['floor']})"
    else:
        text = human_time(r["ns"])
        if r["ratio"] is not None:
            text += f" ({r['ratio']:.2f}× {r['floor']})"
    if r["met"] is False:
        return f"**{text}** ✗"
    return text + (" ✓" if r["met"] else "")


def delivery_table(records: list[dict], group: str) -> list[str]:
    rows = sorted(
        (r for r in records if r["group"] == group),
        key=lambda r: (r["size"], not r["name"].startswith("raw-"), r["name"]),
    )
    lines = [
        "| benchmark | batch | per batch | result | goal |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in rows:
        verdict = "–" if r["met"] is None else ("met" if r["met"] else "missed")
        lines.append(
            f"| {r['name']} | {r['size']} | {human_time(r['ns'])} | {delivery_cell(r)} | {verdict} |"
        )
    return lines



def bench_dir() -> Path:
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "bench"
    return ROOT / "target" / "bench"


def load_external() -> dict[str, dict]:
    """Each external tool's output of this run, by name; a missing file is simply absent."""
    out = {}
    for name in EXTERNAL:
        path = bench_dir() / f"{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return out


def external_values(external: dict[str, dict]) -> dict[str, dict]:
    return {f["name"]: f for data in external.values() for f in data.get("figures", [])}


def goals(records: list[dict], external: dict[str, dict]) -> list[dict]:
    """Every goal of issue 6 with its measured ratio: one row each for the summary table."""
    rows = []
    for r in records:
        if r["met"] is not None:
            rows.append(
                {
                    "goal": f"{r['group']}/{r['name']}/{r['size']}: ≤ {r['goal']:g}× {r['floor']}",
                    "measured": f"{r['ratio']:.2f}×",
                    "met": r["met"],
                }
            )
    values = external_values(external)
    handler = {(r["size"]): r["ns"] for r in records if r["group"] == "receiver" and r["name"] == "handler"}
    for size, ns in sorted(handler.items(), key=lambda kv: size_bytes(kv[0])):
        python = values.get(f"receiver/python-baseline/{size}/time")
        if python and ns:
            ratio = python["value"] / ns
            judged = size == "1KiB"
            rows.append(
                {
                    "goal": f"receiver/handler/{size}: ≥ {PYTHON_GOAL:g}× faster than the Python baseline"
                    if judged
                    else f"receiver/handler/{size}: times faster than the Python baseline (reported)",
                    "measured": f"{ratio:.2f}×",
                    "met": ratio >= PYTHON_GOAL if judged else None,
                    "name": f"receiver/handler/{size}/faster-than-python",
                    "value": round(ratio, 3),
                }
            )
    for function in JUDGED_FUNCTIONS:
        for kind, goal, what in (
            ("coldstart", COLDSTART_GOAL, "init (spawn → first /next), median"),
            ("rss", RSS_GOAL, "peak RSS"),
        ):
            figure = values.get(f"{kind}/{function}/vs-hello")
            if figure:
                rows.append(
                    {
                        "goal": f"{function} {what}: ≤ {goal:g}× bare lambda_runtime hello",
                        "measured": f"{figure['value']:.2f}×",
                        "met": figure["value"] <= goal,
                    }
                )
    rows += rate_goals(values)
    rows += baseline_goals(values)
    rows += cost_goals(values)
    return rows


def cost_goals(values: dict[str, dict]) -> list[dict]:
    """Issue 19's cost goal, from the pipeline bench's `cost/*` counts (none when absent)."""
    figure = values.get("pipeline/cost/1-sub/write-units-per-event")
    if not figure:
        return []
    return [
        {
            "goal": f"cost: DynamoDB write units per one-subscription event ≤ {WRITE_UNITS_GOAL:g}",
            "measured": f"{figure['value']:.2f} WRU",
            "met": figure["value"] <= WRITE_UNITS_GOAL,
        }
    ]


def cost_section(values: dict[str, dict]) -> list[str]:
    """The per-event cost table: the pipeline bench's counts beside the list prices."""

    def count(subs: int, name: str) -> float | None:
        figure = values.get(f"pipeline/cost/{subs}-sub/{name}")
        return figure["value"] if figure else None

    if count(1, "write-units-per-event") is None:
        return []
    columns = [subs for subs in (1, 5) if count(subs, "write-units-per-event") is not None]
    rows = []  # (item, price, {subs: (per event text, dollars per million)})

    def per_m(item: str) -> str:
        """A price per unit as dollars per million units, as the pricing pages state it."""
        dollars = PRICE[item] * 1e6
        return f"${dollars:.2f}" if abs(round(dollars, 2) - dollars) < 1e-9 else f"${dollars:.3f}"

    def row(item: str, price: str, per_event) -> None:
        cells = {}
        for subs in columns:
            text, dollars = per_event(subs)
            cells[subs] = (text, dollars * 1e6)
        rows.append((item, price, cells))

    row("API Gateway HTTP API", f"{per_m('apigw-request')} per M requests", lambda s: ("1 request", PRICE["apigw-request"]))
    row(
        "receiver Lambda",
        f"{per_m('lambda-request')} per M + ${PRICE['lambda-gb-s']:.10f} per GB-s; 256 MB × ≈15 ms (paper)",
        lambda s: ("1 invocation", PRICE["lambda-request"] + RECEIVER_GB_S * PRICE["lambda-gb-s"]),
    )
    row(
        "dispatcher Lambda",
        "the same; 512 MB × ≈130 ms a batch (paper)",
        lambda s: (
            f"{count(s, 'dispatcher-invocations-per-event'):.2f} invocations",
            count(s, "dispatcher-invocations-per-event") * (PRICE["lambda-request"] + DISPATCHER_GB_S * PRICE["lambda-gb-s"]),
        ),
    )
    row(
        "SQS",
        f"{per_m('sqs-request')} per M requests",
        lambda s: (
            f"{count(s, 'sqs-requests-per-event'):.2f} requests",
            count(s, "sqs-requests-per-event") * PRICE["sqs-request"],
        ),
    )
    row(
        "DynamoDB writes",
        f"{per_m('wru')} per M write units",
        lambda s: (
            f"**{count(s, 'write-units-per-event'):.2f} WRU** ({count(s, 'dynamodb-writes-per-event'):.2f} requests)",
            count(s, "write-units-per-event") * PRICE["wru"],
        ),
    )
    row(
        "DynamoDB reads",
        f"{per_m('rru')} per M read units",
        lambda s: (
            f"{count(s, 'read-units-per-event'):.2f} RRU ({count(s, 'dynamodb-reads-per-event'):.2f} requests)",
            count(s, "read-units-per-event") * PRICE["rru"],
        ),
    )
    row(
        "CloudWatch Logs",
        f"${PRICE['logs-gb']:.2f} per GB ingested",
        lambda s: ("≈0.6 KB (paper)", LOG_GB_PER_EVENT * PRICE["logs-gb"]),
    )
    totals = {subs: sum(cells[subs][1] for _, _, cells in rows) for subs in columns}
    header = "| item | price | " + " | ".join(f"{s} subscription{'s' if s > 1 else ''}: per event | $ per M events" for s in columns) + " |"
    lines = [
        "### What an event costs (`pipeline/cost`, issue 19)",
        "",
        f"{count(1, 'events'):g} events through the pipeline to a source with one subscription, then to",
        "one with five; the AWS requests each made, and DynamoDB's write and read units priced from",
        "the bodies of its calls (bench/tools/benches/pipeline/cost.rs). Lambda's billed time and the",
        "log volume cannot be measured here and are taken on paper. List prices, us-east-1, arm64,",
        "on-demand, free tiers left out.",
        "",
        header,
        "| --- | --- | " + " | ".join("---: | ---:" for _ in columns) + " |",
    ]
    for item, price, cells in rows:
        lines.append(f"| {item} | {price} | " + " | ".join(f"{cells[s][0]} | ${cells[s][1]:.2f}" for s in columns) + " |")
    lines.append("| **Hookpost, total** | | " + " | ".join(f" | **${totals[s]:.2f}**" for s in columns) + " |")
    ingress = (PRICE["apigw-request"] + PRICE["lambda-request"] + RECEIVER_GB_S * PRICE["lambda-gb-s"]) * 1e6
    lines.append(
        f"| Amazon EventBridge API destinations, for comparison (paper) | {per_m('eventbridge-event')} per M events + {per_m('api-destination')} per M invocations | "
        + " | ".join(
            f"1 event + {s} invocation{'s' if s > 1 else ''} | ${(PRICE['eventbridge-event'] + s * PRICE['api-destination']) * 1e6:.2f}"
            f" (${(PRICE['eventbridge-event'] + s * PRICE['api-destination']) * 1e6 + ingress:.2f} with the same ingress)"
            for s in columns
        )
        + " |"
    )
    per_table = []
    for subs in columns:
        parts = [
            f"{name.rsplit('/', 1)[1]} {f['value']:.2f}"
            for name, f in sorted(values.items())
            if name.startswith(f"pipeline/cost/{subs}-sub/write-units/")
        ]
        per_table.append(f"{subs} subscription{'s' if subs > 1 else ''}: " + ", ".join(parts))
    lines += ["", "Write units per event by table — " + "; ".join(per_table) + ".", ""]
    return lines


def rate_goals(values: dict[str, dict]) -> list[dict]:
    """Issue 18's rate-limit goals, from the pipeline bench's `rate/*` figures (none when absent)."""
    v = {name.removeprefix("pipeline/rate/"): f["value"] for name, f in values.items() if name.startswith("pipeline/rate/")}
    if not v:
        return []
    events, limit = v.get("events", 0), v.get("limit", 0)
    rows = [
        (
            f"rate: the {limit:g}/s subscription's busiest 5 s ≤ {limit * RATE_SLACK:g}/s",
            f"{v['busiest-5s-rate']:.1f}/s",
            v["busiest-5s-rate"] <= limit * RATE_SLACK,
        ),
        (
            f"rate: all {events:g} events reach the limited subscription",
            f"{v['limited-delivered']:g}",
            v["limited-delivered"] >= events,
        ),
        ("rate: none dead-lettered", f"{v['dead-lettered']:g}", v["dead-lettered"] == 0),
        (
            f"rate: the unlimited subscription gets all {events:g}",
            f"{v['unlimited-delivered']:g}",
            v["unlimited-delivered"] >= events,
        ),
        (
            "rate: the unlimited subscription's p99 latency within its usual p99 (the same two subscriptions, neither limited; a new moto per burst, mean of the runs before and after)",
            f"{v['unlimited-latency-p99']:.0f} ms vs {v['usual-latency-p99']:.0f} ms"
            + (
                f" (one subscription alone: {v['alone-latency-p99']:.0f} ms)"
                if "alone-latency-p99" in v
                else ""
            ),
            v["unlimited-latency-p99"] <= v["usual-latency-p99"],
        ),
    ]
    return [{"goal": goal, "measured": measured, "met": met} for goal, measured, met in rows]


def baseline_comparisons(values: dict[str, dict], baseline: str) -> list[dict]:
    """Hookpost's receiver against one of the coldstart bench's baselines: how many times faster
    (init, first and warm invocation by wall time and by CPU time) and what share of its peak
    RSS, each with its goal where issue 19 sets one (against Python only). Empty when either side
    was not measured."""

    def value(name: str) -> float | None:
        figure = values.get(name)
        return figure["value"] if figure else None

    out = []
    for key, figure, what, goal in (
        ("init", "coldstart/{}/median", "init (spawn → first /next), median", BASELINE_INIT_GOAL),
        ("first-invoke", "first-invoke/{}/median", "first invocation, median wall time", BASELINE_FIRST_INVOKE_GOAL),
        ("first-invoke-cpu", "first-invoke-cpu/{}/median", "first invocation, median CPU time", None),
        (
            "first-invoke-less-moto",
            "first-invoke-less-moto/{}/median",
            "first invocation, median wall time less moto's",
            None,
        ),
        ("warm-invoke", "warm-invoke/{}/median", "warm invocation, median wall time", None),
        ("warm-invoke-cpu", "warm-invoke-cpu/{}/median", "warm invocation, median CPU time", None),
        ("rss", "rss/{}/peak", "peak RSS", BASELINE_RSS_GOAL),
    ):
        ours, theirs = value(figure.format("receiver")), value(figure.format(baseline))
        if not ours or not theirs:
            continue
        if key == "rss":
            # A share of theirs: lower is better.
            ratio = ours / theirs
            judged = goal is not None and baseline == "python"
            out.append(
                {
                    "key": key,
                    "goal": f"receiver {what}: ≤ 1/{1 / goal:g} of {baseline}'s"
                    if judged
                    else f"receiver {what}: share of {baseline}'s (reported)",
                    "measured": f"{ratio:.3f}× ({human_bytes(ours * 1024)} vs {human_bytes(theirs * 1024)})",
                    "ratio": ratio,
                    "met": ratio <= goal if judged else None,
                    "name": f"receiver/rss-share-of-{baseline}",
                    "value": round(ratio, 3),
                }
            )
            continue
        ratio = theirs / ours
        judged = goal is not None and baseline == "python"
        out.append(
            {
                "key": key,
                "goal": f"receiver {what}: ≥ {goal:g}× faster than {baseline}"
                if judged
                else f"receiver {what}: times faster than {baseline} (reported)",
                "measured": f"{ratio:.1f}× ({ours:,.3g} ms vs {theirs:,.3g} ms)",
                "ratio": ratio,
                "met": ratio >= goal if judged else None,
                "name": f"receiver/{key}-faster-than-{baseline}",
                "value": round(ratio, 3),
            }
        )
    return out


def baseline_goals(values: dict[str, dict]) -> list[dict]:
    """Issue 19's goals against Python, and the first invocation's CPU time beside them (what the
    wall time is bounded by); every comparison is in baseline_section and bench/results.json."""
    return [
        {k: row[k] for k in ("goal", "measured", "met")}
        for row in baseline_comparisons(values, "python")
        if row["met"] is not None or row["key"] in ("first-invoke-cpu", "first-invoke-less-moto")
    ]


def baseline_figures(values: dict[str, dict]) -> list[dict]:
    """Every comparison with a baseline, as figures for bench/results.json."""
    return [
        {"name": row["name"], "value": row["value"], "unit": "x"}
        for baseline in ("python", "node")
        for row in baseline_comparisons(values, baseline)
    ]


def human_bytes(n: float) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def human_value(figure: dict) -> str:
    value, unit = figure["value"], figure.get("unit", "")
    if unit == "bytes":
        return human_bytes(value)
    if unit == "KiB":
        return human_bytes(value * 1024)
    if unit == "ns":
        return human_time(value)
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:,.3g} {unit}" if isinstance(value, float) and value < 100 else f"{value:,.0f} {unit}"


def bar_chart(path: Path, title: str, bars: list[tuple[str, float, str]], unit: str) -> str:
    """A horizontal bar chart as SVG (no plotting library needed); returns the Markdown image."""
    width, label_w, bar_h, gap, top = 720, 230, 22, 10, 44
    biggest = max((v for _, v, _ in bars), default=1) or 1
    height = top + len(bars) * (bar_h + gap) + 16
    span = width - label_w - 140
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="12" y="24" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value, colour) in enumerate(bars):
        y = top + i * (bar_h + gap)
        w = max(1.0, span * value / biggest)
        parts += [
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>',
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{value:,.3g} {escape(unit)}</text>',
        ]
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
    return f"![{title}]({path.relative_to(DOC.parent).as_posix()})"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


RUST, REFERENCE, OTHER = "#d9480f", "#868e96", "#1c7ed6"


def charts(records: list[dict], external: dict[str, dict]) -> list[str]:
    lines = []
    values = external_values(external)
    named = {(r["group"], r["name"], r["size"]): r["ns"] for r in records}
    handler_bars = [
        (label, named[key] / 1000, colour)
        for label, key, colour in (
            ("raw HMAC-SHA256", ("receiver", "raw-hmac-sha256", "1KiB"), REFERENCE),
            ("handler (HttpApiEvent)", ("receiver", "handler", "1KiB"), RUST),
            ("handler via lambda_http", ("receiver", "handler-lambda-http", "1KiB"), OTHER),
        )
        if key in named
    ]
    python = values.get("receiver/python-baseline/1KiB/time")
    if python:
        handler_bars.append(("Python baseline (stdlib)", python["value"] / 1000, OTHER))
    if len(handler_bars) > 1:
        lines += [
            bar_chart(
                IMAGES / "bench-receiver-1kib.svg",
                "Receiver: API Gateway event in → SendMessage body out, 1 KiB body",
                handler_bars,
                "µs",
            ),
            "",
        ]
    cold = [
        (name, values[f"coldstart/{name}/median"]["value"], RUST if name != "hello" else REFERENCE)
        for name in ("hello", *FUNCTIONS)
        if f"coldstart/{name}/median" in values
    ]
    if len(cold) > 1:
        lines += [
            bar_chart(
                IMAGES / "bench-coldstart.svg",
                "Init: spawn → first GET /runtime/invocation/next (median)",
                cold,
                "ms",
            ),
            "",
        ]
    contenders = [
        (label, values[f"{what}/{name}/median"]["value"], colour)
        for what, suffix in (("coldstart", "init"), ("first-invoke", "1st invoke"))
        for name, label, colour in (
            ("receiver", f"Hookpost, {suffix}", RUST),
            ("node", f"Node.js, {suffix}", OTHER),
            ("python", f"Python, {suffix}", OTHER),
        )
        if f"{what}/{name}/median" in values
    ]
    if any(label.startswith(("Python", "Node")) for label, _, _ in contenders):
        lines += [
            bar_chart(
                IMAGES / "bench-coldstart-baselines.svg",
                "Cold start against what users would run instead (median)",
                contenders,
                "ms",
            ),
            "",
        ]
    return lines


def external_sections(records: list[dict], external: dict[str, dict]) -> list[str]:
    lines: list[str] = []
    values = external_values(external)
    python = external.get("python-handler")
    if python:
        handler = {r["size"]: r for r in records if r["group"] == "receiver" and r["name"] == "handler"}
        ctx = python.get("context", {})
        lines += [
            "### The receiver against a Python receiver (`bench/baselines/`)",
            "",
            f"Python {ctx.get('python', '?')} ({ctx.get('implementation', 'CPython')}), stdlib `json`, "
            "`hmac`, `base64`; the same events, the same timing method.",
            "",
            "| size | Rust handler | Python baseline | Rust is faster by | goal |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for size in sorted(handler, key=size_bytes):
            py = values.get(f"receiver/python-baseline/{size}/time")
            if not py:
                continue
            ratio = py["value"] / handler[size]["ns"]
            goal = f"≥ {PYTHON_GOAL:g}× " + ("met" if ratio >= PYTHON_GOAL else "missed") if size == "1KiB" else "–"
            lines.append(
                f"| {size} | {human_time(handler[size]['ns'])} | {human_time(py['value'])} | {ratio:.2f}× | {goal} |"
            )
        lines.append("")
    cold = external.get("coldstart")
    if cold:
        names = []
        for f in cold.get("figures", []):
            parts = f["name"].split("/")
            if len(parts) == 3 and parts[1] not in names:
                names.append(parts[1])
        lines += [
            "### Cold start, memory and artifacts (`bench/tools/benches/coldstart`)",
            "",
            f"{cold.get('context', {}).get('runs', '?')} starts per function. Init = spawn → its first",
            "`GET /runtime/invocation/next` on a mock Runtime API on 127.0.0.1, with production",
            "configuration against moto over HTTPS; first invocation = the event handed out → its",
            "response posted; warm = a second event in the same process; medians, with p10–p90 over",
            "the starts; peak RSS = VmHWM after the warm invocation; zip = the bootstrap deflated as",
            "`sam build` packages it.",
            "",
            "| function | init | vs hello | first invoke | warm invoke | peak RSS | vs hello | zip | unzipped |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]

        def v(name: str) -> str:
            figure = values.get(name)
            return human_value(figure) if figure else "–"

        def spread(what: str, name: str) -> str:
            if f"{what}/{name}/median" not in values:
                return "–"
            if f"{what}/{name}/p10" not in values:
                return v(f"{what}/{name}/median")
            return f"{v(f'{what}/{name}/median')} ({values[f'{what}/{name}/p10']['value']:,.3g}–{values[f'{what}/{name}/p90']['value']:,.3g})"

        for name in names:
            lines.append(
                f"| {name} | {spread('coldstart', name)} | {v(f'coldstart/{name}/vs-hello')} | "
                f"{spread('first-invoke', name)} | {spread('warm-invoke', name)} | "
                f"{v(f'rss/{name}/peak')} | {v(f'rss/{name}/vs-hello')} | "
                f"{v(f'artifact/{name}/zip')} | {v(f'artifact/{name}/unzipped')} |"
            )
        lines.append("")
        lines += baseline_section(cold, values, spread, v)
    pipeline = external.get("pipeline")
    if pipeline:
        ctx = pipeline.get("context", {})
        lines += [
            "### The whole local pipeline (`bench/tools/benches/pipeline.rs`)",
            "",
            f"{ctx.get('events', '?')} signed events posted {ctx.get('concurrency', '?')} at a time "
            f"through `hookpost local up` (moto {ctx.get('moto', '?')}), then "
            f"{ctx.get('idle_events', '?')} one at a time (`idle`).",
            "",
            "| figure | value |",
            "| --- | ---: |",
        ]
        for f in pipeline.get("figures", []):
            if "/moto/" in f["name"] or "/cost/" in f["name"]:
                continue  # per-operation detail: bench/results.json; costs: their own table
            lines.append(f"| {f['name'].removeprefix('pipeline/')} | {human_value(f)} |")
        lines += ["", "Per-operation emulator calls and latencies are in bench/results.json.", ""]
        lines += cost_section(external_values(external))
    return lines

def baseline_section(cold: dict, values: dict[str, dict], spread, v) -> list[str]:
    """Issue 19's table: Hookpost's receiver beside what users would run instead."""
    present = [name for name in CONTENDERS if f"coldstart/{name}/median" in values]
    if not any(name in present for name in ("python", "node")):
        return []
    versions = cold.get("context", {}).get("baselines") or {}
    py, node = versions.get("python", {}), versions.get("node", {})
    lines = [
        "### What users would run instead (`bench/baselines/`, issue 19)",
        "",
        "The same GitHub receiver (source from DynamoDB, X-Hub-Signature-256, claim, SendMessage,",
        f"confirm) in Python {py.get('python', '?')} on boto3 {py.get('boto3', '?')} under awslambdaric",
        f"{py.get('awslambdaric', '?')}, and in Node.js {node.get('node', '?')} on the AWS SDK v3",
        f"{node.get('client-sqs', '?')} under aws-lambda-ric {node.get('aws-lambda-ric', '?')}, started",
        "beside Hookpost's in the same runs, against the same mock Runtime API and the same moto",
        "behind the same keep-alive HTTPS front. CPU = the process's CPU time from the event handed",
        "out to its response; moto = the time moto took over the invocation's calls, as the front",
        "timed them (what no function can go under). Calls and handshakes: per start (both",
        "invocations), as the front saw them, median of the starts.",
        "",
        "| function | init | first invoke | CPU | moto | warm invoke | CPU | moto | peak RSS | AWS calls | TLS handshakes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def count(name: str) -> str:
        figure = values.get(name)
        return f"{figure['value']:g}" if figure else "–"

    for name in present:
        lines.append(
            f"| {CONTENDERS[name]} | {spread('coldstart', name)} | {spread('first-invoke', name)} | "
            f"{v(f'first-invoke-cpu/{name}/median')} | {v(f'first-invoke-moto/{name}/median')} | "
            f"{spread('warm-invoke', name)} | {v(f'warm-invoke-cpu/{name}/median')} | "
            f"{v(f'warm-invoke-moto/{name}/median')} | {v(f'rss/{name}/peak')} | "
            f"{count(f'aws-calls/{name}/median')} | {count(f'tls-handshakes/{name}/median')} |"
        )
    lines += ["", "| Hookpost's receiver against | figure | measured | goal |", "| --- | --- | ---: | --- |"]
    for baseline in ("python", "node"):
        for row in baseline_comparisons(values, baseline):
            what = row["goal"].split(": ", 1)[0].removeprefix("receiver ")
            if row["met"] is None:
                goal = "–"
            elif row["key"] == "rss":
                goal = f"≤ {BASELINE_RSS_GOAL:g}× " + ("✓" if row["met"] else "✗")
            else:
                target = BASELINE_INIT_GOAL if row["key"] == "init" else BASELINE_FIRST_INVOKE_GOAL
                goal = f"≥ {target:g}× " + ("✓" if row["met"] else "✗")
            lines.append(f"| {baseline} | {what} | {row['measured']} | {goal} |")
    lines.append("")
    return lines


def section(records: list[dict], ctx: dict, external: dict[str, dict]) -> str:
    b = ctx["sha_backends"]
    lines = [
        START,
        "## Latest run",
        "",
        f"- machine: {ctx['nproc']} CPUs, {ctx['cpu']} (load average at report time {ctx['loadavg']})",
        f"- date: {ctx['date']}; commit {ctx['commit']}",
        f"- compiler: {ctx['rustc']}, the `bench` profile (the release profile: fat LTO, one codegen unit, as deployed)",
        "- SHA backends chosen at run time (sha2 / sha1 0.10 CPU detection): "
        + ", ".join(f"{k.upper()}: {v}" for k, v in b.items()),
        "- each cell: the time of one call (the fastest decile of criterion's samples, see",
        "  bench/report.py), and in parentheses its ratio to `raw-hmac-sha256` over the same body",
        "  (Discord's to `raw-ed25519`, SendGrid's to `raw-p256`: a bare verify of the same message);",
        "  ✓ / ✗ where a goal applies (verify ≤ 1.25× at 1 KiB and ≤ 1.10× at 1 MiB, the asymmetric",
        "  schemes ≤ 1.10× at both; the receiver handler ≤ 2× at 1 KiB). Criterion's medians are in",
        "  bench/results.json.",
        "",
        "### Goals",
        "",
        "| goal | measured | |",
        "| --- | ---: | --- |",
        *(
            f"| {g['goal']} | {g['measured']} | "
            + ("–" if g["met"] is None else ("met" if g["met"] else "**missed**"))
            + " |"
            for g in goals(records, external)
        ),
        "",
        *charts(records, external),
        "### Signature verification (`verify`)",
        "",
        *table(records, "verify"),
        "",
        "### The receiver handler (`receiver`)",
        "",
        *table(records, "receiver"),
        "",
    ]
    if any(r["group"] in DELIVERY_GROUPS for r in records):
        lines += [
            "### The dispatcher (`dispatch`)",
            "",
            "`dispatch`: one batch of 256 records × 1 subscription, 16 deliveries at once, to a",
            "keep-alive sink answering 204 at once; result = deliveries/s and their ratio to a bare",
            "hyper client's (goal ≥ 0.5×). `dispatch-20ms`: the wall time of a 10-record batch to a",
            "subscriber that takes 20 ms, and its ratio to 20 ms (goal ≤ 1.25×).",
            "",
        ]
        for group in DELIVERY_GROUPS:
            if any(r["group"] == group for r in records):
                lines += [*delivery_table(records, group), ""]
    lines += external_sections(records, external)
    others = sorted({r["group"] for r in records} - {"verify", "receiver", *DELIVERY_GROUPS})
    for group in others:
        lines += [f"### `{group}`", "", *table(records, group), ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_doc(text: str) -> None:
    if DOC.exists():
        current = DOC.read_text()
        if START in current and END in current:
            before = current.split(START)[0]
            after = current.split(END, 1)[1].lstrip("\n")
            DOC.write_text(before + text + ("\n" + after if after else ""))
            return
        DOC.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(
        "# Benchmarks\n\n"
        "`make bench` runs the criterion benchmarks `verify` (shared/benches/verify.rs),\n"
        "`handler` (functions/receiver/benches/handler.rs) and `dispatch`\n"
        "(functions/dispatcher/benches/dispatch.rs), then `bench/report.py`, which writes\n"
        "bench/results.json and the section below. Times depend on the machine and on what else\n"
        "runs on it; compare ratios, which share the machine's conditions, more than absolute times.\n\n"
        + text
    )


def main() -> int:
    base = criterion_dir()
    records = load(base)
    if not records:
        print(f"report: no criterion results under {base}; run `make bench` first", file=sys.stderr)
        return 1
    records = analyse(records)
    ctx = context()
    external = load_external()
    all_figures = figures(records)
    for data in external.values():
        all_figures += data.get("figures", [])
    all_figures += [
        {"name": g["name"], "value": g["value"], "unit": "x"} for g in goals(records, external) if "name" in g
    ]
    all_figures += baseline_figures(external_values(external))
    ctx["external"] = {name: data.get("context", {}) for name, data in external.items()}
    RESULTS.write_text(json.dumps({"context": ctx, "figures": all_figures}, indent=2) + "\n")
    print(f"report: {len(records)} benchmarks from {base} -> {RESULTS.relative_to(ROOT)}")
    print("report: SHA backends: " + ", ".join(f"{k}: {v}" for k, v in ctx["sha_backends"].items()))
    if "--no-docs" not in sys.argv[1:]:
        text = section(records, ctx, external)
        write_doc(text)
        print(f"report: {DOC.relative_to(ROOT)} updated")
        print(text)
    for g in goals(records, external):
        if g["met"] is False:
            print(f"report: goal missed: {g['goal']}: measured {g['measured']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
