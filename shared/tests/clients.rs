//! What other endpoints ask of a registered client: does a `redirect_uri` match (exactly, or on
//! any port for loopback), which credentials did a request present, and do they authenticate it
//! (RFC 6749 §2.3, §5.2).

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, StatusCode, header};
use mcp_oauth::clients::{self, AuthMethod, Client, ClientCredentials};
use mcp_oauth::crypto::{random_id, random_token, sha256_b64};
use mcp_oauth::http::ApiError;
use mcp_oauth::store::Store;
use serde_json::Map;

fn client(redirect_uris: &[&str]) -> Client {
    Client {
        client_id: random_id(),
        client_name: None,
        redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
        auth_method: AuthMethod::None,
        secret_hash: None,
        created_at: 0,
        metadata: Map::new(),
    }
}

// ---- redirect_uri_matches --------------------------------------------------------------------

#[test]
fn registered_redirect_uri_matches_exactly() {
    let c = client(&["https://app.example.com/cb?x=1", "com.example.app:/callback"]);
    assert!(c.redirect_uri_matches("https://app.example.com/cb?x=1"));
    assert!(c.redirect_uri_matches("com.example.app:/callback"));
}

#[test]
fn loopback_http_redirect_uri_matches_on_any_port() {
    let c = client(&[
        "http://127.0.0.1:8080/callback",
        "http://localhost/cb",
        "http://[::1]:1/cb?a=b",
    ]);
    assert!(c.redirect_uri_matches("http://127.0.0.1:53123/callback"));
    assert!(c.redirect_uri_matches("http://127.0.0.1/callback"));
    assert!(c.redirect_uri_matches("http://localhost:3000/cb"));
    assert!(c.redirect_uri_matches("http://[::1]:65535/cb?a=b"));
}

#[test]
fn loopback_redirect_uri_with_another_path_or_query_does_not_match() {
    let c = client(&["http://127.0.0.1:8080/callback?a=1"]);
    assert!(!c.redirect_uri_matches("http://127.0.0.1:9000/other?a=1"));
    assert!(!c.redirect_uri_matches("http://127.0.0.1:9000/callback?a=2"));
    assert!(!c.redirect_uri_matches("http://127.0.0.1:9000/callback"));
    assert!(!c.redirect_uri_matches("http://127.0.0.1:9000/callback?a=1#frag"));
    assert!(!c.redirect_uri_matches("http://127.0.0.1:9000/callback/?a=1"));
}

#[test]
fn loopback_redirect_uri_on_another_host_or_scheme_does_not_match() {
    let c = client(&["http://localhost:8080/cb"]);
    assert!(
        !c.redirect_uri_matches("http://127.0.0.1:8080/cb"),
        "localhost is not 127.0.0.1"
    );
    assert!(!c.redirect_uri_matches("https://localhost:8080/cb"));
    assert!(!c.redirect_uri_matches("http://localhost.evil.example:8080/cb"));
    assert!(!c.redirect_uri_matches("http://localhost:8080@evil.example/cb"));
    assert!(!c.redirect_uri_matches("http://localhost:80@evil.example:8080/cb"));
}

#[test]
fn https_redirect_uri_on_another_host_does_not_match() {
    let c = client(&["https://app.example.com/cb"]);
    assert!(!c.redirect_uri_matches("https://evil.example/cb"));
    assert!(!c.redirect_uri_matches("https://app.example.com.evil.example/cb"));
    assert!(!c.redirect_uri_matches("https://APP.example.com/cb"));
}

#[test]
fn https_redirect_uri_with_another_path_does_not_match() {
    let c = client(&["https://app.example.com/cb"]);
    assert!(!c.redirect_uri_matches("https://app.example.com/cb/"));
    assert!(!c.redirect_uri_matches("https://app.example.com/cb/../cb"));
    assert!(!c.redirect_uri_matches("https://app.example.com/cb?x=1"));
    assert!(!c.redirect_uri_matches("https://app.example.com/other"));
    assert!(!c.redirect_uri_matches("https://app.example.com/cb#frag"));
}

#[test]
fn port_only_difference_on_a_non_loopback_https_uri_does_not_match() {
    let c = client(&["https://app.example.com:8443/cb", "https://localhost:8443/cb"]);
    assert!(!c.redirect_uri_matches("https://app.example.com:9443/cb"));
    assert!(!c.redirect_uri_matches("https://app.example.com/cb"));
    assert!(
        !c.redirect_uri_matches("https://localhost:9443/cb"),
        "only http loopback is port-free"
    );
}

