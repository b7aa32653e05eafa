//! Lambda: discovery documents and JWKS (`mcp_oauth::endpoints::discovery`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::endpoints::discovery::routes, catalog::catalog()).await
}
