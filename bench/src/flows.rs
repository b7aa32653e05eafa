//! The flows a user pays for, walked through every function in process, each request's store
//! calls logged; and the store-call budgets (docs/ARCHITECTURE.md) that some of them must meet.
//!
//! Not for: proving behaviour (the test suite does); a flow that answers unexpectedly stops the
//! run with a [`FlowError`] so that no figure is taken from a broken flow.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use mcp_oauth::config::Config;
use mcp_oauth::store::Backend;
use mcp_oauth::tokens::pkce;
use serde_json::{Value, json};

use crate::counting::Call;
use crate::lambdas::{Browser, Deployment, Instance, Reply, get, post_form};

/// An https redirect: remembered consent skips the page only for clients whose redirect proves
/// their identity (RFC 8252 §8.6), and the remembered-consent flow is what is measured.
pub const REDIRECT_URI: &str = "https://client.example/callback";
pub const SCOPE: &str = "mcp:tools:read mcp:tools:execute profile:read";
pub const PASSWORD: &str = "correct horse battery staple";
/// The protocol revision the MCP requests are sent under (JSON body, no `_meta`).
pub const MCP_VERSION: &str = "2025-11-25";

/// What the architecture allows a flow, in store calls (docs/ARCHITECTURE.md).
pub mod budget {
    /// An authenticated MCP request on a warm function: authentication and dispatch.
    pub const WARM_MCP: usize = 0;
    /// What `whoami` itself reads on top of the request: the user's profile (id and email are
    /// not in the access token).
    pub const WHOAMI_OWN_READS: usize = 1;
    /// Each grant at the token endpoint.
    pub const GRANT: usize = 3;
    /// A `client_credentials` grant: the client and the assertion's `jti` (no grant is written).
    pub const MACHINE_GRANT: usize = 3;
    /// An introspection request: the caller (and its assertion's `jti`, with `private_key_jwt`),
    /// then the token's grant.
    pub const INTROSPECTION: usize = 3;
    /// An authorize request with a live session and remembered consent.
    pub const REMEMBERED_AUTHORIZE: usize = 3;
    /// The first MCP request for a grant after the revocation window: one read of the grant
    /// (`tokens::liveness`), at most once per grant per window per instance.
    pub const REVOCATION_LOOK: usize = 1;
}

/// Whether the function instance had served a request before this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The instance's first request: its caches (signing keys) are empty.
    Cold,
    Warm,
}

/// One measured request.
#[derive(Debug, Clone)]
pub struct Figure {
    pub flow: &'static str,
    pub function: &'static str,
    pub when: When,
    pub status: u16,
    pub calls: Vec<Call>,
    pub budget: Option<usize>,
    /// How the budget is made up, when it is not one of the documented figures as is.
    pub budget_note: &'static str,
}

impl Figure {
    pub fn within_budget(&self) -> bool {
        self.budget.is_none_or(|b| self.calls.len() <= b)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "flow": self.flow,
            "function": self.function,
            "when": match self.when { When::Cold => "cold", When::Warm => "warm" },
            "status": self.status,
            "calls": self.calls.len(),
            "ops": self.calls.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "budget": self.budget,
            "budget_note": self.budget_note,
            "within_budget": self.within_budget(),
        })
    }
}

/// A flow answered something other than what it must: no figure can be taken from it.
#[derive(Debug, thiserror::Error)]
#[error("{step}: expected {expected}, got {got}: {body}")]
pub struct FlowError {
    step: &'static str,
    expected: String,
    got: StatusCode,
    body: String,
}

fn expect(step: &'static str, reply: &Reply, ok: &[StatusCode]) -> Result<(), FlowError> {
    if ok.contains(&reply.status) {
        return Ok(());
    }
    let mut body = reply.text();
    body.truncate(300);
    Err(FlowError {
        step,
        expected: format!("{ok:?}"),
        got: reply.status,
        body,
    })
}

