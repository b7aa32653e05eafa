"""Races at the HTTP level against the dev server, on both backends (embedded redb, and DynamoDB
on moto), 20 simultaneous requests each:

- 20 redemptions of one code: exactly one 200, the rest invalid_grant;
- 20 refreshes of one token: one rotation; every answer is the same successor or invalid_grant,
  and the grant is never revoked (the successor refreshes afterwards);
- 20 revocations of one token: all 200, and the grant is gone.

Usage: python3 infra/scripts/http_concurrency.py --devserver BIN [--dynamodb-endpoint URL]
Without --dynamodb-endpoint only the embedded backend runs. Prints one line per check and
closes with "N passed, N failed". Standard library only (it reuses bench/oauthflow.py and the
dev server runner of bench/measure.py). Loopback only.
"""

import argparse
import os
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import measure  # noqa: E402
import oauthflow as of  # noqa: E402

N = 20
RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)


def at_once(server, fn):
    """Runs fn(transport) in N threads released together; returns their Replies."""
    barrier = threading.Barrier(N)
    out = [None] * N

    def run(i):
        t = server.transport()
        # Connect before the barrier, so the requests leave together.
        t.send("GET", "/.well-known/oauth-authorization-server", {})
        barrier.wait()
        out[i] = fn(t)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return out


FORM = {"content-type": "application/x-www-form-urlencoded"}


def error_of(reply):
    try:
        return reply.json().get("error")
    except ValueError:
        return None


def races(server, backend):
    client, _ = measure.signed_up_client(server.transport())

    # 1. One code, 20 redemptions.
    code = client.code()
    replies = at_once(server, lambda t: t.send("POST", "/api/oauth/token", FORM, client.code_body(code)))
    ok = [r for r in replies if r and r.status == 200]
    others = [r for r in replies if r and r.status != 200]
    check(
        f"{backend}: {N} simultaneous redemptions of one code give exactly one 200",
        len(ok) == 1 and all(r.status == 400 and error_of(r) == "invalid_grant" for r in others),
        f"{len(ok)} x 200, others {sorted((r.status, error_of(r)) for r in others)}",
    )

    # 2. One refresh token, 20 refreshes.
    rt = client.tokens()["refresh_token"]
    replies = at_once(server, lambda t: t.send("POST", "/api/oauth/token", FORM, client.refresh_body(rt)))
    successors = {r.json()["refresh_token"] for r in replies if r and r.status == 200}
    refused = [r for r in replies if r and r.status != 200]
    check(
        f"{backend}: {N} simultaneous refreshes of one token rotate once (one successor, the rest invalid_grant)",
        len(successors) == 1
        and all(r.status == 400 and error_of(r) == "invalid_grant" for r in refused)
        and all(r is not None for r in replies),
        f"{len(successors)} successors, refused {sorted((r.status, error_of(r)) for r in refused)}",
    )
    if successors:
        (succ,) = list(successors)[:1]
        again = server.transport().send("POST", "/api/oauth/token", FORM, client.refresh_body(succ))
        check(f"{backend}: the grant survives the race (its successor refreshes)", again.status == 200, again.text())

    # 3. One grant, 20 revocations.
    rt = client.tokens()["refresh_token"]
    replies = at_once(server, lambda t: t.send("POST", "/api/oauth/revoke", FORM, client.revoke_body(rt)))
    check(
        f"{backend}: {N} simultaneous revocations all answer 200",
        all(r is not None and r.status == 200 for r in replies),
        str(sorted(r.status if r else None for r in replies)),
    )
    after = server.transport().send("POST", "/api/oauth/token", FORM, client.refresh_body(rt))
    check(
        f"{backend}: the revoked grant is gone",
        after.status == 400 and error_of(after) == "invalid_grant",
        f"{after.status} {after.text()}",
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devserver", required=True)
    p.add_argument("--dynamodb-endpoint")
    args = p.parse_args()
    backends = ["embedded"] + (["dynamodb"] if args.dynamodb_endpoint else [])
    with tempfile.TemporaryDirectory(prefix="mcp-concurrency-") as tmp:
        for backend in backends:
            outbox = os.path.join(tmp, f"outbox-{backend}")
            os.environ["OUTBOX_DIR"] = outbox
            env = {"OUTBOX_DIR": outbox}
            if backend == "embedded":
                env["STORE_PATH"] = os.path.join(tmp, "store.redb")
            else:
                env.update(measure.AWS_TEST_ENV)
                env.update(
                    STORE="dynamodb", DYNAMODB_ENDPOINT=args.dynamodb_endpoint, TABLE_PREFIX=f"race{os.getpid()}-"
                )
            server = measure.DevServer(args.devserver, env, os.path.join(tmp, f"devserver-{backend}.log"))
            try:
                races(server, backend)
            except Exception as e:  # a flow step failed: count it, show the server's log tail
                check(f"{backend}: the races ran", False, repr(e))
                with open(os.path.join(tmp, f"devserver-{backend}.log"), "rb") as f:
                    sys.stderr.write(f.read()[-3000:].decode("utf-8", "replace"))
            finally:
                server.stop()
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not RESULTS else 0)


if __name__ == "__main__":
    main()
