#!/usr/bin/env python3
"""Writes docs/PERFORMANCE.md from the JSON that infra/scripts/bench.sh collected.

  report.py --results DIR --out docs/PERFORMANCE.md

Not for: measuring (measure.py and the Rust tools do that) or judging budgets (store-calls
does, and bench.sh stops before this step when one is exceeded). Standard library only.
"""

import argparse
import json
import math
import os
import re
import statistics

FUNCTIONS = ["discovery", "register", "authorize", "token", "revoke", "mcp"]
LOGICAL = {
    "discovery": "DiscoveryFunction",
    "register": "RegisterFunction",
    "authorize": "AuthorizeFunction",
    "token": "TokenFunction",
    "revoke": "RevokeFunction",
    "mcp": "McpFunction",
}
# Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB.
FULL_VCPU_MB = 1769


def load(results, name):
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib else "n/a"


def gib(meminfo):
    """`MemTotal` from /proc/meminfo ("24684092 kB") in GiB."""
    try:
        return f"{int(str(meminfo).split()[0]) / 1048576:.1f} GiB"
    except (ValueError, IndexError):
        return "n/a"


def ms(v):
    if v is None:
        return "n/a"
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def memory_sizes(template):
    """MemorySize per function binary in template.yaml (the Globals value where not set)."""
    with open(template) as f:
        text = f.read()
    default = re.search(r"^Globals:.*?^\s+MemorySize:\s*(\d+)", text, re.S | re.M)
    default = int(default.group(1)) if default else 128
    out = {}
    for block in re.split(r"\n(?=  [A-Za-z]+:\n)", text):
        binary = re.search(r"^\s+Binary:\s*(\S+)", block, re.M)
        if binary and "AWS::Serverless::Function" in block:
            size = re.search(r"^\s+MemorySize:\s*(\d+)", block, re.M)
            out[binary.group(1)] = int(size.group(1)) if size else default
    return out


def floor_mb(peak_kib):
    """The smallest Lambda memory setting that leaves peak RSS at most two thirds of it, in 64 MB
    steps from the minimum of 128 MB."""
    need = peak_kib / 1024 * 1.5
    return max(128, int(math.ceil(need / 64.0)) * 64)


