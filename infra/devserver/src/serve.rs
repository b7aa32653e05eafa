//! Start-up of the dev server: configuration, store (with tables created when it is a DynamoDB
//! emulator), the listener, and the URLs a developer points a client at.

use std::process::ExitCode;

use axum::Router;
use mcp_oauth::app::{AppState, init_tracing};
use mcp_oauth::clock::Clock;
use mcp_oauth::config::{Config, StoreConfig};
use mcp_oauth::store::dynamo::DynamoStore;
use mcp_oauth::urls::Urls;
use tables::create_tables;

/// Reads `PORT` (default 3000) and defaults `PUBLIC_URL` to `http://localhost:<PORT>`, so the
/// address printed, the address served and the issuer agree (a client compares them exactly).
fn load() -> Result<(Config, u16), String> {
    let port = match std::env::var("PORT") {
        Ok(p) => p
            .parse::<u16>()
            .map_err(|_| format!("configuration: PORT must be a port number; got {p:?}"))?,
        Err(_) => 3000,
    };
    let config = Config::from_lookup(|k| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| (k == "PUBLIC_URL").then(|| format!("http://localhost:{port}")))
    })
    .map_err(|e| e.to_string())?;
    Ok((config, port))
}

pub async fn main(app: fn(AppState) -> Router) -> ExitCode {
    match run(app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devserver: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(app: fn(AppState) -> Router) -> Result<(), String> {
    let (config, port) = load()?;
    init_tracing(config.json_logs);
    if let StoreConfig::Dynamo {
        prefix,
        endpoint: Some(endpoint),
    } = &config.store
    {
        // An emulator starts empty: create the template's tables in it.
        let dynamo = DynamoStore::connect(Some(endpoint), prefix, Clock::system()).await;
        create_tables(dynamo.client(), prefix)
            .await
            .map_err(|e| e.to_string())?;
    }
    let store_desc = match &config.store {
        StoreConfig::Embedded { path } => format!("embedded store at {}", path.display()),
        StoreConfig::Dynamo { prefix, endpoint } => {
            format!("DynamoDB tables {prefix}* at {}", endpoint.as_deref().unwrap_or("AWS"))
        }
    };
    let fixtures = config.conformance_fixtures;
    let state = AppState::from_config(config, Clock::system())
        .await
        .map_err(|e| e.to_string())?
        .with_catalog(crate::catalog(fixtures));
    state.check().map_err(|e| e.to_string())?;
    let urls = Urls::new(state.config.public_url.as_ref().ok_or("PUBLIC_URL is required")?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    println!("mcp-oauth dev server, {store_desc}");
    println!("  MCP server:               {}", urls.mcp());
    println!("  protected resource:       {}", urls.prm());
    println!(
        "  authorization server:     {}/.well-known/oauth-authorization-server",
        urls.issuer()
    );
    println!("  JWKS:                     {}", urls.jwks());
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
