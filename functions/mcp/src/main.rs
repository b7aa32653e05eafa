//! Lambda: the MCP endpoint (`mcp_oauth::endpoints::mcp`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::endpoints::mcp::routes, catalog::catalog()).await
}
