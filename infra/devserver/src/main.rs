//! `cargo run -p devserver`: serve every function locally (see the README's configuration table).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    devserver::serve::main(devserver::app).await
}
