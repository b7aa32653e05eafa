"""An MCP client built on the official Python SDK (`mcp`, pinned in infra/requirements.txt),
driven by tests/mcp-python-sdk.test.mjs: the SDK's own OAuth client (discovery, dynamic
registration, PKCE, state and `iss` checks, code exchange) against the dev server, then the
protocol handshake and a few tool calls.

It talks to the test over stdin/stdout, one JSON object a line:
  out {"event": "authorize", "url": ...}        the SDK sends the person to this URL
  in  {"code": ..., "state": ..., "iss": ...}    what the browser brought back to the callback
  out {"event": "done", ...}                     what the client saw (see main())
Every HTTP exchange the SDK made is reported (method, path, status, grant type, JSON-RPC
method, the MCP-Protocol-Version header): never a token, code or verifier.

Not for: the person's part (the test drives the browser) or any server logic.

Usage: sdk_client.py MCP_URL REDIRECT_URI NOTE_TEXT
"""

import json
import sys
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def main(mcp_url: str, redirect_uri: str, note_text: str) -> None:
    exchanges: list[dict[str, object]] = []

    async def on_request(request: httpx2.Request) -> None:
        grant_type = rpc_method = None
        content_type = request.headers.get("content-type", "")
        if request.method == "POST" and "x-www-form-urlencoded" in content_type:
            grant_type = parse_qs(request.content.decode()).get("grant_type", [None])[0]
        elif request.method == "POST" and "json" in content_type:
            body = json.loads(request.content)
            rpc_method = body.get("method") if isinstance(body, dict) else None
        exchanges.append(
            {
                "method": request.method,
                "path": urlsplit(str(request.url)).path,
                "status": None,
                "grant_type": grant_type,
                "rpc_method": rpc_method,
                "bearer": request.headers.get("authorization", "").lower().startswith("bearer "),
                "protocol_version": request.headers.get("mcp-protocol-version"),
            }
        )

    async def on_response(response: httpx2.Response) -> None:
        # Responses arrive in request order: each request is answered before the next is sent.
        for entry in reversed(exchanges):
            if entry["status"] is None:
                entry["status"] = response.status_code
                break

    async def redirect_handler(url: str) -> None:
        emit("authorize", url=url)

    async def callback_handler() -> AuthorizationCodeResult:
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if not line:
            raise RuntimeError("the test closed stdin before sending the callback parameters")
        params = json.loads(line)
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    storage = MemoryStorage()
    oauth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="Python SDK e2e",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    http = httpx2.AsyncClient(
        auth=oauth,
        timeout=httpx2.Timeout(30.0),
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    async with http, Client(streamable_http_client(mcp_url, http_client=http)) as client:
        tools = await client.list_tools()
        whoami = await client.call_tool("whoami", {})
        added = await client.call_tool("notes_add", {"text": note_text})
        listed = await client.call_tool("notes_list", {})
        emit(
            "done",
            protocol_version=client.protocol_version,
            tools=sorted(t.name for t in tools.tools),
            whoami=whoami.structured_content,
            added=added.structured_content,
            notes=listed.structured_content,
            token_scope=storage.tokens.scope if storage.tokens else None,
            registered_auth_method=storage.client_info.token_endpoint_auth_method if storage.client_info else None,
            exchanges=exchanges,
        )


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    anyio.run(main, *sys.argv[1:])
