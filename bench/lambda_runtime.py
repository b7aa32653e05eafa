"""A minimal AWS Lambda Runtime API on loopback, enough to host a function's release binary the
way Lambda does: the binary polls `GET /2018-06-01/runtime/invocation/next`, gets one API Gateway
(HTTP API, payload v2) event, and posts its answer to `.../invocation/{id}/response`.

It gives the benchmark two instruments:
- the time from process start to the first `GET .../next` (init done, ready for an event) and to
  the first response posted (init plus the first invocation);
- a transport (`LambdaTransport`) that turns requests into events and answers back into replies,
  so oauthflow.py can drive a function binary like a server.

Not for: emulating Lambda itself (no freeze/thaw, no memory limit, no timeouts, no extensions).
Standard library only.
"""

import base64
import copy
import http.server
import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid

from oauthflow import Reply

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """The Runtime API for one function process: its own loopback port, so that nothing a killed
    process left behind (a poll in flight) can reach the next one."""

    def __init__(self):
        self.lock = threading.Condition()
        self.closed = False
        self.events = queue.Queue()
        self.results = {}
        self.first_next_ns = None
        self.first_response_ns = None
        self.init_error = None
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                now = time.perf_counter_ns()
                if self.path != f"{PREFIX}/invocation/next":
                    return self.reply(404)
                with api.lock:
                    if api.first_next_ns is None:
                        api.first_next_ns = now
                        api.lock.notify_all()
                # Long poll, as Lambda does, until an event comes or the process is gone.
                while True:
                    try:
                        rid, event = api.events.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if api.closed:
                            self.close_connection = True
                            return
                body = json.dumps(event).encode()
                deadline = int(time.time() * 1000) + 10_000
                self.reply(
                    200,
                    body,
                    [
                        ("content-type", "application/json"),
                        ("lambda-runtime-aws-request-id", rid),
                        ("lambda-runtime-deadline-ms", str(deadline)),
                        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                        ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                    ],
                )

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                payload = self.rfile.read(length)
                now = time.perf_counter_ns()
                parts = self.path[len(PREFIX) :].strip("/").split("/")
                if parts == ["init", "error"]:
                    with api.lock:
                        api.init_error = payload.decode("utf-8", "replace")
                        api.lock.notify_all()
                    return self.reply(202, b"{}")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api.lock:
                        if api.first_response_ns is None:
                            api.first_response_ns = now
                        api.results[parts[1]] = (parts[2], payload)
                        api.lock.notify_all()
                    return self.reply(202, b"{}")
                self.reply(404)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A function process killed after its last invocation drops its connection.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()

    def enqueue(self, event):
        rid = str(uuid.uuid4())
        self.events.put((rid, event))
        return rid

    def wait(self, predicate, timeout, alive=lambda: True):
        end = time.monotonic() + timeout
        with self.lock:
            while not predicate():
                if self.init_error is not None:
                    raise RuntimeError(f"init error: {self.init_error[:300]}")
                left = end - time.monotonic()
                if left <= 0 or not alive():
                    raise TimeoutError("the function did not answer")
                self.lock.wait(min(left, 0.2))

    def result(self, rid, timeout=30, alive=lambda: True):
        self.wait(lambda: rid in self.results, timeout, alive)
        with self.lock:
            kind, payload = self.results.pop(rid)
        if kind != "response":
            raise RuntimeError(f"invocation error: {payload[:300]!r}")
        return json.loads(payload)

    def invoke(self, event, timeout=30, alive=lambda: True):
        return self.result(self.enqueue(event), timeout, alive)


def load_event(root, name):
    with open(os.path.join(root, "events", f"{name}.json")) as f:
        return json.load(f)


# The host the events say they were sent to (the API's domain). It must agree with PUBLIC_URL, as
# it does behind API Gateway: the MCP endpoint refuses other hosts (DNS rebinding).
HOST = {"name": None}


def make_event(sample, method, target, headers, body=b"", source_ip=None):
    """An API Gateway HTTP API (v2) event for this request, shaped like `sample`."""
    event = copy.deepcopy(sample)
    path, _, query = target.partition("?")
    hdrs = {k.lower(): v for k, v in (sample.get("headers") or {}).items() if k.lower() not in ("content-type", "cookie")}
    hdrs.update({k.lower(): v for k, v in headers.items()})
    if HOST["name"]:
        hdrs["host"] = HOST["name"]
    cookie = hdrs.pop("cookie", None)
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["routeKey"] = f"{method} {path}"
    event["headers"] = hdrs
    if cookie:
        event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
    else:
        event.pop("cookies", None)
    if body:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event.pop("body", None)
        event["isBase64Encoded"] = False
    event.pop("queryStringParameters", None)
    ctx = event.setdefault("requestContext", {})
    if HOST["name"]:
        ctx["domainName"] = HOST["name"].split(":")[0]
    ctx["routeKey"] = event["routeKey"]
    ctx["requestId"] = uuid.uuid4().hex[:16]
    ctx["timeEpoch"] = int(time.time() * 1000)
    http_ctx = ctx.setdefault("http", {})
    http_ctx["method"] = method
    http_ctx["path"] = path
    if source_ip:
        http_ctx["sourceIp"] = source_ip
    return event


def reply_of(response):
    """A Reply from a function's API Gateway v2 response."""
    headers = list((response.get("headers") or {}).items())
    for k, vs in (response.get("multiValueHeaders") or {}).items():
        headers.extend((k, v) for v in vs)
    headers.extend(("set-cookie", c) for c in response.get("cookies") or [])
    body = response.get("body") or ""
    body = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return Reply(int(response.get("statusCode", 0)), headers, body)


class LambdaTransport:
    """Requests delivered as events to a running function process."""

    def __init__(self, process, sample, source_ip=None):
        self.process, self.sample, self.source_ip = process, sample, source_ip

    def send(self, method, target, headers, body=b""):
        event = make_event(self.sample, method, target, headers, body, self.source_ip)
        return reply_of(self.process.api.invoke(event, alive=self.process.alive))


def lambda_env(name, extra):
    """The environment Lambda gives a function (the parts lambda_http reads), plus `extra`.
    FunctionProcess adds AWS_LAMBDA_RUNTIME_API."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    env.update(extra)
    return env


def vm_kib(pid, field):
    """VmHWM (peak resident set) or VmRSS of a process, in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class FunctionProcess:
    """One execution environment: the binary started against its own Runtime API."""

    def __init__(self, binary, env, log):
        self.binary, self.env, self.log = binary, env, log
        self.api = None
        self.proc = None
        self.started_ns = None

    def start(self):
        self.api = RuntimeApi()
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=self.api.address)
        self.started_ns = time.perf_counter_ns()
        self.proc = subprocess.Popen([self.binary], env=env, stdout=self.log, stderr=self.log)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ready_ms(self, timeout=30):
        """Milliseconds from process start to its first GET .../invocation/next."""
        self.api.wait(lambda: self.api.first_next_ns is not None, timeout, self.alive)
        return (self.api.first_next_ns - self.started_ns) / 1e6

    def first_response_ms(self, timeout=30):
        self.api.wait(lambda: self.api.first_response_ns is not None, timeout, self.alive)
        return (self.api.first_response_ns - self.started_ns) / 1e6

    def peak_rss_kib(self):
        return vm_kib(self.proc.pid, "VmHWM")

    def rss_kib(self):
        return vm_kib(self.proc.pid, "VmRSS")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        if self.api:
            self.api.close()
