//! Lambda: the MCP endpoint (`mcp_oauth::mcp::transport`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::mcp::transport::routes, catalog::catalog()).await
}
