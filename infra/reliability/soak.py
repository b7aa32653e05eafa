#!/usr/bin/env python3
"""The soak run: mixed traffic against the release dev server for a bounded time, on loopback,
then a verdict. infra/scripts/soak.sh builds the server and runs this; see docs/RELIABILITY.md.

  soak.py --devserver BIN --duration SECONDS --out DIR [--workers N]

Traffic (every thread on its own keep-alive connection to 127.0.0.1):
  - a newcomer thread, one round every NEWCOMER_PERIOD s, each from a loopback address of its
    own (127.18.x.y): registers a new client (register), signs a new user up through the pages
    with the mailed code and consents (sign_up), and redeems the first code;
  - N workers (default 3), each holding a pool of live grants: new grants from remembered
    consent (grant: authorization request + code redemption), refreshes with real rotation
    (refresh), MCP tools/call whoami with the access token (tool_call), and revocations
    (revoke) that keep the pool bounded;
  - a prober thread: parks a code and a token pair, and once their lifetimes (shortened for the
    run, see SERVER_ENV) are over, checks that every read ignores the expired record: the code
    and the refresh token get 400 invalid_grant and the access token 401 (expired_probe);
  - a sampler: the server's RSS (VmRSS) and the embedded store's file size every SAMPLE_PERIOD s.

Pass rule: 0 unexpected answers (any status a flow does not expect, or a transport error), every
expired probe refused, and flat RSS: after the warm-up (the first WARMUP_SHARE of the run), the
median RSS of the last third is within RSS_SLACK of the median of the first third.

Writes DIR/result.json, DIR/report.md (the block that soak.sh puts into docs/RELIABILITY.md)
and, when matplotlib can be imported, DIR/soak.png (RSS and p99 per flow over time). Exit
status 0 on a pass, 1 on a fail.

Not for: throughput figures (bench/measure.py) or proving a rule in the test suite.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import measure  # noqa: E402
import oauthflow as of  # noqa: E402

FORM = {"content-type": "application/x-www-form-urlencoded"}
# Short lifetimes, so that records expire within the run and the prober can check that reads
# ignore them (the embedded store keeps expired records until overwritten; see the page).
ACCESS_TTL = 60
ACCESS_LEEWAY = 30
REFRESH_TTL = 120
CODE_TTL = 20
SERVER_ENV = {
    "ACCESS_TOKEN_TTL": str(ACCESS_TTL),
    "REFRESH_TOKEN_TTL": str(REFRESH_TTL),
    "AUTH_CODE_TTL": str(CODE_TTL),
    "LOG_FORMAT": "text",
    "RUST_LOG": "warn",
    # As deployed (template.yaml sets it on the authorize function): argon2id's 19 MiB blocks are
    # unmapped when freed rather than kept per allocator arena (docs/PERFORMANCE.md, section 5).
    "MALLOC_MMAP_THRESHOLD_": "1048576",
}
NEWCOMER_PERIOD = 4.0  # s
SAMPLE_PERIOD = 2.0
PROBE_PERIOD = 15.0
POOL_MAX = 12
WORKER_PAUSE = 0.02  # s between a worker's requests: a steady, bounded load on a shared machine
WARMUP_SHARE = 0.2
RSS_SLACK = 0.10
# Expected answers per flow; anything else counts as an unexpected error.
EXPECTED = {
    "register": {201},
    "sign_up": {200, 302, 303},
    "grant": {200, 302, 303},
    "refresh": {200},
    "tool_call": {200},
    "revoke": {200},
    "expired_probe": {400, 401},
}


class Recorder:
    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Lock()
        self.samples = []  # (t, flow, ms, status)
        self.unexpected = []  # (t, flow, status, detail)
        self.probes = {"refused": 0, "accepted": 0}

    def record(self, flow, ms, status, detail=""):
        t = time.monotonic() - self.t0
        with self.lock:
            self.samples.append((t, flow, ms, status))
            if status not in EXPECTED[flow]:
                self.unexpected.append((round(t, 1), flow, status, detail[:200]))

    def timed(self, flow, fn):
        """Runs fn() -> Reply, records it under `flow`, returns the reply (None on a transport
        error, which is recorded as status 0)."""
        t = time.perf_counter()
        try:
            reply = fn()
        except (OSError, of.FlowError) as e:
            self.record(flow, (time.perf_counter() - t) * 1000, 0, repr(e))
            return None
        self.record(flow, (time.perf_counter() - t) * 1000, reply.status, reply.text() if reply.status >= 400 else "")
        return reply


class Stop:
    def __init__(self, deadline):
        self.deadline = deadline
        self.event = threading.Event()

    def done(self):
        return self.event.is_set() or time.monotonic() >= self.deadline

    def wait(self, seconds):
        """Waits until `seconds` passed or the run ended; True when the run ended."""
        return self.event.wait(max(0.0, min(seconds, self.deadline - time.monotonic()))) or self.done()


def send(t, method, target, headers, body=b""):
    return t.send(method, target, headers, body)


class FromAddress(of.HttpTransport):
    """oauthflow's keep-alive transport, with its connections made from a given loopback address.
    The server throttles sign-ups and registrations per source address (20 sign-ups an hour, see
    `authorize::email`), so each newcomer comes from an address of its own, as new users do."""

    def __init__(self, host, port, source):
        super().__init__(host, port)
        self.source = source

    def send(self, method, target, headers, body=b""):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30, source_address=(self.source, 0))
            try:
                self.conn.request(method, target, body=body or None, headers=headers)
                res = self.conn.getresponse()
                return of.Reply(res.status, res.getheaders(), res.read())
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise


def newcomer(server, rec, stop):
    n = 0
    while not stop.done():
        n += 1
        # 127.18.0.2, 127.18.0.3, ...: all of 127/8 is loopback.
        t = FromAddress("127.0.0.1", server.port, f"127.18.{n // 250}.{n % 250 + 2}")
        c = of.Client(t)
        body = json.dumps({"client_name": f"Soak {n}", "redirect_uris": [of.REDIRECT_URI]}).encode()
        reply = rec.timed("register", lambda: send(t, "POST", "/api/oauth/register", {"content-type": "application/json"}, body))
        if reply is not None and reply.status == 201:
            c.client_id = reply.json()["client_id"]
            email = f"soak-{os.getpid()}-{n}@example.com"
            t0 = time.perf_counter()
            try:
                code = c.sign_up(email)
                rec.record("sign_up", (time.perf_counter() - t0) * 1000, 302)
                c.redeem(code)
            except (OSError, of.FlowError) as e:
                rec.record("sign_up", (time.perf_counter() - t0) * 1000, 0, repr(e))
        if stop.wait(NEWCOMER_PERIOD):
            return


def new_grant(c, t, rec):
    reply = rec.timed("grant", lambda: c.browser.send("GET", c.authorize_target()))
    if reply is None or reply.status not in (302, 303):
        return None
    code = reply.redirect_params()["code"]
    reply = rec.timed("grant", lambda: send(t, "POST", "/api/oauth/token", FORM, c.code_body(code)))
    if reply is None or reply.status != 200:
        return None
    j = reply.json()
    return {"at": j["access_token"], "rt": j["refresh_token"], "issued": time.monotonic()}


def worker(server, base, rec, stop, seed):
    rng = random.Random(seed)
    t = server.transport()
    c = measure.clone(base, t)
    pool = []
    while not stop.done():
        r = rng.random()
        if len(pool) > POOL_MAX or (r >= 0.93 and len(pool) > 1):
            g = pool.pop(0)
            rec.timed("revoke", lambda: send(t, "POST", "/api/oauth/revoke", FORM, c.revoke_body(g["rt"])))
        elif not pool or r < 0.15:
            g = new_grant(c, t, rec)
            if g:
                pool.append(g)
        else:
            g = pool[rng.randrange(len(pool))]
            # A refresh when drawn, and always before the access token's lifetime runs out.
            if r < 0.45 or time.monotonic() - g["issued"] > ACCESS_TTL - 10:
                pool.remove(g)
                reply = rec.timed("refresh", lambda: send(t, "POST", "/api/oauth/token", FORM, c.refresh_body(g["rt"])))
                if reply is not None and reply.status == 200:
                    j = reply.json()
                    pool.append({"at": j["access_token"], "rt": j["refresh_token"], "issued": time.monotonic()})
            else:
                reply = rec.timed("tool_call", lambda: send(t, "POST", "/mcp", of.mcp_headers(g["at"]), of.WHOAMI))
                if reply is not None and reply.status == 200 and b'"error"' in reply.body[:200]:
                    rec.record("tool_call", 0, 599, "JSON-RPC error: " + reply.text())
        if stop.wait(WORKER_PAUSE):
            return


def prober(server, base, rec, stop):
    """Parks a code and a token pair, then checks that once expired no read accepts them."""
    t = server.transport()
    c = measure.clone(base, t)
    parked = []  # (ready_at, kind, value)
    next_park = 0.0
    while not stop.done():
        now = time.monotonic()
        if now >= next_park:
            next_park = now + PROBE_PERIOD
            try:
                code = c.code()
                pair = c.tokens()
                parked.append((now + CODE_TTL + 5, "code", code))
                # Unused after issue: the refresh token expires REFRESH_TTL after it was issued.
                # /mcp allows ACCESS_LEEWAY of clock skew past `exp` (mcp::auth::LEEWAY).
                parked.append((now + ACCESS_TTL + ACCESS_LEEWAY + 5, "access", pair["access_token"]))
                parked.append((now + REFRESH_TTL + 5, "refresh", pair["refresh_token"]))
            except (OSError, of.FlowError) as e:
                rec.record("grant", 0, 0, "prober: " + repr(e))
        for item in [p for p in parked if p[0] <= now]:
            parked.remove(item)
            _, kind, value = item
            if kind == "code":
                reply = rec.timed("expired_probe", lambda: send(t, "POST", "/api/oauth/token", FORM, c.code_body(value)))
                refused = reply is not None and reply.status == 400 and reply.json().get("error") == "invalid_grant"
            elif kind == "refresh":
                reply = rec.timed("expired_probe", lambda: send(t, "POST", "/api/oauth/token", FORM, c.refresh_body(value)))
                refused = reply is not None and reply.status == 400 and reply.json().get("error") == "invalid_grant"
            else:
                reply = rec.timed("expired_probe", lambda: send(t, "POST", "/mcp", of.mcp_headers(value), of.WHOAMI))
                refused = reply is not None and reply.status == 401
            with rec.lock:
                rec.probes["refused" if refused else "accepted"] += 1
                rec.probes[kind] = rec.probes.get(kind, 0) + 1
        if stop.wait(1.0):
            return


def sampler(server, store_path, rec, stop, out):
    while True:
        t = time.monotonic() - rec.t0
        try:
            size = os.path.getsize(store_path)
        except OSError:
            size = 0
        out.append({"t": round(t, 1), "rss_kib": server.rss_kib(), "store_bytes": size})
        if stop.wait(SAMPLE_PERIOD):
            return


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, round((len(v) - 1) * q))]


def analyse(rec, samples, duration):
    buckets = max(1, min(20, int(duration // 15)))
    width = duration / buckets
    flows = sorted({s[1] for s in rec.samples})
    over_time = []
    for b in range(buckets):
        lo, hi = b * width, (b + 1) * width
        row = {"t_end": round(hi, 1)}
        for f in flows:
            ms = [s[2] for s in rec.samples if s[1] == f and lo <= s[0] < hi and s[3] != 0]
            if ms:
                row[f] = {"n": len(ms), "p50": round(pct(ms, 0.5), 2), "p99": round(pct(ms, 0.99), 2)}
        over_time.append(row)
    by_status = {}
    per_flow = {}
    for _, f, ms, st in rec.samples:
        by_status.setdefault(f, {}).setdefault(str(st), 0)
        by_status[f][str(st)] += 1
        per_flow.setdefault(f, []).append(ms)
    totals = {f: {"n": len(v), "p50": round(pct(v, 0.5), 2), "p99": round(pct(v, 0.99), 2)} for f, v in per_flow.items()}
    after = [s for s in samples if s["t"] >= duration * WARMUP_SHARE]
    third = max(1, len(after) // 3)
    first = statistics.median(s["rss_kib"] for s in after[:third]) if after else 0
    last = statistics.median(s["rss_kib"] for s in after[-third:]) if after else 0
    growth = (last - first) / first if first else 0.0
    store_first = samples[0]["store_bytes"] if samples else 0
    store_last = samples[-1]["store_bytes"] if samples else 0
    verdict = {
        "unexpected_errors": len(rec.unexpected),
        "expired_probes": dict(rec.probes),
        "rss_first_third_kib": first,
        "rss_last_third_kib": last,
        "rss_growth": round(growth, 4),
        "rss_flat": growth <= RSS_SLACK,
        "store_bytes_start": store_first,
        "store_bytes_end": store_last,
    }
    verdict["passed"] = (
        verdict["unexpected_errors"] == 0 and rec.probes["accepted"] == 0 and rec.probes["refused"] > 0 and verdict["rss_flat"]
    )
    return {
        "duration_s": duration,
        "requests": len(rec.samples),
        "by_status": by_status,
        "latency_ms": totals,
        "over_time": over_time,
        "samples": samples,
        "unexpected": rec.unexpected[:50],
        "verdict": verdict,
    }


def chart(result, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    s = result["samples"]
    ax1.plot([x["t"] / 60 for x in s], [x["rss_kib"] / 1024 for x in s], color="tab:blue")
    ax1.set_ylabel("RSS (MiB)")
    ax1.set_ylim(bottom=0)
    ax1.axvline(result["duration_s"] * WARMUP_SHARE / 60, color="grey", linestyle=":", label="end of warm-up")
    ax1.legend(loc="lower right")
    ax1.set_title(f"Soak run: dev server ({result['label']}, embedded store) RSS and p99 latency")
    for f in ("grant", "refresh", "tool_call", "revoke", "register", "sign_up"):
        pts = [(r["t_end"] / 60, r[f]["p99"]) for r in result["over_time"] if f in r]
        if pts:
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=f)
    ax2.set_yscale("log")
    ax2.set_ylabel("p99 (ms, log)")
    ax2.set_xlabel("minutes")
    ax2.legend(fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return True


def report_md(result, args, chart_name):
    v = result["verdict"]
    lines = [
        f"Last run: `{'SOAK_DEVSERVER=… SOAK_LABEL=' + args.label + ' ' if args.label != 'release' else ''}infra/scripts/soak.sh {args.duration}` ({args.duration / 60:g} min, {args.workers} workers, "
        f"{args.label} dev server, embedded store, loopback), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"**{'PASS' if v['passed'] else 'FAIL'}**.",
        "",
        f"- Requests: {result['requests']}; unexpected answers: {v['unexpected_errors']}.",
        f"- Expired records probed after their lifetime: {v['expired_probes'].get('refused', 0)} refused, "
        f"{v['expired_probes'].get('accepted', 0)} accepted "
        f"(codes {v['expired_probes'].get('code', 0)}, access tokens {v['expired_probes'].get('access', 0)}, "
        f"refresh tokens {v['expired_probes'].get('refresh', 0)}).",
        f"- RSS after warm-up: median {v['rss_first_third_kib'] / 1024:.1f} MiB in the first third, "
        f"{v['rss_last_third_kib'] / 1024:.1f} MiB in the last third ({v['rss_growth'] * 100:+.1f} %; "
        f"the rule allows {RSS_SLACK * 100:.0f} %).",
        f"- Store file: {v['store_bytes_start'] / 1048576:.1f} MiB at the start, {v['store_bytes_end'] / 1048576:.1f} MiB at the end.",
        "",
        "| flow | requests | answers by status | p50 ms | p99 ms |",
        "|---|---:|---|---:|---:|",
    ]
    for f in sorted(result["latency_ms"]):
        lat = result["latency_ms"][f]
        st = ", ".join(f"{k}: {n}" for k, n in sorted(result["by_status"][f].items()))
        lines.append(f"| {f} | {lat['n']} | {st} | {lat['p50']} | {lat['p99']} |")
    lines.append("")
    lines.append("p99 (ms) per flow over time, by window:")
    lines.append("")
    flows = [f for f in ("grant", "refresh", "tool_call", "revoke", "register", "sign_up") if f in result["latency_ms"]]
    lines.append("| until (s) | " + " | ".join(flows) + " |")
    lines.append("|---:|" + "---:|" * len(flows))
    for row in result["over_time"]:
        lines.append(f"| {row['t_end']:g} | " + " | ".join(str(row[f]["p99"]) if f in row else "-" for f in flows) + " |")
    if chart_name:
        lines += ["", f"![RSS and p99 over the soak run]({chart_name})"]
    if result["unexpected"]:
        lines += ["", "Unexpected answers (first ones):", ""]
        lines += [f"- t={u[0]} s {u[1]}: {u[2]} {u[3]}" for u in result["unexpected"][:10]]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devserver", required=True)
    p.add_argument("--label", default="release", help="the binary's build, as the page names it")
    p.add_argument("--duration", type=int, default=600)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=18)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="soak-")
    env = dict(SERVER_ENV)
    env["OUTBOX_DIR"] = os.path.join(tmp, "outbox")
    env["STORE_PATH"] = os.path.join(tmp, "store.redb")
    os.environ["OUTBOX_DIR"] = env["OUTBOX_DIR"]
    server = measure.DevServer(args.devserver, env, os.path.join(args.out, "devserver.log"))
    try:
        base, _ = measure.signed_up_client(server.transport())
        t0 = time.monotonic()
        rec = Recorder(t0)
        stop = Stop(t0 + args.duration)
        samples = []
        threads = [
            threading.Thread(target=sampler, args=(server, env["STORE_PATH"], rec, stop, samples)),
            threading.Thread(target=newcomer, args=(server, rec, stop)),
            threading.Thread(target=prober, args=(server, base, rec, stop)),
        ] + [threading.Thread(target=worker, args=(server, base, rec, stop, args.seed + i)) for i in range(args.workers)]
        for th in threads:
            th.start()
        next_log = 60
        while not stop.done():
            stop.wait(1)
            el = time.monotonic() - t0
            if el >= next_log:
                next_log += 60
                with rec.lock:
                    n, bad = len(rec.samples), len(rec.unexpected)
                rss = samples[-1]["rss_kib"] / 1024 if samples else 0
                print(f"    {el:5.0f} s: {n} requests, {bad} unexpected, RSS {rss:.1f} MiB", flush=True)
        for th in threads:
            th.join(120)
        if server.proc.poll() is not None:
            rec.unexpected.append((args.duration, "server", server.proc.returncode, "the dev server exited"))
    finally:
        server.stop()
    result = analyse(rec, samples, args.duration)
    result["label"] = args.label
    png = os.path.join(args.out, "soak.png")
    drew = chart(result, png)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(report_md(result, args, "soak.png" if drew else None))
    v = result["verdict"]
    print(
        f"soak: {result['requests']} requests, {v['unexpected_errors']} unexpected, expired probes "
        f"{v['expired_probes'].get('refused', 0)} refused / {v['expired_probes'].get('accepted', 0)} accepted, "
        f"RSS {v['rss_growth'] * 100:+.1f} % after warm-up: {'PASS' if v['passed'] else 'FAIL'}"
    )
    sys.exit(0 if v["passed"] else 1)


if __name__ == "__main__":
    main()
