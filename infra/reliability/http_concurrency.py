#!/usr/bin/env python3
"""Races at the HTTP level against the dev server binary, on both backends (the embedded store
and DynamoDB on moto): 20 requests held at a barrier on 20 open connections, then released at
once.

  http_concurrency.py --devserver BIN [--dynamodb-endpoint URL] [--rounds N]

Rules (docs/RELIABILITY.md, "Races"):
  - 20 simultaneous redemptions of one code: exactly one 200, every other answer 400
    invalid_grant;
  - 20 simultaneous refreshes of one token: one rotation; every answer is 200 with the same
    successor or 400 invalid_grant, and that successor still refreshes (the grant was not
    revoked as a replay);
  - 20 simultaneous revocations of one refresh token: all 200, and the grant is gone (its
    refresh token and the successor of a grace retry are both refused).

Each rule runs --rounds times (default 3) per backend. Exit status 0 when every rule held, 1
otherwise; one line per backend and rule. The dynamodb backend runs only with
--dynamodb-endpoint (infra/scripts/test.sh passes the moto it started).

Not for: load or latency (bench/measure.py) or faults (the fault-injection tests).
Standard library only; bench/oauthflow.py drives the OAuth flows.
"""

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import measure  # noqa: E402
import oauthflow as of  # noqa: E402

PARALLEL = 20
FORM = {"content-type": "application/x-www-form-urlencoded"}


class RuleBroken(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise RuleBroken(msg)


def storm(port, method, target, headers, body, n=PARALLEL):
    """`n` copies of one request, each on its own connection, all sent once every connection is
    open and every thread is at the barrier. Returns [(status, parsed JSON or None)]."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(n)]
    for c in conns:
        c.connect()
    barrier = threading.Barrier(n)
    out = [None] * n

    def one(i):
        barrier.wait()
        try:
            conns[i].request(method, target, body=body, headers=headers)
            res = conns[i].getresponse()
            raw = res.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            out[i] = (res.status, parsed)
        except (OSError, http.client.HTTPException) as e:
            out[i] = (0, {"transport_error": repr(e)})
        finally:
            conns[i].close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        check(not t.is_alive(), "a request did not finish within 60 s")
    return out


def statuses(answers):
    counts = {}
    for status, _ in answers:
        counts[status] = counts.get(status, 0) + 1
    return counts


def error_of(answer):
    body = answer[1]
    return body.get("error") if isinstance(body, dict) else None


def refresh_once(server, client, rt):
    return server.transport().send("POST", "/api/oauth/token", FORM, client.refresh_body(rt))


def rule_code(server, client):
    code = client.code()
    answers = storm(server.port, "POST", "/api/oauth/token", FORM, client.code_body(code))
    ok = [a for a in answers if a[0] == 200]
    check(len(ok) == 1, f"expected exactly one 200, got {statuses(answers)}")
    others = [a for a in answers if a[0] != 200]
    check(
        all(a[0] == 400 and error_of(a) == "invalid_grant" for a in others),
        f"every other answer must be 400 invalid_grant; got {[(a[0], error_of(a)) for a in others]}",
    )
    check("refresh_token" in ok[0][1], "the one 200 carries a refresh token")


def rule_refresh(server, client):
    rt = client.tokens()["refresh_token"]
    answers = storm(server.port, "POST", "/api/oauth/token", FORM, client.refresh_body(rt))
    successors = {a[1]["refresh_token"] for a in answers if a[0] == 200}
    bad = [(a[0], error_of(a)) for a in answers if a[0] != 200 and not (a[0] == 400 and error_of(a) == "invalid_grant")]
    check(not bad, f"answers other than 200 or 400 invalid_grant: {bad}")
    check(len(successors) == 1, f"expected one successor across the 200s, got {len(successors)} ({statuses(answers)})")
    successor = successors.pop()
    check(successor != rt, "the successor is a new token")
    reply = refresh_once(server, client, successor)
    check(reply.status == 200, f"the successor must still refresh (grant not revoked): {reply.status} {reply.text()[:200]}")


def rule_revoke(server, client):
    tokens = client.tokens()
    rt = tokens["refresh_token"]
    answers = storm(server.port, "POST", "/api/oauth/revoke", FORM, client.revoke_body(rt))
    check(all(a[0] == 200 for a in answers), f"every revocation must answer 200, got {statuses(answers)}")
    reply = refresh_once(server, client, rt)
    check(
        reply.status == 400 and reply.json().get("error") == "invalid_grant",
        f"the revoked grant's refresh token must be refused with invalid_grant: {reply.status} {reply.text()[:200]}",
    )


RULES = [
    ("20 redemptions of one code -> exactly one 200", rule_code),
    ("20 refreshes of one token -> one successor or invalid_grant, grant kept", rule_refresh),
    ("20 revocations of one token -> all 200, grant gone", rule_revoke),
]


def run_backend(binary, backend, endpoint, rounds, tmp):
    env = {"OUTBOX_DIR": os.path.join(tmp, f"outbox-{backend}"), "LOG_FORMAT": "text"}
    os.environ["OUTBOX_DIR"] = env["OUTBOX_DIR"]
    if backend == "embedded":
        env["STORE_PATH"] = os.path.join(tmp, "store.redb")
    else:
        env.update(measure.AWS_TEST_ENV)
        env.update({"STORE": "dynamodb", "DYNAMODB_ENDPOINT": endpoint, "TABLE_PREFIX": f"races{os.getpid()}-"})
    log = os.path.join(tmp, f"devserver-{backend}.log")
    server = measure.DevServer(binary, env, log)
    failed = 0
    try:
        client, _ = measure.signed_up_client(server.transport())
        for name, rule in RULES:
            t0 = time.monotonic()
            try:
                for _ in range(rounds):
                    rule(server, client)
                print(f"ok     {backend:8} {name} ({rounds} rounds, {time.monotonic() - t0:.1f} s)", flush=True)
            except (RuleBroken, of.FlowError) as e:
                failed += 1
                print(f"FAILED {backend:8} {name}: {e}", flush=True)
    finally:
        server.stop()
    if failed:
        with open(log, encoding="utf-8", errors="replace") as f:
            print(f"--- last lines of the {backend} dev server log ---\n" + "".join(f.readlines()[-40:]))
    return failed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devserver", required=True)
    p.add_argument("--dynamodb-endpoint")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    backends = ["embedded"] + (["dynamodb"] if args.dynamodb_endpoint else [])
    failed = 0
    with tempfile.TemporaryDirectory(prefix="races-") as tmp:
        for backend in backends:
            failed += run_backend(args.devserver, backend, args.dynamodb_endpoint, args.rounds, tmp)
    total = len(RULES) * len(backends)
    print(f"http races: {total - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
