//! Lambda: the token endpoint (`mcp_oauth::endpoints::token`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::endpoints::token::routes, catalog::catalog()).await
}
