//! Lambda: the authorization endpoint, its sign-in, sign-up and consent pages (`mcp_oauth::endpoints::authorize`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mcp_oauth::app::run_lambda(mcp_oauth::endpoints::authorize::routes, catalog::catalog()).await
}
