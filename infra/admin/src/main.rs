//! The operator's command line for a deployment: `cargo run -p admin -- <command>`. It reads the
//! same environment as the dev server to choose its store (or `--stack NAME` for a stack's
//! DynamoDB tables in AWS); every action lives in `mcp_oauth::accounts::admin` and `keys`.
//!
//! Not for: anything a request path does; it scans tables, which no function may.

mod cli;
mod output;
mod run;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 2 (clap's code), help and version 0.
    let cli = cli::Cli::parse();
    run::init_logging();
    ExitCode::from(run::run(cli).await)
}
