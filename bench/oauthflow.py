"""An OAuth client and browser for the benchmark, over any transport: HTTP to the dev server, or
API Gateway events to a function binary (see lambda_runtime.py). Registers a client, signs a
user up through the real pages, approves consent, and mints codes, token pairs and pools of them.

Not for: measuring anything (the callers time what they need) or testing behaviour.

Standard library only. Cookies are carried by hand: the pages set `__Host-` cookies with
`Secure`, which Python's cookie jar drops on http://localhost.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import urllib.parse

# An https redirect: remembered consent skips the page only for clients whose redirect proves who
# they are (a loopback public client sees the consent page every time; see docs/SECURITY.md). The
# bench never follows the redirect, it reads the code from Location.
REDIRECT_URI = "https://client.example/callback"
SCOPE = "mcp:tools:read mcp:tools:execute profile:read"
PASSWORD = "correct horse battery staple"
MCP_VERSION = "2025-11-25"



def mailed_code(email, outbox=None):
    """The newest verification code the dev server mailed to `email` (its OUTBOX_DIR)."""
    outbox = outbox or os.environ["OUTBOX_DIR"]
    for name in sorted(os.listdir(outbox), reverse=True):
        with open(os.path.join(outbox, name), encoding="utf-8") as f:
            text = f.read()
        if text.startswith(f"To: {email}\n"):
            m = re.search(r"Your verification code is: (\d{6})", text)
            if m:
                return m.group(1)
    raise FlowError(f"no verification code for {email} in {outbox}")

class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = [(k.lower(), v) for k, v in headers]
        self.body = body

    def header(self, name):
        return next((v for k, v in self.headers if k == name), None)

    def all(self, name):
        return [v for k, v in self.headers if k == name]

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def redirect_params(self):
        location = self.header("location") or ""
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


class FlowError(Exception):
    pass


def expect(step, reply, *ok):
    if reply.status not in ok:
        raise FlowError(f"{step}: expected {ok}, got {reply.status}: {reply.text()[:300]}")
    return reply


class HttpTransport:
    """Requests to a server on loopback over one keep-alive connection; redirects not followed."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def send(self, method, target, headers, body=b""):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, target, body=body or None, headers=headers)
                res = self.conn.getresponse()
                return Reply(res.status, res.getheaders(), res.read())
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise


def challenge(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def inputs(html):
    """The value of every <input name=… value=…> in a page, by name."""
    out = {}
    for tag in re.findall(r"<input([^>]*)>", html):
        name = re.search(r' name="([^"]*)"', tag)
        value = re.search(r' value="([^"]*)"', tag)
        if name and value:
            v = value.group(1)
            for a, b in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&#39;", "'"), ("&amp;", "&")):
                v = v.replace(a, b)
            out[name.group(1)] = v
    return out


def form_body(fields):
    return urllib.parse.urlencode(fields).encode()


class Browser:
    """A cookie jar in front of a transport."""

    def __init__(self, transport):
        self.t = transport
        self.cookies = {}

    def send(self, method, target, headers=None, body=b""):
        headers = dict(headers or {})
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.t.send(method, target, headers, body)
        for cookie in reply.all("set-cookie"):
            pair, _, attrs = cookie.partition(";")
            k, _, v = pair.partition("=")
            if "Max-Age=0" in attrs or not v:
                self.cookies.pop(k.strip(), None)
            else:
                self.cookies[k.strip()] = v
        return reply

    def submit(self, page, action, fields=()):
        values = {k: v for k, v in inputs(page.text()).items() if k not in ("email", "password")}
        values.update(dict(fields))
        values["action"] = action
        return self.send(
            "POST",
            "/oauth/authorize",
            {"content-type": "application/x-www-form-urlencoded"},
            form_body(values),
        )


class Client:
    """A registered public client and one signed-in user with remembered consent."""

    def __init__(self, transport, client_id=None, cookies=None, verifier=None):
        self.t = transport
        self.client_id = client_id
        self.browser = Browser(transport)
        self.browser.cookies.update(cookies or {})
        self.verifier = verifier or secrets.token_urlsafe(32)

    def register(self, name="Bench Client"):
        body = json.dumps({"client_name": name, "redirect_uris": [REDIRECT_URI]}).encode()
        reply = self.t.send("POST", "/api/oauth/register", {"content-type": "application/json"}, body)
        self.client_id = expect("register", reply, 201).json()["client_id"]
        return self.client_id

    def authorize_target(self):
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge(self.verifier),
                "code_challenge_method": "S256",
                "state": "bench",
                "scope": SCOPE,
            }
        )
        return f"/oauth/authorize?{query}"

    def sign_up(self, email):
        """Signs a new user up through the pages and approves consent; returns the first code."""
        page = expect("sign-in page", self.browser.send("GET", self.authorize_target()), 200)
        page = expect("sign-up page", self.browser.submit(page, "show_signup"), 200)
        page = expect("sign-up", self.browser.submit(page, "signup", [("email", email), ("password", PASSWORD)]), 200)
        page = expect("verification", self.browser.submit(page, "verify_email", [("code", mailed_code(email))]), 200)
        done = expect("consent", self.browser.submit(page, "approve"), 302, 303)
        return done.redirect_params()["code"]

    def sign_in(self, email):
        """Signs an existing user in with the password (fresh browser); returns the code."""
        self.browser.cookies.clear()
        page = expect("sign-in page", self.browser.send("GET", self.authorize_target()), 200)
        done = expect("sign-in", self.browser.submit(page, "login", [("email", email), ("password", PASSWORD)]), 302, 303)
        return done.redirect_params()["code"]

    def code(self):
        """A code from an authorization with the live session and remembered consent."""
        reply = expect("remembered consent", self.browser.send("GET", self.authorize_target()), 302, 303)
        return reply.redirect_params()["code"]

    def code_body(self, code):
        return form_body(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": self.verifier,
                "client_id": self.client_id,
            }
        )

    def refresh_body(self, refresh_token):
        return form_body({"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.client_id})

    def revoke_body(self, token):
        return form_body({"token": token, "token_type_hint": "refresh_token", "client_id": self.client_id})

    def redeem(self, code):
        reply = self.t.send(
            "POST", "/api/oauth/token", {"content-type": "application/x-www-form-urlencoded"}, self.code_body(code)
        )
        return expect("code grant", reply, 200).json()

    def tokens(self):
        """A new grant: its access and refresh tokens."""
        return self.redeem(self.code())


def mcp_body(method, params=None, rid=1):
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}).encode()


def mcp_headers(token):
    return {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MCP_VERSION,
        "authorization": f"Bearer {token}",
    }


TOOLS_LIST = mcp_body("tools/list")
WHOAMI = mcp_body("tools/call", {"name": "whoami", "arguments": {}})