#[test]
fn display_name_falls_back_to_the_client_id() {
    let mut c = client(&["https://app.example.com/cb"]);
    assert_eq!(c.display_name(), c.client_id);
    c.client_name = Some("Claude".into());
    assert_eq!(c.display_name(), "Claude");
}

// ---- credentials -----------------------------------------------------------------------------

fn basic(id: &str, secret: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    h.insert(header::AUTHORIZATION, value.parse().unwrap());
    h
}

fn raw_authorization(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, value.parse().unwrap());
    h
}

fn assert_api_error(e: &ApiError, status: StatusCode, error: &str) {
    assert_eq!((e.status, e.error.as_str()), (status, error), "{e:?}");
}

#[test]
fn basic_credentials_are_form_urldecoded() {
    let creds = clients::credentials(&basic("my+client%3A1", "s%C3%A9cret%2B%25"), None, None).unwrap();
    assert_eq!(creds.client_id, "my client:1");
    assert_eq!(creds.secret.as_deref(), Some("sécret+%"));
    assert!(creds.via_basic);
}

#[test]
fn body_credentials_are_read_when_there_is_no_basic_header() {
    let creds = clients::credentials(&HeaderMap::new(), Some("abc"), Some("s3cret")).unwrap();
    assert_eq!(
        creds,
        ClientCredentials {
            client_id: "abc".into(),
            secret: Some("s3cret".into()),
            via_basic: false,
            assertion: None,
        }
    );
    let public = clients::credentials(&HeaderMap::new(), Some("abc"), None).unwrap();
    assert_eq!(public.secret, None);
}

#[test]
fn credentials_in_both_basic_and_the_body_are_rejected() {
    let e = clients::credentials(&basic("abc", "s3cret"), Some("abc"), Some("s3cret")).unwrap_err();
    assert_api_error(&e, StatusCode::BAD_REQUEST, "invalid_request");
}

#[test]
fn body_client_id_differing_from_basic_is_rejected() {
    let e = clients::credentials(&basic("abc", "s3cret"), Some("other"), None).unwrap_err();
    assert_api_error(&e, StatusCode::BAD_REQUEST, "invalid_request");
}

#[test]
fn body_client_id_equal_to_basic_is_accepted() {
    let creds = clients::credentials(&basic("abc", "s3cret"), Some("abc"), None).unwrap();
    assert_eq!(creds.client_id, "abc");
    assert!(creds.via_basic);
}

