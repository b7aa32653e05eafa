//! Lambda: the revocation endpoint (`mcp_oauth::endpoints::revoke`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::endpoints::revoke::routes, catalog::catalog()).await
}