/// The verification code in the newest mail to `to` in the outbox, if there is one.
fn mailed_code(outbox: &Option<std::path::PathBuf>, to: &str) -> Option<String> {
    let mut files: Vec<_> = std::fs::read_dir(outbox.as_ref()?)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .rev()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find(|text| text.lines().next() == Some(&format!("To: {to}")))?
        .lines()
        .find_map(|l| l.strip_prefix("Your verification code is: "))
        .map(|c| c.trim().to_owned())
}

fn field(step: &'static str, reply: &Reply, value: Option<String>) -> Result<String, FlowError> {
    value.ok_or_else(|| FlowError {
        step,
        expected: "a value in the reply".into(),
        got: reply.status,
        body: reply.text().chars().take(300).collect(),
    })
}

/// The MCP request clients of 2025-06-18 to 2025-11-25 send.
pub fn mcp_request(token: &str, method: &str, params: Value) -> Request<Body> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MCP_VERSION)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .expect("a valid request")
}

/// The walk through every flow, recording each measured request.
struct Walk {
    deployment: Deployment,
    served: std::collections::HashMap<&'static str, usize>,
    figures: Vec<Figure>,
}

impl Walk {
    fn instance(&self, function: &'static str) -> &Instance {
        self.deployment.function(function)
    }

    /// Sends `req` to `function` without recording it.
    async fn send(&mut self, function: &'static str, req: Request<Body>) -> Reply {
        *self.served.entry(function).or_default() += 1;
        self.instance(function).send(req).await
    }

    /// Sends `req` to `function` and records its store calls under `flow`.
    async fn measure(
        &mut self,
        flow: &'static str,
        function: &'static str,
        budget: Option<usize>,
        req: Request<Body>,
    ) -> Reply {
        let served = self.served.entry(function).or_default();
        let when = if *served == 0 { When::Cold } else { When::Warm };
        *served += 1;
        let (reply, calls) = self.instance(function).measure(req).await;
        self.figures.push(Figure {
            flow,
            function,
            when,
            status: reply.status.as_u16(),
            calls,
            budget,
            budget_note: "",
        });
        reply
    }

    /// Explains the budget of the last figure.
    fn note_budget(&mut self, note: &'static str) {
        if let Some(f) = self.figures.last_mut() {
            f.budget_note = note;
        }
    }

    /// A new execution environment for `function`: its next request is cold.
    fn restart(&mut self, function: &'static str) {
        self.deployment.restart(function);
        self.served.insert(function, 0);
    }
}

fn authorize_url(client_id: &str, challenge: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "bench"),
            ("scope", SCOPE),
        ])
        .finish();
    format!("/oauth/authorize?{query}")
}