#[test]
fn malformed_basic_header_is_rejected() {
    for value in [
        "Basic !!!not-base64!!!",
        "Basic",
        "Basic ",
        &format!("Basic {}", STANDARD.encode("no-colon")),
    ] {
        let e = clients::credentials(&raw_authorization(value), Some("abc"), None).unwrap_err();
        assert_api_error(&e, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let e = clients::credentials(&basic("", "s3cret"), None, None).unwrap_err();
    assert_api_error(&e, StatusCode::BAD_REQUEST, "invalid_request");
}

#[test]
fn missing_client_id_is_invalid_client() {
    let e = clients::credentials(&HeaderMap::new(), None, Some("s3cret")).unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    let e = clients::credentials(&HeaderMap::new(), Some(""), None).unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[test]
fn an_empty_secret_counts_as_none() {
    assert_eq!(
        clients::credentials(&HeaderMap::new(), Some("abc"), Some(""))
            .unwrap()
            .secret,
        None
    );
    assert_eq!(
        clients::credentials(&basic("abc", ""), None, None).unwrap().secret,
        None
    );
}

#[test]
fn other_authorization_schemes_leave_the_body_in_charge() {
    let creds = clients::credentials(&raw_authorization("Bearer xyz"), Some("abc"), None).unwrap();
    assert_eq!(creds.client_id, "abc");
    assert!(!creds.via_basic);
}

#[test]
fn credentials_debug_output_hides_the_secret() {
    let creds = clients::credentials(&HeaderMap::new(), Some("abc"), Some("hunter2-secret")).unwrap();
    let shown = format!("{creds:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("abc"), "{shown}");
}

// ---- authenticate (on both backends) ---------------------------------------------------------

/// Stores a client with `method`, returning it and its secret (None for public clients).
async fn registered(store: &Store, method: AuthMethod) -> (Client, Option<String>) {
    let secret = (method != AuthMethod::None).then(random_token);
    let mut c = client(&["https://app.example.com/cb"]);
    c.auth_method = method;
    c.secret_hash = secret.as_deref().map(|s| sha256_b64(s.as_bytes()));
    assert!(clients::create(store, &c).await.unwrap());
    (c, secret)
}

fn by_basic(id: &str, secret: Option<&str>) -> ClientCredentials {
    ClientCredentials {
        client_id: id.into(),
        secret: secret.map(str::to_owned),
        via_basic: true,
        assertion: None,
    }
}

fn by_post(id: &str, secret: Option<&str>) -> ClientCredentials {
    ClientCredentials {
        client_id: id.into(),
        secret: secret.map(str::to_owned),
        via_basic: false,
        assertion: None,
    }
}

fn www_authenticate(e: &ApiError) -> Option<&str> {
    e.headers
        .iter()
        .find(|(n, _)| n == header::WWW_AUTHENTICATE)
        .map(|(_, v)| v.as_str())
}

async fn confidential_client_with_its_secret_by_its_method_authenticates(store: Store) {
    let (basic_client, basic_secret) = registered(&store, AuthMethod::ClientSecretBasic).await;
    let got = clients::authenticate(&store, &by_basic(&basic_client.client_id, basic_secret.as_deref())).await;
    assert_eq!(got.unwrap(), basic_client);
    let (post_client, post_secret) = registered(&store, AuthMethod::ClientSecretPost).await;
    let got = clients::authenticate(&store, &by_post(&post_client.client_id, post_secret.as_deref())).await;
    assert_eq!(got.unwrap(), post_client);
}

async fn authenticate_makes_exactly_one_store_call(store: Store) {
    let (c, secret) = registered(&store, AuthMethod::ClientSecretBasic).await;
    let before = store.calls();
    clients::authenticate(&store, &by_basic(&c.client_id, secret.as_deref()))
        .await
        .unwrap();
    assert_eq!(store.calls() - before, 1);
}

async fn wrong_secret_is_invalid_client(store: Store) {
    let (c, _) = registered(&store, AuthMethod::ClientSecretPost).await;
    let e = clients::authenticate(&store, &by_post(&c.client_id, Some("wrong")))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(www_authenticate(&e), None, "no Basic challenge when Basic was not used");
}

async fn failed_basic_authentication_gets_a_basic_challenge(store: Store) {
    let (c, _) = registered(&store, AuthMethod::ClientSecretBasic).await;
    let e = clients::authenticate(&store, &by_basic(&c.client_id, Some("wrong")))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(www_authenticate(&e), Some(r#"Basic realm="oauth""#));
}

async fn unknown_client_is_invalid_client(store: Store) {
    let e = clients::authenticate(&store, &by_post("no-such-client", None))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    let e = clients::authenticate(&store, &by_basic("no-such-client", Some("x")))
        .await
        .unwrap_err();
    assert_eq!(www_authenticate(&e), Some(r#"Basic realm="oauth""#));
}

async fn public_client_without_a_secret_authenticates(store: Store) {
    let (c, _) = registered(&store, AuthMethod::None).await;
    assert_eq!(
        clients::authenticate(&store, &by_post(&c.client_id, None))
            .await
            .unwrap(),
        c
    );
}

async fn public_client_presenting_a_secret_is_rejected(store: Store) {
    let (c, _) = registered(&store, AuthMethod::None).await;
    let e = clients::authenticate(&store, &by_post(&c.client_id, Some("anything")))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    let e = clients::authenticate(&store, &by_basic(&c.client_id, Some("anything")))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
}

async fn confidential_client_presenting_no_secret_is_rejected(store: Store) {
    for method in [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost] {
        let (c, _) = registered(&store, method).await;
        let e = clients::authenticate(&store, &by_post(&c.client_id, None))
            .await
            .unwrap_err();
        assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    }
}

async fn client_using_another_method_than_it_registered_is_rejected(store: Store) {
    let (post_client, post_secret) = registered(&store, AuthMethod::ClientSecretPost).await;
    let e = clients::authenticate(&store, &by_basic(&post_client.client_id, post_secret.as_deref()))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(www_authenticate(&e), Some(r#"Basic realm="oauth""#));
    let (basic_client, basic_secret) = registered(&store, AuthMethod::ClientSecretBasic).await;
    let e = clients::authenticate(&store, &by_post(&basic_client.client_id, basic_secret.as_deref()))
        .await
        .unwrap_err();
    assert_api_error(&e, StatusCode::UNAUTHORIZED, "invalid_client");
}

async fn percent_encoded_basic_credentials_authenticate(store: Store) {
    // A confidential client whose secret contains characters that must be form-encoded.
    let secret = "a b+c:d%é";
    let mut c = client(&["https://app.example.com/cb"]);
    c.client_id = "client:with space".into();
    c.auth_method = AuthMethod::ClientSecretBasic;
    c.secret_hash = Some(sha256_b64(secret.as_bytes()));
    assert!(clients::create(&store, &c).await.unwrap());
    let headers = basic("client%3Awith+space", "a+b%2Bc%3Ad%25%C3%A9");
    let creds = clients::credentials(&headers, None, None).unwrap();
    assert_eq!(
        clients::authenticate(&store, &creds).await.unwrap().client_id,
        c.client_id
    );
}

async fn overlong_client_id_is_absent_without_a_store_call(store: Store) {
    let before = store.calls();
    assert_eq!(clients::get(&store, &"x".repeat(5000)).await.unwrap(), None);
    assert_eq!(clients::get(&store, "").await.unwrap(), None);
    assert_eq!(store.calls(), before);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _clock, _dir) = super::common::embedded();
                    super::$name(store).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _clock, _guard) = super::common::dynamo().await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    confidential_client_with_its_secret_by_its_method_authenticates,
    authenticate_makes_exactly_one_store_call,
    wrong_secret_is_invalid_client,
    failed_basic_authentication_gets_a_basic_challenge,
    unknown_client_is_invalid_client,
    public_client_without_a_secret_authenticates,
    public_client_presenting_a_secret_is_rejected,
    confidential_client_presenting_no_secret_is_rejected,
    client_using_another_method_than_it_registered_is_rejected,
    percent_encoded_basic_credentials_authenticate,
    overlong_client_id_is_absent_without_a_store_call,
);

// ---- unconfirmed clients expire --------------------------------------------------------------

mod expiry {
    use super::common::{self, Reply, config_with, post_json, send};
    use http::StatusCode;
    use mcp_oauth::clients;
    use mcp_oauth::store::{Store, Table};
    use serde_json::json;

    async fn register(store: &Store) -> clients::Client {
        let router = mcp_oauth::endpoints::register::routes(common::new_state(config_with(&[]), store.clone()));
        let body = json!({"redirect_uris": ["https://app.example.com/callback"]});
        let r: Reply = send(&router, post_json("/api/oauth/register", &body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id = r.json()["client_id"].as_str().unwrap().to_owned();
        clients::get(store, &id).await.unwrap().expect("just registered")
    }

    async fn unconfirmed_client_reads_as_absent_after_its_ttl_and_a_confirmed_one_survives(store: Store) {
        let unconfirmed = register(&store).await;
        let confirmed = register(&store).await;
        clients::confirm(&store, &confirmed).await.unwrap();
        store.clock().advance(86_400 - 60);
        assert!(
            clients::get(&store, &unconfirmed.client_id).await.unwrap().is_some(),
            "alive within its TTL"
        );
        store.clock().advance(61);
        assert_eq!(clients::get(&store, &unconfirmed.client_id).await.unwrap(), None);
        assert_eq!(
            clients::get(&store, &confirmed.client_id).await.unwrap(),
            Some(confirmed.clone())
        );
        store.clock().advance(365 * 86_400);
        assert_eq!(
            clients::get(&store, &confirmed.client_id).await.unwrap(),
            Some(confirmed)
        );
    }

    async fn confirming_a_metadata_document_client_writes_nothing(store: Store) {
        let mut doc = super::client(&["https://app.example.com/callback"]);
        doc.client_id = "https://app.example.com/oauth/client.json".into();
        clients::confirm(&store, &doc).await.unwrap();
        assert!(store.get(Table::Clients, &doc.client_id).await.unwrap().is_none());
    }

    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => {
            mod embedded {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let (store, _clock, _dir) = super::common::embedded();
                        super::$name(store).await;
                    }
                )*
            }
            mod dynamodb {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (store, _clock, _guard) = super::common::dynamo().await;
                        super::$name(store).await;
                    }
                )*
            }
        };
    }

    on_both_backends!(
        unconfirmed_client_reads_as_absent_after_its_ttl_and_a_confirmed_one_survives,
        confirming_a_metadata_document_client_writes_nothing,
    );
}
