//! An OAuth client and a browser, in process: registers clients, walks the real authorize pages
//! (sign-up, login, consent) with a cookie jar, and calls the token endpoint.
#![allow(dead_code)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use mcp_oauth::app::AppState;
use mcp_oauth::store::Store;
use mcp_oauth::tokens::pkce;
use serde_json::{Value, json};

use super::{Reply, post_form, post_json, send};

pub const ISSUER: &str = "http://localhost:3000";
pub const RESOURCE: &str = "http://localhost:3000/mcp";
pub const PASSWORD: &str = "correct horse battery staple";

/// Every function's routes merged, as the dev server serves them.
pub fn app(state: AppState) -> Router {
    let merged = Router::new()
        .merge(mcp_oauth::endpoints::discovery::routes(state.clone()))
        .merge(mcp_oauth::endpoints::register::routes(state.clone()))
        .merge(mcp_oauth::endpoints::authorize::routes(state.clone()))
        .merge(mcp_oauth::endpoints::token::routes(state.clone()))
        .merge(mcp_oauth::endpoints::revoke::routes(state.clone()))
        .merge(mcp_oauth::endpoints::mcp::routes(state));
    mcp_oauth::http::with_fallbacks(merged)
}

/// The value of every `<input name=… value=…>` in a page, by name.
pub fn inputs(html: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for tag in html.split("<input").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let attr = |name: &str| {
            let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            let len = tag[start..].find('"')?;
            Some(unescape(&tag[start..start + len]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.insert(n, v);
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A browser: a cookie jar in front of the router.
#[derive(Clone)]
pub struct Browser {
    pub router: Router,
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new(router: Router) -> Self {
        Browser {
            router,
            cookies: HashMap::new(),
        }
    }

    fn with_cookies(&self, mut req: Request<Body>) -> Request<Body> {
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut().insert("cookie", header.parse().unwrap());
        }
        req
    }

    pub async fn send(&mut self, req: Request<Body>) -> Reply {
        let reply = send(&self.router, self.with_cookies(req)).await;
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        reply
    }

    pub async fn get(&mut self, uri: &str) -> Reply {
        self.send(super::get(uri)).await
    }

    /// Submits the page's form: its hidden inputs plus `fields`.
    pub async fn submit(&mut self, page: &Reply, action: &str, fields: &[(&str, &str)]) -> Reply {
        let mut values = inputs(&page.text());
        values.retain(|k, _| !matches!(k.as_str(), "email" | "password"));
        for (k, v) in fields {
            values.insert((*k).to_owned(), (*v).to_owned());
        }
        values.insert("action".into(), action.into());
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.send(post_form("/oauth/authorize", &pairs)).await
    }
}

/// A registered client and the PKCE pair of its current request.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
    pub verifier: String,
}

impl TestClient {
    pub fn challenge(&self) -> String {
        pkce::challenge(&self.verifier)
    }
}

/// The query of a redirect's `Location`, as a map.
pub fn redirect_params(reply: &Reply) -> HashMap<String, String> {
    let location = reply
        .header("location")
        .unwrap_or_else(|| panic!("no redirect ({}): {}", reply.status, reply.text()));
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

#[derive(Clone)]
pub struct Harness {
    pub state: AppState,
    pub router: Router,
    pub store: Store,
}

impl Harness {
    pub fn new(store: Store) -> Self {
        Self::with_config(store, &[])
    }

    /// A harness serving every function on one prepared state (its keys wrapped under KMS, say).
    pub fn with_state(state: AppState) -> Self {
        Harness {
            router: app(state.clone()),
            store: state.store.clone(),
            state,
        }
    }

    pub fn with_config(store: Store, vars: &[(&str, &str)]) -> Self {
        let state = super::new_state(super::config_with(vars), store.clone());
        Harness {
            router: app(state.clone()),
            state,
            store,
        }
    }

    /// Like [`Harness::with_config`], but every function gets its own recording store handle,
    /// as separate Lambdas would: returns what each function (by template logical id) touched.
    pub fn recording(store: Store, vars: &[(&str, &str)]) -> (Self, Vec<(&'static str, mcp_oauth::store::Recorder)>) {
        // One outbox for every function, so the harness reads what the authorize function mailed.
        let outbox = super::fresh_outbox();
        let mut vars: Vec<(&str, &str)> = vars.to_vec();
        vars.push(("OUTBOX_DIR", &outbox));
        let vars = &vars[..];
        type Routes = fn(AppState) -> Router;
        let functions: [(&'static str, Routes); 6] = [
            ("DiscoveryFunction", mcp_oauth::endpoints::discovery::routes),
            ("RegisterFunction", mcp_oauth::endpoints::register::routes),
            ("AuthorizeFunction", mcp_oauth::endpoints::authorize::routes),
            ("TokenFunction", mcp_oauth::endpoints::token::routes),
            ("RevokeFunction", mcp_oauth::endpoints::revoke::routes),
            ("McpFunction", mcp_oauth::endpoints::mcp::routes),
        ];
        let mut merged = Router::new();
        let mut recorders = Vec::new();
        for (name, routes) in functions {
            let (handle, recorder) = store.recording();
            merged = merged.merge(routes(super::new_state(super::config_with(vars), handle)));
            recorders.push((name, recorder));
        }
        let state = super::new_state(super::config_with(vars), store.clone());
        (
            Harness {
                state,
                router: mcp_oauth::http::with_fallbacks(merged),
                store,
            },
            recorders,
        )
    }

    pub fn browser(&self) -> Browser {
        Browser::new(self.router.clone())
    }

    /// This harness's outbox folder.
    pub fn outbox(&self) -> std::path::PathBuf {
        match &self.state.config.mail {
            mcp_oauth::config::MailConfig::Outbox { dir, .. } => dir.clone(),
            other => panic!("this harness mails through {other:?}, not an outbox"),
        }
    }

    /// Every mail sent to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        super::mails_to(&self.outbox(), to)
    }

    /// The newest mail sent to `to`.
    pub fn last_mail_to(&self, to: &str) -> String {
        self.mails_to(to)
            .pop()
            .unwrap_or_else(|| panic!("no mail to {to} in {}", self.outbox().display()))
    }

    /// On the "check your email" page: types the code mailed to `email` and submits it.
    pub async fn enter_code(&self, browser: &mut Browser, page: &Reply, email: &str) -> Reply {
        assert!(
            page.text().contains("Check your email"),
            "expected the verification page ({}): {}",
            page.status,
            page.text()
        );
        let code = super::code_in(&self.last_mail_to(email));
        browser.submit(page, "verify_email", &[("code", &code)]).await
    }

    pub async fn call(&self, req: Request<Body>) -> Reply {
        send(&self.router, req).await
    }

    pub async fn register(&self, metadata: Value) -> Reply {
        self.call(post_json("/api/oauth/register", &metadata)).await
    }

    async fn client_from(&self, metadata: Value) -> TestClient {
        let reply = self.register(metadata).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let body = reply.json();
        TestClient {
            id: body["client_id"].as_str().unwrap().to_owned(),
            secret: body["client_secret"].as_str().map(str::to_owned),
            redirect_uri: body["redirect_uris"][0].as_str().unwrap().to_owned(),
            verifier: mcp_oauth::crypto::random_token(),
        }
    }

    pub async fn public_client(&self) -> TestClient {
        self.client_from(json!({"client_name": "Test Client", "redirect_uris": ["http://127.0.0.1:8765/callback"]}))
            .await
    }

    /// A public client that returns to an https URL: its redirect proves who it is, so remembered
    /// consent may skip the page for it (RFC 8252 §8.6), unlike [`Self::public_client`]'s loopback.
    pub async fn public_web_client(&self) -> TestClient {
        self.client_from(json!({"client_name": "Web Client", "redirect_uris": ["https://web.example/callback"]}))
            .await
    }

    pub async fn confidential_client(&self) -> TestClient {
        self.client_from(json!({
            "client_name": "Server App",
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .await
    }

    /// The authorize URL for `client` with the usual parameters, `extra` overriding or adding.
    pub fn authorize_url(client: &TestClient, extra: &[(&str, &str)]) -> String {
        let challenge = client.challenge();
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", &client.redirect_uri),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
            ("resource", RESOURCE),
            ("scope", "mcp:tools:read mcp:tools:execute profile:read"),
        ];
        for (k, v) in extra {
            params.retain(|(n, _)| n != k);
            if !v.is_empty() {
                params.push((k, v));
            }
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/oauth/authorize?{query}")
    }

    /// Signs a new user up through the pages and approves consent; returns the redirect's params.
    pub async fn sign_up_and_approve(
        &self,
        browser: &mut Browser,
        client: &TestClient,
        email: &str,
        extra: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let login = browser.get(&Self::authorize_url(client, extra)).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        let signup = browser.submit(&login, "show_signup", &[]).await;
        let verify = browser
            .submit(&signup, "signup", &[("email", email), ("password", PASSWORD)])
            .await;
        let consent = self.enter_code(browser, &verify, email).await;
        assert_eq!(
            consent.status,
            StatusCode::OK,
            "expected the consent page: {}",
            consent.text()
        );
        let done = browser.submit(&consent, "approve", &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        redirect_params(&done)
    }

    /// A new user's code for `client`.
    pub async fn code_for(&self, client: &TestClient) -> String {
        let mut browser = self.browser();
        let email = format!("{}@example.com", mcp_oauth::crypto::random_id().to_lowercase());
        let params = self.sign_up_and_approve(&mut browser, client, &email, &[]).await;
        params.get("code").cloned().expect("a code")
    }

    /// Form fields authenticating `client` in the body (public: client_id only).
    fn auth_fields(client: &TestClient) -> Vec<(&'static str, String)> {
        let mut f = vec![("client_id", client.id.clone())];
        if let Some(s) = &client.secret {
            f.push(("client_secret", s.clone()));
        }
        f
    }

    pub async fn token(&self, client: &TestClient, fields: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, String)> = Self::auth_fields(client);
        all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call(post_form("/api/oauth/token", &pairs)).await
    }

    pub async fn redeem(&self, client: &TestClient, code: &str) -> Reply {
        self.token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &client.verifier),
                ("resource", RESOURCE),
            ],
        )
        .await
    }

    pub async fn refresh(&self, client: &TestClient, refresh_token: &str) -> Reply {
        self.token(
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        )
        .await
    }

    /// A client, a user, and their first token response.
    pub async fn tokens(&self) -> (TestClient, Value) {
        let client = self.public_client().await;
        let code = self.code_for(&client).await;
        let reply = self.redeem(&client, &code).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        (client, reply.json())
    }
}
