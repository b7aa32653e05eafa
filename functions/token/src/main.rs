//! Lambda: the token endpoint (`mcp_oauth::token_endpoint`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::token_endpoint::routes, catalog::catalog()).await
}
