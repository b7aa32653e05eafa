//! Lambda: OAuth dynamic client registration (`mcp_oauth::endpoints::register`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::endpoints::register::routes, catalog::catalog()).await
}
