"""Soak: mixed traffic against the release dev server for a bounded time, loopback only.

Flows, picked at random (fixed seed) by a few workers until the deadline:
  register   a new client (dynamic registration)
  signup     a new client and a new user through the pages (sign-up, email code, consent)
  grant      an authorization with the live session and remembered consent, and its redemption
  refresh    a refresh of a held token
  tool_call  an MCP tools/call (whoami) with a held access token
  revoke     a revocation of a held token

It samples the server's RSS and the store's size every few seconds, keeps p50/p99 latency per
flow per time window, counts answers by status, and checks at the end that expired records are
ignored (a code left unredeemed past its lifetime is refused). Pass rule: 0 unexpected answers,
flat RSS after the warm-up, expired records refused. Writes results.json, soak.png (RSS and p99
over time, with matplotlib when it is installed) and summary.md to --out.

Usage: python soak.py --devserver BIN --out DIR [--seconds 600] [--workers 3] [--seed 18]
Each client connection binds its own 127.0.0.x source address, so per-address sign-up and
registration limits see many callers, as in production; every address is loopback.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import measure  # noqa: E402
import oauthflow as of  # noqa: E402

WEIGHTS = {"register": 1, "signup": 1, "grant": 3, "refresh": 4, "tool_call": 6, "revoke": 1}
EXPECTED = {"register": 201, "grant": 200, "refresh": 200, "tool_call": 200, "revoke": 200, "signup": 200}
WINDOW = 30  # seconds per latency window
SAMPLE = 5  # seconds between RSS samples
CODE_TTL = 30  # the soak server's authorization code lifetime, for the expiry check
FORM = {"content-type": "application/x-www-form-urlencoded"}


class SourceTransport(of.HttpTransport):
    """HttpTransport from a chosen loopback source address."""

    def __init__(self, host, port, source):
        super().__init__(host, port)
        self.source = source

    def send(self, method, target, headers, body=b""):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30, source_address=(self.source, 0))
        return super().send(method, target, headers, body)


class Stats:
    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Lock()
        self.lat = {}  # (window, flow) -> [ms]
        self.statuses = {}  # flow -> {status: n}
        self.unexpected = []  # (flow, status or error)
        self.counts = {}

    def record(self, flow, ms, status, ok):
        w = int((time.monotonic() - self.t0) // WINDOW)
        with self.lock:
            self.lat.setdefault((w, flow), []).append(ms)
            self.statuses.setdefault(flow, {}).setdefault(str(status), 0)
            self.statuses[flow][str(status)] += 1
            self.counts[flow] = self.counts.get(flow, 0) + 1
            if not ok:
                self.unexpected.append((flow, status))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Worker(threading.Thread):
    def __init__(self, idx, server, stats, deadline, seed, addresses):
        super().__init__(daemon=True)
        self.idx, self.server, self.stats, self.deadline = idx, server, stats, deadline
        self.rng = random.Random(seed * 1000 + idx)
        self.addresses = addresses
        self.users = []  # [client, tokens]
        self.n = 0

    def transport(self):
        self.n += 1
        source = self.addresses[(self.idx * 7919 + self.n) % len(self.addresses)]
        return SourceTransport("127.0.0.1", self.server.port, source)

    def run(self):
        flows = list(WEIGHTS)
        weights = [WEIGHTS[f] for f in flows]
        while time.monotonic() < self.deadline:
            flow = self.rng.choices(flows, weights)[0]
            if flow in ("grant", "refresh", "tool_call", "revoke") and not self.users:
                flow = "signup"
            t = time.perf_counter()
            try:
                status = getattr(self, flow)()
            except of.FlowError as e:
                status = str(e)[:120]
            except Exception as e:  # a transport failure is an unexpected answer too
                status = f"{type(e).__name__}: {e}"[:120]
            ms = (time.perf_counter() - t) * 1000
            self.stats.record(flow, ms, status, status == EXPECTED[flow])

    def register(self):
        c = of.Client(self.transport())
        c.register("Soak Client")
        return 201

    def signup(self):
        c = of.Client(self.transport())
        c.register("Soak Client")
        email = f"soak-{os.getpid()}-{self.idx}-{time.time_ns()}@example.com"
        tokens = c.redeem(c.sign_up(email))
        self.users.append([c, tokens])
        if len(self.users) > 20:
            self.users.pop(0)
        return 200

    def grant(self):
        u = self.rng.choice(self.users)
        u[1] = u[0].tokens()
        return 200

    def refresh(self):
        u = self.rng.choice(self.users)
        r = u[0].t.send("POST", "/api/oauth/token", FORM, u[0].refresh_body(u[1]["refresh_token"]))
        if r.status == 200:
            u[1] = r.json()
        return r.status

    def tool_call(self):
        u = self.rng.choice(self.users)
        r = u[0].t.send("POST", "/mcp", of.mcp_headers(u[1]["access_token"]), of.WHOAMI)
        return r.status

    def revoke(self):
        u = self.users.pop(self.rng.randrange(len(self.users)))
        r = u[0].t.send("POST", "/api/oauth/revoke", FORM, u[0].revoke_body(u[1]["refresh_token"]))
        return r.status


def store_bytes(path):
    total = 0
    for dirpath, _, files in os.walk(os.path.dirname(path)):
        for f in files:
            if f.startswith("store"):
                total += os.path.getsize(os.path.join(dirpath, f))
    return total


def chart(result, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    s = result["samples"]
    a.plot([x["t"] for x in s], [x["rss_kib"] / 1024 for x in s], color="tab:blue")
    a.axvline(result["warmup_s"], color="grey", linestyle=":", label="end of warm-up")
    a.set_ylabel("RSS (MiB)")
    a.set_ylim(bottom=0)
    a.legend(loc="lower right")
    a.set_title(f"Soak, {result['seconds']} s, {result['requests']} flows: RSS and p99 latency")
    for flow, points in sorted(result["p99_ms"].items()):
        b.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=flow)
    b.set_ylabel(f"p99 per {WINDOW} s window (ms)")
    b.set_xlabel("time (s)")
    b.set_yscale("log")
    b.legend(fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devserver", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--seed", type=int, default=18)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    addresses = [f"127.0.{i // 250}.{i % 250 + 2}" for i in range(1000)]
    with tempfile.TemporaryDirectory(prefix="mcp-soak-") as tmp:
        outbox = os.path.join(tmp, "outbox")
        os.environ["OUTBOX_DIR"] = outbox
        store = os.path.join(tmp, "store", "store.redb")
        os.makedirs(os.path.dirname(store))
        env = {"OUTBOX_DIR": outbox, "STORE_PATH": store, "AUTH_CODE_TTL": str(CODE_TTL)}
        server = measure.DevServer(args.devserver, env, os.path.join(args.out, "devserver.log"))
        try:
            t0 = time.monotonic()
            # A code left unredeemed: it must be refused once past its lifetime.
            stale_client, _ = measure.signed_up_client(SourceTransport("127.0.0.1", server.port, "127.0.9.1"))
            stale_code = stale_client.code()
            stats = Stats(t0)
            deadline = t0 + args.seconds
            workers = [Worker(i, server, stats, deadline, args.seed, addresses) for i in range(args.workers)]
            for w in workers:
                w.start()
            samples = []
            while time.monotonic() < deadline:
                samples.append(
                    {
                        "t": round(time.monotonic() - t0, 1),
                        "rss_kib": server.rss_kib(),
                        "store_bytes": store_bytes(store),
                        "flows": sum(stats.counts.values()),
                    }
                )
                time.sleep(min(SAMPLE, max(0.0, deadline - time.monotonic())))
            for w in workers:
                w.join(60)
            samples.append(
                {"t": round(time.monotonic() - t0, 1), "rss_kib": server.rss_kib(), "store_bytes": store_bytes(store),
                 "flows": sum(stats.counts.values())}
            )
            if time.monotonic() - t0 < CODE_TTL + 2:
                time.sleep(CODE_TTL + 2 - (time.monotonic() - t0))
            stale = stale_client.t.send("POST", "/api/oauth/token", FORM, stale_client.code_body(stale_code))
            expired_refused = stale.status == 400
            peak = server.peak_rss_kib()
        finally:
            server.stop()

    warmup = args.seconds * 0.25
    after = [s for s in samples if s["t"] >= warmup]
    q = max(1, len(after) // 4)
    first, last = after[:q], after[-q:]
    rss_first = statistics.mean(s["rss_kib"] for s in first) if first else 0
    rss_last = statistics.mean(s["rss_kib"] for s in last) if last else 0
    rise_kib = rss_last - rss_first
    rss_flat = rise_kib <= max(0.05 * rss_first, 2048)
    flows = sorted(WEIGHTS)
    p50 = {f: [] for f in flows}
    p99 = {f: [] for f in flows}
    for (w, f), xs in sorted(stats.lat.items()):
        mid = (w + 0.5) * WINDOW
        p50[f].append([mid, round(pct(xs, 50), 1)])
        p99[f].append([mid, round(pct(xs, 99), 1)])
    all_lat = {}
    for (w, f), xs in stats.lat.items():
        all_lat.setdefault(f, []).extend(xs)
    result = {
        "seconds": args.seconds,
        "workers": args.workers,
        "seed": args.seed,
        "warmup_s": warmup,
        "requests": sum(stats.counts.values()),
        "flows": stats.counts,
        "statuses": stats.statuses,
        "unexpected": len(stats.unexpected),
        "unexpected_examples": stats.unexpected[:10],
        "latency_ms": {f: {"p50": round(pct(xs, 50), 1), "p99": round(pct(xs, 99), 1)} for f, xs in all_lat.items()},
        "p50_ms": p50,
        "p99_ms": p99,
        "samples": samples,
        "rss_after_warmup_first_quarter_kib": round(rss_first),
        "rss_last_quarter_kib": round(rss_last),
        "rss_rise_kib": round(rise_kib),
        "rss_flat": rss_flat,
        "peak_rss_kib": peak,
        "store_bytes_start": samples[0]["store_bytes"],
        "store_bytes_end": samples[-1]["store_bytes"],
        "expired_code_refused": expired_refused,
    }
    result["passed"] = result["unexpected"] == 0 and rss_flat and expired_refused
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    charted = chart(result, os.path.join(args.out, "soak.png"))
    lines = [
        f"Soak: {args.seconds} s, {args.workers} workers, seed {args.seed}: {result['requests']} flows,"
        f" {result['unexpected']} unexpected answers",
        "",
        "| flow | count | p50 ms | p99 ms | answers |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for f in flows:
        lat = result["latency_ms"].get(f, {"p50": "-", "p99": "-"})
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.get(f, {}).items()))
        lines.append(f"| {f} | {stats.counts.get(f, 0)} | {lat['p50']} | {lat['p99']} | {answers} |")
    lines += [
        "",
        f"RSS after warm-up {rss_first / 1024:.1f} MiB, last quarter {rss_last / 1024:.1f} MiB"
        f" (rise {rise_kib / 1024:+.1f} MiB: {'flat' if rss_flat else 'GROWING'}), peak {peak / 1024:.1f} MiB",
        f"store {result['store_bytes_start'] / 1e6:.1f} MB -> {result['store_bytes_end'] / 1e6:.1f} MB",
        f"expired code refused: {expired_refused}",
        f"chart: {'soak.png' if charted else 'not drawn (matplotlib missing)'}",
        f"result: {'PASS' if result['passed'] else 'FAIL'}",
    ]
    text = "\n".join(lines)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
