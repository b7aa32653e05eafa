#!/usr/bin/env python3
"""The benchmark's timed measurements; infra/scripts/bench.sh runs them and report.py turns their
JSON into docs/PERFORMANCE.md.

  measure.py load   --devserver BIN --backend embedded|dynamodb --out FILE [options]
      Latency and throughput of the release dev server under wrk (loopback only, bounded in
      time and count): authenticated tools/list and tools/call whoami, the refresh grant (real
      rotation) and the authorization-code grant (a pool of single-use codes), at concurrency 1
      and 32; then the server's peak RSS.

  measure.py lambda --bin-dir DIR --devserver BIN --dynamodb-endpoint URL --out FILE [options]
      Each function's release binary against the loopback Runtime API (lambda_runtime.py) with
      the DynamoDB backend on the emulator: time to the first GET .../invocation/next and to the
      first response over repeated cold starts; then one instance serving a stream of
      invocations, and its peak RSS.

Not for: store-call counts or the password hash (Rust tools in bench/src/bin), or judging
budgets. Standard library plus wrk (Debian package) on PATH.
"""

import argparse
import base64
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambda_runtime as lr  # noqa: E402
import oauthflow as of  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_DIR = os.path.join(ROOT, "bench", "wrk")
FUNCTIONS = ["discovery", "register", "authorize", "token", "revoke", "mcp"]
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
# A code lives 60 s by default; the pools are minted before the run that spends them, so they
# live 10 minutes here. The lifetime changes no code path or store call.
BENCH_SERVER_ENV = {"AUTH_CODE_TTL": "600"}


