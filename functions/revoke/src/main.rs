//! Lambda: the revocation endpoint (`mcp_oauth::revoke`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::revoke::routes, catalog::catalog()).await
}