def store_calls_section(emb, dyn):
    lines = [
        "## 1. Store calls per flow",
        "",
        "Each function runs as its own instance (its own store handle and key cache) over one shared "
        "backend, as separate Lambdas would, and walks the real flow in process: registration, "
        "sign-up and consent through the pages, authorization with remembered consent, both grants, "
        "MCP requests, revocation, password sign-in and discovery. A logging store backend records "
        "every call in order; the store handle's own counter (`Store::calls()`) must agree with it. "
        "*cold* is an instance's first request (empty key cache), *warm* any later one. The count "
        "does not depend on the machine, so it is exact.",
        "",
        "```",
        "cargo build --release -p bench",
        "target/release/store-calls --backend embedded",
        "DYNAMODB_ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \\",
        "    target/release/store-calls --backend dynamodb",
        "```",
        "",
        "It exits 2 when a budgeted flow is over budget, and `bench.sh` stops there without writing "
        "this page.",
        "",
        "| flow | function | when | store calls (embedded) | store calls (DynamoDB) | budget | the calls, in order |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    dyn_figs = (dyn or {}).get("figures", [])
    for i, f in enumerate(emb["figures"]):
        d = dyn_figs[i]["calls"] if i < len(dyn_figs) else "n/a"
        budget = f"≤ {f['budget']}" if f["budget"] is not None else ""
        if f["budget"] is not None:
            budget += " ✅" if f["within_budget"] else " ❌"
        if f.get("budget_note"):
            budget += f" ({f['budget_note']})"
        ops = ", ".join(f"`{o}`" for o in f["ops"]) or "none"
        lines.append(f"| {f['flow']} | {f['function']} | {f['when']} | {f['calls']} | {d} | {budget} | {ops} |")
    lines += [
        "",
        "The budgets are those of docs/ARCHITECTURE.md: **0** for an authenticated MCP request on a warm function, "
        "**≤ 3** for each grant and for an authorization with a live session and remembered consent. "
        "`tools/call whoami` is held to the request's 0 plus the one read the tool itself makes: the "
        "user's id and email live in the users table, not in the access token. A cold MCP instance "
        "reads the signing keys once (`QueryByOwner(keys)`); a cold token instance loads its signing "
        "key once, and the very first grant of a new deployment also creates it (`Create(keys)`). "
        "Rows without a budget are figures no budget bounds; they are here so that a change "
        "in any flow's cost shows up in review.",
        "",
    ]
    return lines


def lambda_section(lam, sizes, host_sizes):
    lines = [
        "## 2. Lambda init time and binary size",
        "",
        "Each function's release binary (x86_64, this machine) is started as Lambda starts it, "
        "against a minimal Runtime API on loopback (`bench/lambda_runtime.py`) with `STORE=dynamodb` "
        "pointed at the DynamoDB emulator (moto). *Ready* is the time from process start to its first "
        "`GET /2018-06-01/runtime/invocation/next`: configuration, logging, the AWS SDK client and "
        "the router are built. *First response* adds the first invocation (the event named below, "
        "made real with live credentials), including the function's first DynamoDB calls over a "
        "fresh connection to the emulator. Each is the median of repeated cold starts (min–max in "
        "brackets).",
        "",
        "```",
        "cargo build --release -p discovery -p register -p authorize -p token -p revoke -p mcp -p devserver",
        f"python3 bench/measure.py lambda --bin-dir target/release --devserver target/release/devserver \\",
        f"    --dynamodb-endpoint http://127.0.0.1:PORT --runs {lam['runs']} --invocations {lam['invocations']} --out lambda.json",
        "infra/scripts/build-lambda.sh   # arm64 bootstraps, for the sizes",
        "```",
        "",
        "| function | ready (median) | first response (median) | first event | arm64 `bootstrap` (stripped) | x86_64 binary |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for fn in FUNCTIONS:
        f = lam["functions"].get(fn)
        if not f:
            continue
        r, fr = f["ready_ms"], f["first_response_ms"]
        arm = sizes.get(fn) if sizes else None
        arm_text = f"{arm / 1048576:.2f} MiB" if arm else "not built"
        lines.append(
            f"| {fn} | {ms(r['median'])} ({ms(r['min'])}–{ms(r['max'])}) | {ms(fr['median'])} ({ms(fr['min'])}–{ms(fr['max'])}) "
            f"| {f['first_event']} | {arm_text} | {f['binary_bytes'] / 1048576:.2f} MiB |"
        )
    readies = [lam["functions"][fn]["ready_ms"]["median"] for fn in FUNCTIONS if fn in lam["functions"]]
    firsts = [lam["functions"][fn]["first_response_ms"]["median"] for fn in FUNCTIONS if fn in lam["functions"]]
    firsts_slowest = sum(
        1
        for fn in FUNCTIONS
        if lam["functions"].get(fn, {}).get("ready_ms_each")
        and lam["functions"][fn]["ready_ms_each"][0] == max(lam["functions"][fn]["ready_ms_each"])
    )
    lines += [
        "",
        f"In {firsts_slowest} of {len(readies)} functions the slowest start was the run's first, when the binary "
        "was not yet in the page cache.",
    ]
    lines += [
        "",
        f"Across the functions, the median time to ready is **{ms(statistics.median(readies))}** and to the first "
        f"response **{ms(statistics.median(firsts))}**. What this leaves out: Lambda's own part of a cold start "
        "(placing the sandbox, fetching and unpacking the package), which no local measurement can show, "
        "and Graviton instead of this machine's CPU. The first response goes to a DynamoDB emulator on "
        "loopback, not to DynamoDB over TLS.",
        "",
    ]
    if sizes and sizes.get("_note"):
        lines += [sizes["_note"], ""]
    return lines


def load_section(loads):
    lines = [
        "## 3. Latency and throughput on the dev server",
        "",
        "The release dev server (all functions in one process, as `cargo run --release -p devserver` "
        "serves them) on loopback, loaded by wrk for a bounded time; latencies are wrk's, over every "
        "request. Each flow at concurrency 1 (1 thread, 1 connection) and 32 (2 threads, 32 "
        "connections). wrk and the server share this machine's cores, so the figures at 32 are a "
        "lower bound on what the server alone could do.",
        "",
        "- **tools/list, tools/call whoami**: one user's access token, the same request each time "
        "(protocol revision 2025-11-25, JSON response).",
        "- **refresh_token**: real rotation, never the grace-window retry: each connection starts from "
        "a refresh token of its own grant and sends the successor from each answer, so every request "
        "spends a token never used before (`bench/wrk/chain.lua`).",
        "- **authorization_code**: a pool of single-use codes minted beforehand through the authorize "
        "endpoint (live session, remembered consent, one PKCE verifier); each code is sent once and the "
        "run ends while a few remain (`bench/wrk/pool.lua`). The dev server runs with "
        "`AUTH_CODE_TTL=600` so the pool outlives its minting; that changes no code path.",
        "",
    ]
    for lo in loads:
        if not lo:
            continue
        backend = "embedded store (redb)" if lo["backend"] == "embedded" else "DynamoDB emulator (moto, one request at a time)"
        lines += [
            f"### {backend}",
            "",
            "```",
            f"python3 bench/measure.py load --devserver target/release/devserver --backend {lo['backend']}"
            + (" --dynamodb-endpoint http://127.0.0.1:PORT" if lo["backend"] == "dynamodb" else "")
            + f" --duration {lo['duration_s']} --out load.json",
            "```",
            "",
            "| flow | concurrency | requests/s | p50 | p90 | p99 | max | requests | errors | wrk command |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in lo["runs"]:
            lat = r["latency_ms"]
            extra = f" (pool of {r['pool']})" if "pool" in r else ""
            lines.append(
                f"| {r['flow']} | {r['connections']} | {r['rps']:.0f} | {ms(lat['p50'])} | {ms(lat['p90'])} | {ms(lat['p99'])} "
                f"| {ms(lat['max'])} | {r['requests']}{extra} | {r['errors']} | `{r['command']}` |"
            )
        lines.append("")
        lines.append(
            f"Peak RSS of the dev server after these runs: **{mib(lo.get('peak_rss_kib'))}** "
            f"(idle after start: {mib(lo.get('rss_kib_idle'))})."
        )
        lines.append("")
    emb = next((lo for lo in loads if lo and lo["backend"] == "embedded"), None)
    dyn = next((lo for lo in loads if lo and lo["backend"] == "dynamodb"), None)
    if emb and dyn:
        lines.append("Ratio of requests/s, embedded store to DynamoDB emulator (the emulator, a single-threaded Python process, sets the DynamoDB figures):")
        lines.append("")
        lines.append("| flow | concurrency | embedded ÷ emulator |")
        lines.append("|---|---:|---:|")
        for a in emb["runs"]:
            if a["flow"].startswith("discovery metadata"):
                continue
            b = next((x for x in dyn["runs"] if x["flow"] == a["flow"] and x["connections"] == a["connections"]), None)
            if b and b["rps"]:
                lines.append(f"| {a['flow']} | {a['connections']} | {a['rps'] / b['rps']:.1f}× |")
        lines.append("")
    return lines


def memory_section(lam, loads, argon, template_sizes):
    lines = [
        "## 4. Memory",
        "",
        "Peak resident set (`VmHWM` from `/proc/<pid>/status`) of each function's release binary: "
        "after its first invocation (median over the cold starts) and after one instance served a "
        f"stream of {lam['invocations']} invocations one at a time, as a Lambda instance receives them "
        "(the same `measure.py lambda` run as section 2). The *floor* is the smallest Lambda memory "
        "setting that keeps the peak at or under two thirds of it (64 MB steps, 128 MB minimum).",
        "",
        "| function | after first request | after the stream | the stream | template.yaml MemorySize | floor from the peak |",
        "|---|---:|---:|---|---:|---:|",
    ]
    argon_peak = (argon or {}).get("peak_rss_kib_after") or 0
    for fn in FUNCTIONS:
        f = lam["functions"].get(fn)
        if not f:
            continue
        peak = f["stream"]["peak_rss_kib"]
        floor = f"{floor_mb(peak)} MB"
        if fn == "authorize" and argon_peak > peak:
            # The stream's peak is no upper bound: more password computations keep more blocks.
            floor = f"{floor_mb(argon_peak)} MB (from section 5's {mib(argon_peak)})"
        lines.append(
            f"| {fn} | {mib(f['peak_rss_kib_after_first']['median'])} | **{mib(peak)}** | {f['stream']['invocations']} invocations: "
            f"{f['stream']['what']} | {template_sizes.get(fn, 'n/a')} MB | {floor} |"
        )
    lines.append("")
    if argon_peak:
        lines += [
            "The authorize function's peak comes from argon2id (section 5), and the stream's figure is not a bound: "
            "19 MiB blocks freed after a password computation stay resident, more of them as computations go on; "
            f"section 5's back-to-back computations reached {mib(argon_peak)}. Its floor is therefore taken from "
            "there. With a fixed mmap threshold (below) the resident set stays flat.",
            "",
        ]
    for v in lam.get("variants", []):
        base = lam["functions"].get(v["function"], {}).get("stream", {}).get("peak_rss_kib")
        lines.append(
            f"- The same {v['function']} stream with `{v['env']}` in the function's environment: peak RSS "
            f"**{mib(v['stream']['peak_rss_kib'])}** (without it: {mib(base)}; median invocation {ms(v['stream']['invoke_ms']['median'])}, "
            f"without: {ms(lam['functions'].get(v['function'], {}).get('stream', {}).get('invoke_ms', {}).get('median'))}); "
            f"floor {floor_mb(v['stream']['peak_rss_kib'])} MB."
        )
    for lo in loads:
        if lo:
            lines.append(f"- Dev server (every function in one process) under the section 3 load, {lo['backend']}: peak RSS {mib(lo.get('peak_rss_kib'))}.")
    lines.append("")
    if argon:
        h = argon["hash"]["median_ms"]
        lines += [
            "Memory also buys CPU in Lambda (one vCPU at 1,769 MB, proportionally less below), and the "
            "authorize function's sign-up and password sign-in spend one argon2id computation each "
            "(section 5). Assuming one Lambda vCPU does the work of one core of this machine, the hash "
            "would take about:",
            "",
            "| authorize MemorySize | share of a vCPU | argon2id hash (estimate) |",
            "|---:|---:|---:|",
        ]
        for size in (256, 512, 1024, FULL_VCPU_MB):
            share = min(1.0, size / FULL_VCPU_MB)
            lines.append(f"| {size} MB | {share:.2f} | {ms(h / share)} |")
        lines += [
            "",
            "A CPU-bound request costs about the same in GB-seconds at any size below one vCPU "
            "(memory × time stays constant), so a larger authorize function buys latency at little "
            "cost; the functions that only wait on DynamoDB gain nothing from more memory.",
            "",
        ]
    return lines


def argon_section(argon, argon_mmap):
    a = argon
    growth = [round(x / 1024) for x in a.get("rss_kib_after_each") or [] if x]
    lines = [
        "## 5. Password hashing cost",
        "",
        "`mcp_oauth::accounts::password::{hash, verify}` in a release build, one after the other "
        "(after one untimed warm-up hash), on tokio's blocking pool as the handlers call them.",
        "",
        "```",
        f"target/release/argon2-cost --runs {a['hash']['runs']}",
        "```",
        "",
        f"Parameters: **{a['algorithm']}, m = {a['m_cost_kib']} KiB ({a['m_cost_kib'] / 1024:.0f} MiB), "
        f"t = {a['t_cost']}, p = {a['p_cost']}** (OWASP's first recommendation).",
        "",
        "| operation | median | p90 | min | max | runs |",
        "|---|---:|---:|---:|---:|---:|",
        f"| hash (sign-up) | {ms(a['hash']['median_ms'])} | {ms(a['hash']['p90_ms'])} | {ms(a['hash']['min_ms'])} | {ms(a['hash']['max_ms'])} | {a['hash']['runs']} |",
        f"| verify (password sign-in; an unknown email verifies a dummy hash) | {ms(a['verify']['median_ms'])} | {ms(a['verify']['p90_ms'])} | {ms(a['verify']['min_ms'])} | {ms(a['verify']['max_ms'])} | {a['verify']['runs']} |",
        "",
        f"The process's peak RSS went from {mib(a['peak_rss_kib_before'])} before hashing to "
        f"{mib(a['peak_rss_kib_after'])} after.",
        "",
    ]
    if growth:
        lines += [
            f"Resident set after each hash-and-verify, MiB: {', '.join(map(str, growth))}. One computation needs "
            f"one {a['m_cost_kib'] / 1024:.0f} MiB block, yet the process keeps many. glibc's malloc raises its "
            "mmap threshold when the first large block is freed (its dynamic mmap threshold); from then on "
            "blocks of this size come from the heap, and freed ones stay resident instead of being unmapped. "
            "tokio's blocking pool spreads the computations over several threads, and so over several "
            "allocator arenas, each keeping its own. This is what lifts the authorize function's peak in "
            "section 4.",
            "",
        ]
    if argon_mmap:
        b = argon_mmap
        growth_b = [round(x / 1024) for x in b.get("rss_kib_after_each") or [] if x]
        lines += [
            f"With `{b.get('env', 'MALLOC_MMAP_THRESHOLD_=1048576')}` in the environment (a fixed threshold, which turns the "
            "dynamic one off: blocks above 1 MiB are mapped for each use and unmapped when freed): hash median "
            f"{ms(b['hash']['median_ms'])}, verify median {ms(b['verify']['median_ms'])}, peak RSS "
            f"{mib(b['peak_rss_kib_after'])}; resident set after each, MiB: {', '.join(map(str, growth_b))}.",
            "",
            "```",
            f"MALLOC_MMAP_THRESHOLD_=1048576 target/release/argon2-cost --runs {b['hash']['runs']}",
            "```",
            "",
        ]
    return lines


def machine_section(m):
    lines = [
        "## The machine and the run",
        "",
        f"- CPU: {m.get('cpu_model', 'n/a')}, {m.get('nproc', '?')} cores available (`nproc`); memory {gib(m.get('mem_total'))}; "
        f"Linux {m.get('kernel', '')}.",
        f"- Load average (`uptime`, 1/5/15 min) before the run: {m.get('load_before', 'n/a')}; after: {m.get('load_after', 'n/a')}. "
        "The machine is shared: other work (compilers, test suites) may have run at the same time, which "
        "widens the timed figures (sections 2, 3, 5); the store-call counts do not move.",
        f"- Tools: {m.get('rustc', '')}; wrk {m.get('wrk', 'n/a')} (Debian package, pinned by its version); "
        f"Python {m.get('python', '')}; moto {m.get('moto', 'n/a')}; cargo-lambda {m.get('cargo_lambda', 'n/a')}.",
        f"- Source: `{m.get('git', '')}`; run on {m.get('date', '')}.",
        f"- Time taken by `infra/scripts/bench.sh`: {m.get('phases', 'n/a')}.",
        "",
    ]
    return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--template", default="template.yaml")
    args = p.parse_args()
    r = args.results
    emb, dyn = load(r, "store-calls-embedded.json"), load(r, "store-calls-dynamodb.json")
    argon = load(r, "argon2.json")
    argon_mmap = load(r, "argon2-mmap.json")
    loads = [load(r, "load-embedded.json"), load(r, "load-dynamodb.json")]
    lam = load(r, "lambda.json")
    sizes = load(r, "sizes.json") or {}
    machine = load(r, "machine.json") or {}
    template_sizes = memory_sizes(args.template)

    warm_list = [f["calls"] for f in emb["figures"] if f["flow"] == "MCP tools/list" and f["when"] == "warm"]
    warm_whoami = [f["calls"] for f in emb["figures"] if f["flow"] == "MCP tools/call whoami" and f["when"] == "warm"]
    whoami = next(
        (x for x in (loads[0] or {}).get("runs", []) if x["flow"] == "tools/call whoami" and x["connections"] == 1), None
    )
    readies = [lam["functions"][fn]["ready_ms"]["median"] for fn in FUNCTIONS if fn in lam["functions"]]
    firsts = [lam["functions"][fn]["first_response_ms"]["median"] for fn in FUNCTIONS if fn in lam["functions"]]

    out = [
        "# Performance",
        "",
        "<!-- Generated by infra/scripts/bench.sh (bench/report.py); edit those, not this file. -->",
        "",
        "What a user of this server pays for, measured by a benchmark that anyone can rerun with one "
        "command, `infra/scripts/bench.sh`, which rebuilds this page. Each figure's own command stands "
        "beside it. The store-call budget is enforced: the command fails when a flow exceeds it. No "
        "figure here is asserted by a timed test.",
        "",
        "## Headline",
        "",
        f"- **{max(warm_list, default=0)} store calls** for an authenticated MCP request on a warm function "
        f"(`tools/list`); `tools/call whoami` makes {max(warm_whoami, default=0)}, the tool's own read of the user's "
        f"profile. At most {max(f['calls'] for f in emb['figures'] if f['budget'] == 3)} for each grant and for an "
        "authorization with remembered consent (budget 3).",
        f"- **{ms(statistics.median(readies))}** median Lambda init (process start to ready for the first event, "
        f"median over functions of each one's median; {ms(min(readies))}–{ms(max(readies))}), "
        f"**{ms(statistics.median(firsts))}** to the first response with the DynamoDB backend.",
    ]
    if whoami:
        out.append(
            f"- **{ms(whoami['latency_ms']['p50'])}** median `tools/call whoami` latency on the release dev server "
            f"(embedded store, one connection; p99 {ms(whoami['latency_ms']['p99'])}, {whoami['rps']:.0f} requests/s)."
        )
    if argon:
        out.append(
            f"- **{ms(argon['hash']['median_ms'])}** per argon2id password hash (m = 19 MiB, t = 2, p = 1) on one core."
        )
    out.append("")
    out += machine_section(machine)
    out += store_calls_section(emb, dyn)
    out += lambda_section(lam, sizes, None)
    out += load_section(loads)
    out += memory_section(lam, loads, argon, template_sizes)
    if argon:
        out += argon_section(argon, argon_mmap)
    with open(args.out, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