def log(msg):
    print(f"    {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(values):
    v = sorted(values)
    at = lambda q: v[min(len(v) - 1, round((len(v) - 1) * q))]  # noqa: E731
    return {"n": len(v), "min": v[0], "median": statistics.median(v), "p90": at(0.9), "max": v[-1]}


class DevServer:
    """The release dev server on a free loopback port."""

    def __init__(self, binary, env, logfile):
        self.port = free_port()
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": str(self.port)}
        full.update(BENCH_SERVER_ENV)
        full.update(env)
        self.logf = open(logfile, "ab")
        self.proc = subprocess.Popen([binary], env=full, stdout=self.logf, stderr=self.logf)
        url = f"http://127.0.0.1:{self.port}/.well-known/oauth-authorization-server"
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the dev server exited ({self.proc.returncode}); see {logfile}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the dev server did not answer within 30 s")

    def transport(self):
        return of.HttpTransport("127.0.0.1", self.port)

    def peak_rss_kib(self):
        return lr.vm_kib(self.proc.pid, "VmHWM")

    def rss_kib(self):
        return lr.vm_kib(self.proc.pid, "VmRSS")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def signed_up_client(transport):
    """A registered client and a new user with a live session and remembered consent."""
    client = of.Client(transport)
    client.register()
    email = f"bench-{os.getpid()}-{time.time_ns()}@example.com"
    client.redeem(client.sign_up(email))
    return client, email


def clone(client, transport):
    return of.Client(transport, client.client_id, dict(client.browser.cookies), client.verifier)


def mint(server, client, count, what, workers=4):
    """`count` codes (what="code") or token pairs (what="tokens"), minted over a few connections."""

    def batch(n):
        c = clone(client, server.transport())
        return [c.code() if what == "code" else c.tokens() for _ in range(n)]

    sizes = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return [x for part in pool.map(batch, sizes) for x in part]


# ---- load --------------------------------------------------------------------------------------


def wrk(server, path, script, connections, duration, env, tmp):
    threads = 1 if connections == 1 else 2
    out = os.path.join(tmp, "wrk.json")
    if os.path.exists(out):
        os.remove(out)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        os.path.join(WRK_DIR, script),
        f"http://127.0.0.1:{server.port}{path}",
    ]
    full = dict(os.environ)
    full.update(env)
    full.update(
        {"BENCH_OUT": out, "BENCH_WRK_DIR": WRK_DIR, "BENCH_THREADS": str(threads), "BENCH_CONNECTIONS": str(connections)}
    )
    subprocess.run(cmd, env=full, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    # Rated over the time the run was active: a pool run stops when its single-use bodies run
    # out, while wrk itself always waits out the full duration.
    seconds = r.get("active_us", r["duration_us"]) / 1e6
    errors = sum(r["errors"].values())
    return {
        "command": " ".join(cmd[:6] + ["-s", f"bench/wrk/{script}", f"http://127.0.0.1:PORT{path}"]),
        "connections": connections,
        "threads": threads,
        "requests": r["requests"],
        "seconds": round(seconds, 2),
        "rps": round(r["requests"] / seconds, 1) if seconds else 0,
        "errors": errors,
        "error_detail": r["errors"],
        "latency_ms": {k: round(v / 1000, 3) for k, v in r["latency_us"].items()},
    }


def check_mcp(client_t, token, body):
    reply = client_t.send("POST", "/mcp", of.mcp_headers(token), body)
    of.expect("MCP request", reply, 200)
    if "error" in reply.json():
        raise of.FlowError(f"MCP request answered an error: {reply.text()[:300]}")


def run_load(args):
    tmp = tempfile.mkdtemp(prefix="bench-load-")
    # The sign-up's verification code goes to this outbox, where oauthflow reads it.
    env = {"OUTBOX_DIR": os.path.join(tmp, "outbox")}
    os.environ["OUTBOX_DIR"] = env["OUTBOX_DIR"]
    if args.backend == "embedded":
        env["STORE_PATH"] = os.path.join(tmp, "store.redb")
    else:
        env.update(AWS_TEST_ENV)
        env.update(
            {"STORE": "dynamodb", "DYNAMODB_ENDPOINT": args.dynamodb_endpoint, "TABLE_PREFIX": f"benchload{os.getpid()}-"}
        )
    server = DevServer(args.devserver, env, os.path.join(args.logs, f"devserver-{args.backend}.log"))
    results = {"backend": args.backend, "duration_s": args.duration, "runs": []}
    try:
        results["rss_kib_idle"] = server.rss_kib()
        t = server.transport()
        client, _ = signed_up_client(t)
        pair = client.tokens()
        token = pair["access_token"]
        for c in (1, 32):
            r = wrk(server, "/.well-known/oauth-authorization-server", "get.lua", c, args.duration, {}, tmp)
            r["flow"] = "discovery metadata (no token, no store: the HTTP floor)"
            results["runs"].append(r)
            log(f"{args.backend} metadata c={c}: {r['rps']} req/s, p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms, {r['errors']} errors")
        for name, body in (("tools/list", of.TOOLS_LIST), ("tools/call whoami", of.WHOAMI)):
            check_mcp(t, token, body)
            for c in (1, 32):
                env = {"BENCH_BODY": body.decode(), "BENCH_TOKEN": token, "BENCH_MCP_VERSION": of.MCP_VERSION}
                r = wrk(server, "/mcp", "mcp.lua", c, args.duration, env, tmp)
                r["flow"] = name
                results["runs"].append(r)
                log(f"{args.backend} {name} c={c}: {r['rps']} req/s, p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms, {r['errors']} errors")
        for c in (1, 32):
            seeds = [p["refresh_token"] for p in mint(server, client, c, "tokens")]
            pool = os.path.join(tmp, "seeds.txt")
            with open(pool, "w") as f:
                f.write("\n".join(seeds) + "\n")
            env = {"BENCH_POOL": pool, "BENCH_CLIENT_ID": client.client_id}
            r = wrk(server, "/api/oauth/token", "chain.lua", c, args.duration, env, tmp)
            r["flow"] = "token: refresh_token (rotation)"
            results["runs"].append(r)
            log(f"{args.backend} refresh c={c}: {r['rps']} req/s, p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms, {r['errors']} errors")
        for c in (1, 32):
            n = args.code_pool if c > 1 else max(args.code_pool // 4, 50)
            started = time.monotonic()
            codes = mint(server, client, n, "code")
            minted = time.monotonic() - started
            pool = os.path.join(tmp, "codes.txt")
            with open(pool, "w") as f:
                f.write("\n".join(client.code_body(code).decode() for code in codes) + "\n")
            r = wrk(server, "/api/oauth/token", "pool.lua", c, args.duration, {"BENCH_POOL": pool}, tmp)
            r["flow"] = "token: authorization_code"
            r["pool"] = n
            r["pool_minted_s"] = round(minted, 1)
            results["runs"].append(r)
            log(f"{args.backend} code grant c={c}: {r['rps']} req/s, p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms, {r['requests']} of {n} codes, {r['errors']} errors")
        results["peak_rss_kib"] = server.peak_rss_kib()
        results["rss_kib_end"] = server.rss_kib()
    finally:
        server.stop()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


# ---- lambda ------------------------------------------------------------------------------------


class Credentials:
    """What the function events carry, minted through the dev server on the same tables."""

    def __init__(self, server, runs, invocations):
        t = server.transport()
        self.client, self.email = signed_up_client(t)
        self.access = self.client.tokens()["access_token"]
        pairs = mint(server, self.client, runs + 1 + runs + invocations, "tokens")
        refresh = [p["refresh_token"] for p in pairs]
        self.refresh_cold = refresh[:runs]
        self.refresh_chain = refresh[runs]
        self.revoke_pool = refresh[runs + 1 : runs + 1 + runs + invocations]
        self.codes = mint(server, self.client, invocations // 2, "code")


def first_event(fn, creds, i, samples):
    """The first invocation of a cold start: a sample event from events/, made real."""
    c = creds.client
    sample = samples[fn]
    form = {"content-type": "application/x-www-form-urlencoded"}
    if fn == "discovery":
        return "discovery-jwks.json", lr.make_event(sample, "GET", "/.well-known/jwks.json", {}), 200
    if fn == "register":
        ip = f"198.51.100.{i + 1}"
        return "register.json (source address varied)", lr.make_event(sample, "POST", "/api/oauth/register", {"content-type": "application/json"}, base64_body(sample), ip), 201
    if fn == "authorize":
        cookie = "; ".join(f"{k}={v}" for k, v in c.browser.cookies.items())
        return "authorize-get-unknown-client.json with a registered client, a live session and remembered consent", lr.make_event(sample, "GET", c.authorize_target(), {"cookie": cookie}), 302
    if fn == "token":
        return "token-refresh.json with a live refresh token", lr.make_event(sample, "POST", "/api/oauth/token", form, c.refresh_body(creds.refresh_cold[i])), 200
    if fn == "revoke":
        return "revoke.json with a live refresh token", lr.make_event(sample, "POST", "/api/oauth/revoke", form, c.revoke_body(creds.revoke_pool.pop())), 200
    if fn == "mcp":
        return "mcp-post-initialize.json with a bearer token, as tools/list", lr.make_event(sample, "POST", "/mcp", of.mcp_headers(creds.access), of.TOOLS_LIST), 200
    raise ValueError(fn)


def base64_body(sample):
    body = sample.get("body") or ""
    return base64.b64decode(body) if sample.get("isBase64Encoded") else body.encode()


SAMPLES = {
    "discovery": "discovery-jwks",
    "register": "register",
    "authorize": "authorize-get-unknown-client",
    "token": "token-refresh",
    "revoke": "revoke",
    "mcp": "mcp-post-initialize",
}


class Timed:
    """A transport that records each request's wall time (ms) in `times`."""

    def __init__(self, inner, times):
        self.inner, self.times = inner, times

    def send(self, *args):
        start = time.perf_counter()
        reply = self.inner.send(*args)
        self.times.append((time.perf_counter() - start) * 1e3)
        return reply


def stream(fn, proc, creds, samples, invocations):
    """About `invocations` requests of the function's common kinds, one at a time as Lambda sends
    them. Returns (what was sent, each invocation's wall time in ms, harness included)."""
    times = []
    t = Timed(lr.LambdaTransport(proc, samples[fn]), times)
    form = {"content-type": "application/x-www-form-urlencoded"}
    c = creds.client
    if fn == "discovery":
        paths = [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/jwks.json",
        ]
        for i in range(invocations):
            of.expect("discovery", t.send("GET", paths[i % 4], {}), 200)
        return "authorization server metadata, OpenID configuration, protected resource metadata and JWKS in turn", times
    if fn == "register":
        for i in range(invocations):
            ip = f"198.18.{i // 250}.{i % 250 + 1}"
            of.Client(Timed(lr.LambdaTransport(proc, samples[fn], source_ip=ip), times)).register()
        return "registrations of public clients, each from its own source address", times
    if fn == "authorize":
        # Enough argon2id computations for the resident set to level off (see argon2-cost).
        users = max(2, invocations // 10)
        for i in range(users):
            fresh = of.Client(t, c.client_id, None, c.verifier)
            email = f"lambda-{i}-{time.time_ns()}@example.com"
            fresh.sign_up(email)
            fresh.sign_in(email)
        lc = clone(c, t)
        while len(times) < invocations:
            lc.code()
        return (
            f"{users} sign-ups (4 invocations each, one argon2id hash) and {users} password sign-ins "
            "(2 invocations, one argon2id verify), then authorizations with remembered consent"
        ), times
    if fn == "token":
        lc = clone(c, t)
        for code in creds.codes:
            lc.redeem(code)
        refresh = creds.refresh_chain
        while len(times) < invocations:
            reply = t.send("POST", "/api/oauth/token", form, lc.refresh_body(refresh))
            refresh = of.expect("refresh", reply, 200).json()["refresh_token"]
        return f"{len(creds.codes)} authorization_code grants, then a chain of refresh_token rotations", times
    if fn == "revoke":
        for _ in range(invocations):
            of.expect("revoke", t.send("POST", "/api/oauth/revoke", form, c.revoke_body(creds.revoke_pool.pop())), 200)
        return "revocations of live refresh tokens (each revokes its grant)", times
    if fn == "mcp":
        for i in range(invocations):
            body = of.TOOLS_LIST if i % 2 == 0 else of.WHOAMI
            of.expect("mcp", t.send("POST", "/mcp", of.mcp_headers(creds.access), body), 200)
        return "tools/list and tools/call whoami in turn", times
    raise ValueError(fn)


def create_kms_key(endpoint):
    """A symmetric KMS key on the emulator (moto), by the KMS JSON API; its key id."""
    body = json.dumps({"KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT"}).encode()
    req = urllib.request.Request(
        endpoint,
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.CreateKey",
            # moto routes by the credential scope's service and checks no signature.
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["KeyMetadata"]["KeyId"]


def run_lambda(args):
    prefix = f"benchfn{os.getpid()}-"
    outbox = tempfile.mkdtemp(prefix="bench-outbox-")
    os.environ["OUTBOX_DIR"] = outbox
    # As in AWS: signing keys wrapped under a KMS key (required in Lambda), here on the emulator;
    # the dev server that mints the credentials wraps with the same key, so the functions unwrap.
    kms_key = create_kms_key(args.dynamodb_endpoint)
    dynamo_env = dict(
        AWS_TEST_ENV,
        STORE="dynamodb",
        DYNAMODB_ENDPOINT=args.dynamodb_endpoint,
        TABLE_PREFIX=prefix,
        OUTBOX_DIR=outbox,
        SIGNING_KEY_KMS_ID=kms_key,
        KMS_ENDPOINT=args.dynamodb_endpoint,
    )
    server = DevServer(args.devserver, dynamo_env, os.path.join(args.logs, "devserver-lambda-credentials.log"))
    samples = {fn: lr.load_event(ROOT, name) for fn, name in SAMPLES.items()}
    results = {"runs": args.runs, "invocations": args.invocations, "functions": {}}
    try:
        log("minting credentials through the dev server (DynamoDB emulator)")
        creds = Credentials(server, args.runs, args.invocations)
        # MAIL=none: no first event sends mail, and a Lambda refuses the outbox.
        lambda_extra = {k: v for k, v in dynamo_env.items() if k != "OUTBOX_DIR"}
        env_extra = dict(lambda_extra, PUBLIC_URL=f"http://localhost:{server.port}", MAIL="none", **BENCH_SERVER_ENV)
        lr.HOST["name"] = f"localhost:{server.port}"
        for fn in args.functions:
            binary = os.path.join(args.bin_dir, fn)
            logf = open(os.path.join(args.logs, f"lambda-{fn}.log"), "ab")
            env = lr.lambda_env(fn, env_extra)
            ready, first, rss_cold = [], [], []
            what = ""
            for i in range(args.runs):
                what, event, status = first_event(fn, creds, i, samples)
                p = lr.FunctionProcess(binary, env, logf).start()
                try:
                    rid = p.api.enqueue(event)
                    ready.append(p.ready_ms())
                    reply = lr.reply_of(p.api.result(rid, alive=p.alive))
                    first.append(p.first_response_ms())
                    if reply.status != status:
                        raise of.FlowError(f"{fn}: first invocation answered {reply.status}, expected {status}: {reply.text()[:200]}")
                    rss_cold.append(p.peak_rss_kib())
                finally:
                    p.stop()
            p = lr.FunctionProcess(binary, env, logf).start()
            try:
                p.ready_ms()
                kinds, times = stream(fn, p, creds, samples, args.invocations)
                peak, rss = p.peak_rss_kib(), p.rss_kib()
            finally:
                p.stop()
                logf.close()
            results["functions"][fn] = {
                "binary_bytes": os.path.getsize(binary),
                "first_event": what,
                "ready_ms": summary(ready),
                "first_response_ms": summary(first),
                "ready_ms_each": [round(x, 2) for x in ready],
                "first_response_ms_each": [round(x, 2) for x in first],
                "peak_rss_kib_after_first": summary(rss_cold),
                "stream": {"what": kinds, "invocations": len(times), "invoke_ms": summary(times), "peak_rss_kib": peak, "rss_kib_end": rss},
            }
            log(
                f"{fn}: ready median {statistics.median(ready):.1f} ms, first response median {statistics.median(first):.1f} ms, "
                f"peak RSS {peak / 1024:.1f} MiB after {len(times)} invocations"
            )
        results["variants"] = []
        for variant in args.variant:
            fn, _, assignment = variant.partition(":")
            key, _, value = assignment.partition("=")
            binary = os.path.join(args.bin_dir, fn)
            with open(os.path.join(args.logs, f"lambda-{fn}-variant.log"), "ab") as logf:
                p = lr.FunctionProcess(binary, dict(lr.lambda_env(fn, env_extra), **{key: value}), logf).start()
                try:
                    p.ready_ms()
                    kinds, times = stream(fn, p, creds, samples, args.invocations)
                    peak, rss = p.peak_rss_kib(), p.rss_kib()
                finally:
                    p.stop()
            results["variants"].append(
                {"function": fn, "env": assignment, "stream": {"what": kinds, "invocations": len(times), "invoke_ms": summary(times), "peak_rss_kib": peak, "rss_kib_end": rss}}
            )
            log(f"{fn} with {assignment}: peak RSS {peak / 1024:.1f} MiB after {len(times)} invocations")
    finally:
        server.stop()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    lo = sub.add_parser("load")
    lo.add_argument("--devserver", required=True)
    lo.add_argument("--backend", choices=["embedded", "dynamodb"], required=True)
    lo.add_argument("--dynamodb-endpoint")
    lo.add_argument("--duration", type=int, default=10)
    lo.add_argument("--code-pool", type=int, default=3000)
    lo.add_argument("--logs", default=tempfile.gettempdir())
    lo.add_argument("--out", required=True)
    la = sub.add_parser("lambda")
    la.add_argument("--bin-dir", required=True)
    la.add_argument("--devserver", required=True)
    la.add_argument("--dynamodb-endpoint", required=True)
    la.add_argument("--functions", default=",".join(FUNCTIONS))
    la.add_argument("--runs", type=int, default=10)
    la.add_argument("--invocations", type=int, default=200)
    la.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="FN:KEY=VALUE",
        help="one more memory stream of FN (authorize, mcp, discovery or register) with KEY=VALUE in its environment",
    )
    la.add_argument("--logs", default=tempfile.gettempdir())
    la.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "load":
        if args.backend == "dynamodb" and not args.dynamodb_endpoint:
            p.error("--backend dynamodb needs --dynamodb-endpoint")
        run_load(args)
    else:
        args.functions = [f for f in args.functions.split(",") if f]
        for v in args.variant:
            if v.partition(":")[0] not in ("authorize", "mcp", "discovery", "register") or "=" not in v:
                p.error(f"--variant {v!r}: FN:KEY=VALUE with FN one of authorize, mcp, discovery, register")
        run_lambda(args)


if __name__ == "__main__":
    main()
