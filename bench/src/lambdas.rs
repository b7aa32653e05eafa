//! Each function as Lambda runs it, in process: its own router, store handle and key cache over
//! one shared backend; and a browser (cookie jar, form submission) that walks the real pages.
//!
//! Not for: HTTP or Lambda hosting (the bench script drives the release binaries for that).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use mcp_oauth::app::AppState;
use mcp_oauth::config::Config;
use mcp_oauth::store::{Backend, Store};
use tower::ServiceExt;

use crate::counting::{Call, CallLog, Counting};

/// A function's routes, as its `main.rs` hosts them.
pub type Routes = fn(AppState) -> Router;

/// The functions of template.yaml, by logical id.
pub const FUNCTIONS: [(&str, Routes); 6] = [
    ("DiscoveryFunction", mcp_oauth::endpoints::discovery::routes),
    ("RegisterFunction", mcp_oauth::endpoints::register::routes),
    ("AuthorizeFunction", mcp_oauth::endpoints::authorize::routes),
    ("TokenFunction", mcp_oauth::endpoints::token::routes),
    ("RevokeFunction", mcp_oauth::endpoints::revoke::routes),
    ("McpFunction", mcp_oauth::endpoints::mcp::routes),
];

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The query parameters of the `Location` this reply redirects to.
    pub fn redirect_params(&self) -> HashMap<String, String> {
        self.header("location")
            .and_then(|l| url::Url::parse(l).ok())
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }
}

/// One running instance of a function: what a Lambda execution environment holds after init.
pub struct Instance {
    pub name: &'static str,
    router: Router,
    store: Store,
    log: CallLog,
}

impl Instance {
    /// Starts an instance (cold: empty key cache) over `backend`.
    pub fn start(name: &'static str, routes: Routes, config: &Config, backend: &Arc<dyn Backend>) -> Self {
        let (counting, log) = Counting::new(backend.clone());
        let store = Store::new(counting);
        let router = mcp_oauth::app::function(
            routes,
            AppState::new(config.clone(), store.clone()).with_catalog(catalog::catalog()),
        );
        Instance {
            name,
            router,
            store,
            log,
        }
    }

    /// Sends one request, as from a TCP peer on loopback (the dev server's view of a caller).
    pub async fn send(&self, mut req: Request<Body>) -> Reply {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_000))));
        match self.router.clone().oneshot(req).await {
            Ok(res) => {
                let status = res.status();
                let headers = res.headers().clone();
                let body = match res.into_body().collect().await {
                    Ok(b) => b.to_bytes().to_vec(),
                    Err(_) => Vec::new(),
                };
                Reply { status, headers, body }
            }
            Err(never) => match never {},
        }
    }

    /// Sends one request and returns the reply with the store calls it caused: the handle's
    /// counter (the project's own instrument) and the ordered log, which must agree.
    pub async fn measure(&self, req: Request<Body>) -> (Reply, Vec<Call>) {
        let before_count = self.store.calls();
        let before_log = self.log.lock().map(|l| l.len()).unwrap_or(0);
        let reply = self.send(req).await;
        let calls: Vec<Call> = self.log.lock().map(|l| l[before_log..].to_vec()).unwrap_or_default();
        assert_eq!(
            self.store.calls() - before_count,
            calls.len() as u64,
            "the store's counter and the call log disagree"
        );
        (reply, calls)
    }
}

/// Every function, started over one backend.
pub struct Deployment {
    pub config: Config,
    backend: Arc<dyn Backend>,
    instances: Vec<Instance>,
}

impl Deployment {
    pub fn new(config: Config, backend: Arc<dyn Backend>) -> Self {
        let instances = FUNCTIONS
            .iter()
            .map(|(name, routes)| Instance::start(name, *routes, &config, &backend))
            .collect();
        Deployment {
            config,
            backend,
            instances,
        }
    }

    /// The clock every instance judges time by (the backend's): the walk steps past windows.
    pub fn clock(&self) -> &mcp_oauth::clock::Clock {
        self.backend.clock()
    }

    /// The running instance of `name`.
    pub fn function(&self, name: &str) -> &Instance {
        self.instances
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Replaces `name`'s instance with a cold one (a new execution environment) and returns it.
    pub fn restart(&mut self, name: &str) -> &Instance {
        let pos = self
            .instances
            .iter()
            .position(|i| i.name == name)
            .unwrap_or_else(|| panic!("no function {name}"));
        // `instances` is in the order of FUNCTIONS.
        let (fname, routes) = FUNCTIONS[pos];
        self.instances[pos] = Instance::start(fname, routes, &self.config, &self.backend);
        &self.instances[pos]
    }

    /// The instance that serves `path`, as API Gateway routes it.
    pub fn route(&self, path: &str) -> &Instance {
        let name = if path.starts_with("/.well-known/") {
            "DiscoveryFunction"
        } else if path.starts_with("/api/oauth/register") {
            "RegisterFunction"
        } else if path.starts_with("/api/oauth/token") {
            "TokenFunction"
        } else if path.starts_with("/api/oauth/revoke") {
            "RevokeFunction"
        } else if path.starts_with("/mcp") {
            "McpFunction"
        } else {
            "AuthorizeFunction"
        };
        self.function(name)
    }
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

/// A form POST (`application/x-www-form-urlencoded`).
pub fn post_form(uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a valid request")
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("a valid request")
}

/// A cookie jar that adds its cookies to requests and keeps the ones responses set.
#[derive(Default, Clone)]
pub struct Browser {
    cookies: HashMap<String, String>,
}

impl Browser {
    /// `req` with this browser's cookies.
    pub fn dress(&self, mut req: Request<Body>) -> Request<Body> {
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            if let Ok(v) = header.parse() {
                req.headers_mut().insert("cookie", v);
            }
        }
        req
    }

    /// Keeps the cookies `reply` sets (and forgets the ones it clears).
    pub fn keep(&mut self, reply: &Reply) {
        for set in reply.headers.get_all("set-cookie") {
            let Ok(set) = set.to_str() else { continue };
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let Some((k, v)) = pair.split_once('=') else { continue };
            if attrs.contains("Max-Age=0") || v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    /// The form POST that submits `page`'s hidden inputs plus `fields`, with `action`.
    pub fn form(&self, page: &Reply, action: &str, fields: &[(&str, &str)]) -> Request<Body> {
        let mut values = inputs(&page.text());
        values.retain(|k, _| !matches!(k.as_str(), "email" | "password"));
        for (k, v) in fields {
            values.insert((*k).to_owned(), (*v).to_owned());
        }
        values.insert("action".into(), action.into());
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.dress(post_form("/oauth/authorize", &pairs))
    }
}
