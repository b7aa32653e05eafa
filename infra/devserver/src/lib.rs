//! The dev server: every function's routes in one process on one port, the same paths as the
//! HttpApi in `template.yaml` (a test compares the two).

pub mod serve;

use axum::Router;
use mcp_oauth::app::AppState;
use mcp_oauth::discovery;

/// Every function, as `(logical id in template.yaml, its routes)`.
pub fn functions() -> Vec<(&'static str, fn(AppState) -> Router)> {
    vec![("DiscoveryFunction", discovery::routes)]
}

/// All functions merged, with one set of fallbacks.
pub fn app(state: AppState) -> Router {
    let merged = functions()
        .into_iter()
        .fold(Router::new(), |router, (_, routes)| router.merge(routes(state.clone())));
    mcp_oauth::http::with_fallbacks(merged)
}
