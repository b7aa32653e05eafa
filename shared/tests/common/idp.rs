//! A small OpenID Connect provider on a loopback port, for testing upstream sign-in and every way
//! it can fail: it issues codes the test asks for, checks PKCE at its token endpoint, and signs ID
//! tokens with its own ES256 key, saying whatever the test wants it to say.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use mcp_oauth::clock::Clock;
use mcp_oauth::keys::KeyRing;
use mcp_oauth::store::Store;
use mcp_oauth::store::embedded::EmbeddedStore;
use serde_json::{Value, json};

/// What the provider says about the user signing in, and how it misbehaves.
#[derive(Clone, Debug)]
pub struct Answer {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Overrides the ID token's `aud` (the right one is the client id).
    pub aud: Option<String>,
    /// Overrides the ID token's `nonce`.
    pub nonce: Option<String>,
    /// Leaves the email out of the ID token, so only userinfo has it.
    pub email_only_in_userinfo: bool,
    /// More ID token claims (`hd`, `xms_edov`, …); a null removes the claim (`email_verified`).
    pub claims: serde_json::Map<String, Value>,
}

impl Answer {
    pub fn verified(sub: &str, email: &str) -> Self {
        Answer {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: true,
            aud: None,
            nonce: None,
            email_only_in_userinfo: false,
            claims: serde_json::Map::new(),
        }
    }
}

struct Issued {
    challenge: String,
    nonce: String,
    answer: Answer,
}

#[derive(Clone)]
pub struct Idp {
    pub issuer: String,
    pub client_id: String,
    /// When set, the token endpoint refuses a request without this client secret (HTTP Basic,
    /// RFC 6749 §2.3.1, or `client_secret` in the form).
    pub client_secret: Arc<Mutex<Option<String>>>,
    keys: KeyRing,
    codes: Arc<Mutex<HashMap<String, Issued>>>,
    tokens: Arc<Mutex<HashMap<String, Answer>>>,
    _dir: Arc<tempfile::TempDir>,
}

impl Idp {
    pub async fn start(client_id: &str) -> Idp {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(EmbeddedStore::open(&dir.path().join("idp.redb"), Clock::system()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let idp = Idp {
            issuer,
            client_id: client_id.into(),
            client_secret: Arc::default(),
            keys: KeyRing::new(store, 86_400, 3600),
            codes: Arc::default(),
            tokens: Arc::default(),
            _dir: Arc::new(dir),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    /// The user signs in at the provider: returns the code the provider sends back.
    pub fn sign_in(&self, authorize_url: &str, answer: Answer) -> String {
        let url = url::Url::parse(authorize_url).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], self.client_id);
        assert_eq!(q["code_challenge_method"], "S256");
        let code = mcp_oauth::crypto::random_token();
        let issued = Issued {
            challenge: q["code_challenge"].clone(),
            nonce: q["nonce"].clone(),
            answer,
        };
        self.codes.lock().unwrap().insert(code.clone(), issued);
        code
    }
}

async fn discovery(State(idp): State<Idp>) -> Json<Value> {
    Json(json!({
        "issuer": idp.issuer,
        "authorization_endpoint": format!("{}/authorize", idp.issuer),
        "token_endpoint": format!("{}/token", idp.issuer),
        "jwks_uri": format!("{}/jwks", idp.issuer),
        "userinfo_endpoint": format!("{}/userinfo", idp.issuer),
    }))
}

async fn jwks(State(idp): State<Idp>) -> Json<Value> {
    Json(idp.keys.jwks().await.unwrap())
}

/// Whether the request carries the client secret the provider expects (if it expects one).
fn authenticated(idp: &Idp, headers: &http::HeaderMap, form: &HashMap<String, String>) -> bool {
    use base64::Engine;
    let Some(secret) = idp.client_secret.lock().unwrap().clone() else {
        return true;
    };
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    basic.as_deref() == Some(format!("{}:{secret}", idp.client_id).as_str())
        || form.get("client_secret") == Some(&secret)
}

async fn token(
    State(idp): State<Idp>,
    headers: http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (http::StatusCode, Json<Value>) {
    if !authenticated(&idp, &headers, &form) {
        return (http::StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"})));
    }
    let bad = || (http::StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"})));
    let Some(issued) = form.get("code").and_then(|c| idp.codes.lock().unwrap().remove(c)) else {
        return bad();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if mcp_oauth::tokens::pkce::challenge(&verifier) != issued.challenge {
        return bad();
    }
    let a = issued.answer;
    let now = Clock::system().now();
    let mut claims = json!({
        "iss": idp.issuer,
        "sub": a.sub,
        "aud": a.aud.clone().unwrap_or(idp.client_id.clone()),
        "iat": now,
        "exp": now + 300,
        "nonce": a.nonce.clone().unwrap_or(issued.nonce),
    });
    if !a.email_only_in_userinfo
        && let Some(email) = &a.email
    {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(a.email_verified);
    }
    for (name, value) in &a.claims {
        match value {
            Value::Null => claims.as_object_mut().unwrap().remove(name),
            v => claims.as_object_mut().unwrap().insert(name.clone(), v.clone()),
        };
    }
    let signer = idp.keys.signer().await.unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(signer.kid.clone());
    let id_token = jsonwebtoken::encode(&header, &claims, &signer.key).unwrap();
    let access = mcp_oauth::crypto::random_token();
    idp.tokens.lock().unwrap().insert(access.clone(), a);
    (
        http::StatusCode::OK,
        Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token})),
    )
}

async fn userinfo(State(idp): State<Idp>, headers: http::HeaderMap) -> (http::StatusCode, Json<Value>) {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| idp.tokens.lock().unwrap().get(t).cloned()) {
        Some(a) => (
            http::StatusCode::OK,
            Json(json!({"sub": a.sub, "email": a.email, "email_verified": a.email_verified})),
        ),
        None => (http::StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_token"}))),
    }
}
