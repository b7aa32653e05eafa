//! The dev server: every function's routes in one process on one port, the same paths as the
//! HttpApi in `template.yaml` (a test compares the two).

pub mod serve;

use axum::Router;
use mcp_oauth::app::AppState;
use mcp_oauth::endpoints::discovery;
use mcp_oauth::mcp::catalog::Catalog;

/// A function's routes, built from the shared state.
pub type Routes = fn(AppState) -> Router;

/// Every function, as `(logical id in template.yaml, its routes)`.
pub fn functions() -> Vec<(&'static str, Routes)> {
    vec![
        ("DiscoveryFunction", discovery::routes),
        ("RegisterFunction", mcp_oauth::endpoints::register::routes),
        ("AuthorizeFunction", mcp_oauth::endpoints::authorize::routes),
        ("TokenFunction", mcp_oauth::endpoints::token::routes),
        ("RevokeFunction", mcp_oauth::endpoints::revoke::routes),
        ("McpFunction", mcp_oauth::endpoints::mcp::routes),
    ]
}

/// What the dev server serves: the deployment's catalog (`catalog::catalog()`, as every Lambda
/// serves it), with the conformance fixtures after it when `fixtures` is on
/// (`MCP_CONFORMANCE_FIXTURES`). Only this crate depends on the fixtures, so no Lambda has them.
pub fn catalog(fixtures: bool) -> Catalog {
    let deployment = catalog::catalog();
    if fixtures {
        conformance_fixtures::append(deployment)
    } else {
        deployment
    }
}

/// All functions merged, with one set of fallbacks.
pub fn app(state: AppState) -> Router {
    let merged = functions()
        .into_iter()
        .fold(Router::new(), |router, (_, routes)| router.merge(routes(state.clone())));
    mcp_oauth::http::with_fallbacks(merged)
}