/// Walks register → sign-up → consent → remembered-consent authorize → code grant → refresh
/// grant → MCP requests → revoke → password login → discovery, with every function as its own
/// instance over `backend`, and returns one figure per measured request.
pub async fn walk(config: Config, backend: Arc<dyn Backend>) -> Result<Vec<Figure>, FlowError> {
    use StatusCode as S;
    let outbox = match &config.mail {
        mcp_oauth::config::MailConfig::Outbox { dir, .. } => Some(dir.clone()),
        _ => None,
    };
    let mut w = Walk {
        deployment: Deployment::new(config, backend),
        served: Default::default(),
        figures: Vec::new(),
    };
    let email = format!("bench-{}@example.com", mcp_oauth::crypto::random_id().to_lowercase());
    let verifier = mcp_oauth::crypto::random_token();
    let challenge = pkce::challenge(&verifier);

    // Registration.
    let metadata = json!({"client_name": "Bench Client", "redirect_uris": [REDIRECT_URI]});
    let req = Request::post("/api/oauth/register")
        .header("content-type", "application/json")
        .body(Body::from(metadata.to_string()))
        .expect("a valid request");
    let reply = w
        .measure("register (public client)", "RegisterFunction", None, req)
        .await;
    expect("register", &reply, &[S::CREATED])?;
    let client_id = field(
        "register",
        &reply,
        reply.json()["client_id"].as_str().map(str::to_owned),
    )?;
    let url = authorize_url(&client_id, &challenge);

    // First authorization: sign-in page, sign-up, consent.
    let mut browser = Browser::default();
    let page = w
        .measure(
            "authorize, no session (sign-in page)",
            "AuthorizeFunction",
            None,
            browser.dress(get(&url)),
        )
        .await;
    expect("sign-in page", &page, &[S::OK])?;
    browser.keep(&page);
    let signup_page = w
        .send("AuthorizeFunction", browser.form(&page, "show_signup", &[]))
        .await;
    expect("sign-up page", &signup_page, &[S::OK])?;
    browser.keep(&signup_page);
    let req = browser.form(&signup_page, "signup", &[("email", &email), ("password", PASSWORD)]);
    let check_mail = w
        .measure(
            "sign-up (argon2id hash, new user, code mailed)",
            "AuthorizeFunction",
            None,
            req,
        )
        .await;
    expect("sign-up", &check_mail, &[S::OK])?;
    browser.keep(&check_mail);
    let code = field("sign-up", &check_mail, mailed_code(&outbox, &email))?;
    let req = browser.form(&check_mail, "verify_email", &[("code", &code)]);
    let consent = w
        .measure(
            "email verified (code consumed, session created)",
            "AuthorizeFunction",
            None,
            req,
        )
        .await;
    expect("email verification", &consent, &[S::OK])?;
    browser.keep(&consent);
    let req = browser.form(&consent, "approve", &[]);
    let approved = w
        .measure(
            "consent approved (consent stored, code issued)",
            "AuthorizeFunction",
            None,
            req,
        )
        .await;
    expect("approve", &approved, &[S::SEE_OTHER, S::FOUND])?;
    let first_code = field("approve", &approved, approved.redirect_params().remove("code"))?;

    // Authorization with a live session and remembered consent: straight back with a code.
    let reply = w
        .measure(
            "authorize, live session + remembered consent",
            "AuthorizeFunction",
            Some(budget::REMEMBERED_AUTHORIZE),
            browser.dress(get(&url)),
        )
        .await;
    expect("remembered consent", &reply, &[S::FOUND, S::SEE_OTHER])?;
    let second_code = field("remembered consent", &reply, reply.redirect_params().remove("code"))?;

    // The token endpoint: the first grant of a cold instance loads (or creates) the signing key.
    let redeem = |code: &str| {
        post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
                ("client_id", &client_id),
            ],
        )
    };
    let reply = w
        .measure("token: authorization_code", "TokenFunction", None, redeem(&first_code))
        .await;
    expect("first code grant", &reply, &[S::OK])?;
    let reply = w
        .measure(
            "token: authorization_code",
            "TokenFunction",
            Some(budget::GRANT),
            redeem(&second_code),
        )
        .await;
    expect("code grant", &reply, &[S::OK])?;
    let tokens = reply.json();
    let access = field("code grant", &reply, tokens["access_token"].as_str().map(str::to_owned))?;
    let refresh = field(
        "code grant",
        &reply,
        tokens["refresh_token"].as_str().map(str::to_owned),
    )?;

    let refresh_req = |token: &str| {
        post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", &client_id),
            ],
        )
    };
    let reply = w
        .measure(
            "token: refresh_token (rotation)",
            "TokenFunction",
            Some(budget::GRANT),
            refresh_req(&refresh),
        )
        .await;
    expect("refresh grant", &reply, &[S::OK])?;
    let successor = field(
        "refresh grant",
        &reply,
        reply.json()["refresh_token"].as_str().map(str::to_owned),
    )?;
    let reply = w
        .measure(
            "token: refresh_token retried within the grace window",
            "TokenFunction",
            None,
            refresh_req(&refresh),
        )
        .await;
    expect("refresh retry", &reply, &[S::OK])?;

    // A machine client (private_key_jwt) takes a token by client_credentials: the client, the
    // assertion's jti, and a signature with the cached key.
    let machine_key = loop {
        if let Ok(k) = p256::SecretKey::from_slice(&mcp_oauth::crypto::random_bytes::<32>()) {
            break k;
        }
    };
    let mut jwk: Value = serde_json::from_str(&machine_key.public_key().to_jwk_string()).unwrap_or_default();
    jwk["kid"] = "bench".into();
    let metadata = json!({
        "client_name": "Bench Machine",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [jwk]},
        "scope": "mcp:tools:read mcp:tools:execute",
    });
    let req = Request::post("/api/oauth/register")
        .header("content-type", "application/json")
        .body(Body::from(metadata.to_string()))
        .expect("a valid request");
    let reply = w.send("RegisterFunction", req).await;
    expect("machine registration", &reply, &[S::CREATED])?;
    let machine_id = field(
        "machine registration",
        &reply,
        reply.json()["client_id"].as_str().map(str::to_owned),
    )?;
    let machine_pem = {
        use p256::pkcs8::EncodePrivateKey;
        machine_key
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    // This deployment's issuer, as its access tokens name it.
    let issuer = access
        .split('.')
        .nth(1)
        .and_then(mcp_oauth::crypto::b64_decode)
        .and_then(|claims| serde_json::from_slice::<Value>(&claims).ok())
        .and_then(|claims| claims["iss"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let assertion = |now: i64| {
        let claims = json!({
            "iss": machine_id, "sub": machine_id, "aud": issuer,
            "exp": now + 60, "iat": now, "jti": mcp_oauth::crypto::random_id(),
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("bench".into());
        jsonwebtoken::EncodingKey::from_ec_pem(machine_pem.as_bytes())
            .and_then(|key| jsonwebtoken::encode(&header, &claims, &key))
            .unwrap_or_default()
    };
    let machine_req = |assertion: String| {
        post_form(
            "/api/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", mcp_oauth::clients::assertion::ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
        )
    };
    let now = w.deployment.clock().now();
    let reply = w
        .measure(
            "token: client_credentials (private_key_jwt)",
            "TokenFunction",
            Some(budget::MACHINE_GRANT),
            machine_req(assertion(now)),
        )
        .await;
    expect("client_credentials grant", &reply, &[S::OK])?;
    w.note_budget("the client, the assertion's jti (create-if-absent); no grant is written");

    // Introspection by a resource server the operator listed (a new token instance with the
    // list in its configuration): its client, then the access token's grant.
    let metadata = json!({
        "client_name": "Bench Resource Server",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "mcp:tools:read",
    });
    let req = Request::post("/api/oauth/register")
        .header("content-type", "application/json")
        .body(Body::from(metadata.to_string()))
        .expect("a valid request");
    let reply = w.send("RegisterFunction", req).await;
    expect("resource server registration", &reply, &[S::CREATED])?;
    let rs = reply.json();
    let rs_id = field(
        "resource server registration",
        &reply,
        rs["client_id"].as_str().map(str::to_owned),
    )?;
    let rs_secret = field(
        "resource server registration",
        &reply,
        rs["client_secret"].as_str().map(str::to_owned),
    )?;
    w.deployment.config.introspection_clients = vec![rs_id.clone()];
    w.restart("TokenFunction");
    let introspect = |token: &str| {
        post_form(
            "/api/oauth/introspect",
            &[("token", token), ("client_id", &rs_id), ("client_secret", &rs_secret)],
        )
    };
    let reply = w.send("TokenFunction", introspect(&access)).await;
    expect("introspection (cold)", &reply, &[S::OK])?;
    let reply = w
        .measure(
            "introspect: live access token",
            "TokenFunction",
            Some(budget::INTROSPECTION),
            introspect(&access),
        )
        .await;
    expect("introspection", &reply, &[S::OK])?;
    w.note_budget("the caller, the token's grant (its liveness)");

    // MCP: the first request of an instance reads the signing keys once; then none.
    let list = || mcp_request(&access, "tools/list", json!({}));
    let whoami = || mcp_request(&access, "tools/call", json!({"name": "whoami", "arguments": {}}));
    let reply = w.measure("MCP tools/list", "McpFunction", None, list()).await;
    expect("tools/list (cold)", &reply, &[S::OK])?;
    let reply = w
        .measure("MCP tools/list", "McpFunction", Some(budget::WARM_MCP), list())
        .await;
    expect("tools/list", &reply, &[S::OK])?;
    let reply = w
        .measure(
            "MCP tools/call whoami",
            "McpFunction",
            Some(budget::WARM_MCP + budget::WHOAMI_OWN_READS),
            whoami(),
        )
        .await;
    w.note_budget("0 for the request, plus the tool's own read of the user's profile");
    expect("whoami", &reply, &[S::OK])?;
    if reply.json().get("error").is_some() {
        return Err(FlowError {
            step: "whoami",
            expected: "a result".into(),
            got: reply.status,
            body: reply.text(),
        });
    }
    // The revocation check (tokens::liveness): past the window, one read of the grant.
    let window = w.deployment.config.lifetimes.revocation_window;
    w.deployment.clock().advance(window + 1);
    let reply = w
        .measure(
            "MCP tools/list, first request after the revocation window",
            "McpFunction",
            Some(budget::REVOCATION_LOOK),
            list(),
        )
        .await;
    expect("tools/list after the window", &reply, &[S::OK])?;
    w.restart("McpFunction");
    let reply = w.measure("MCP tools/call whoami", "McpFunction", None, whoami()).await;
    expect("whoami (cold)", &reply, &[S::OK])?;

    // Revocation of the live refresh token (and with it the grant).
    let req = post_form(
        "/api/oauth/revoke",
        &[
            ("token", &successor),
            ("token_type_hint", "refresh_token"),
            ("client_id", &client_id),
        ],
    );
    let reply = w.measure("revoke (refresh token)", "RevokeFunction", None, req).await;
    expect("revoke", &reply, &[S::OK])?;
    // Its access token at /mcp: trusted from memory within the window, refused after it.
    let reply = w
        .measure(
            "MCP tools/list after revocation, inside the window",
            "McpFunction",
            Some(budget::WARM_MCP),
            list(),
        )
        .await;
    expect("tools/list inside the window", &reply, &[S::OK])?;
    w.deployment.clock().advance(window + 1);
    let reply = w
        .measure(
            "MCP tools/list after revocation, after the window (401)",
            "McpFunction",
            Some(budget::REVOCATION_LOOK),
            list(),
        )
        .await;
    expect("tools/list after revocation", &reply, &[S::UNAUTHORIZED])?;

    // A returning user signs in with a password (no session): argon2id verify.
    let mut returning = Browser::default();
    let page = w.send("AuthorizeFunction", returning.dress(get(&url))).await;
    expect("sign-in page (returning)", &page, &[S::OK])?;
    returning.keep(&page);
    let req = returning.form(&page, "login", &[("email", &email), ("password", PASSWORD)]);
    let reply = w
        .measure(
            "sign-in with password (argon2id verify), consent remembered",
            "AuthorizeFunction",
            None,
            req,
        )
        .await;
    expect("password login", &reply, &[S::SEE_OTHER, S::FOUND])?;

    // Discovery: metadata is computed; the JWKS reads the published keys.
    let reply = w
        .measure(
            "discovery: authorization server metadata",
            "DiscoveryFunction",
            None,
            get("/.well-known/oauth-authorization-server"),
        )
        .await;
    expect("AS metadata", &reply, &[S::OK])?;
    w.restart("DiscoveryFunction");
    for _ in 0..2 {
        let reply = w
            .measure(
                "discovery: JWKS",
                "DiscoveryFunction",
                None,
                get("/.well-known/jwks.json"),
            )
            .await;
        expect("JWKS", &reply, &[S::OK])?;
    }

    Ok(w.figures)
}
