//! `store-calls`: walks every flow through every function in process and prints the store calls
//! of each request, then holds them to the budgets of docs/ARCHITECTURE.md.
//!
//!     store-calls [--backend embedded|dynamodb] [--json FILE]
//!
//! `dynamodb` needs `DYNAMODB_ENDPOINT` (an emulator) and AWS credentials in the environment; it
//! creates its own tables under a fresh prefix. Exit status: 0 within budget, 1 a flow failed,
//! 2 a budget was exceeded.

use std::process::ExitCode;
use std::sync::Arc;

use mcp_oauth::clock::Clock;
use mcp_oauth::config::Config;
use mcp_oauth::store::Backend;
use mcp_oauth::store::dynamo::DynamoStore;
use mcp_oauth::store::embedded::EmbeddedStore;
use serde_json::json;
use tables::create_tables;

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Args {
    backend: String,
    json: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        backend: "embedded".into(),
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--backend" => out.backend = it.next().ok_or("--backend needs a value")?,
            "--json" => out.json = Some(it.next().ok_or("--json needs a file")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(out)
}

async fn backend(kind: &str, dir: &std::path::Path) -> Result<Arc<dyn Backend>, String> {
    match kind {
        "embedded" => {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let store = EmbeddedStore::open(&dir.join("bench.redb"), Clock::system()).map_err(|e| e.to_string())?;
            Ok(Arc::new(store))
        }
        "dynamodb" => {
            let endpoint = std::env::var("DYNAMODB_ENDPOINT").map_err(|_| "DYNAMODB_ENDPOINT is unset")?;
            let prefix = format!("bench{}-", std::process::id());
            let store = DynamoStore::connect(Some(&endpoint), &prefix, Clock::system()).await;
            create_tables(store.client(), &prefix)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(store))
        }
        other => Err(format!("unknown backend {other:?} (embedded or dynamodb)")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("store-calls: {e}");
            return ExitCode::from(1);
        }
    };
    // A fresh directory for the embedded store, removed at the end.
    let dir = std::env::temp_dir().join(format!("store-calls-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(dir.clone());
    // Verification codes are mailed to an outbox inside that directory, where the walk reads them.
    let outbox = dir.join("outbox").to_string_lossy().into_owned();
    let config = Config::from_lookup(|k| match k {
        "PUBLIC_URL" => Some("http://localhost:3000".to_owned()),
        "OUTBOX_DIR" => Some(outbox.clone()),
        _ => None,
    });
    let (config, backend) = match (config, backend(&args.backend, &dir).await) {
        (Ok(c), Ok(b)) => (c, b),
        (Err(e), _) => {
            eprintln!("store-calls: {e}");
            return ExitCode::from(1);
        }
        (_, Err(e)) => {
            eprintln!("store-calls: {e}");
            return ExitCode::from(1);
        }
    };
    let figures = match bench::flows::walk(config, backend).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("store-calls: a flow failed, so no figures: {e}");
            return ExitCode::from(1);
        }
    };

    println!("store calls per request, {} backend", args.backend);
    println!(
        "{:<62} {:<18} {:<5} {:>5} {:>6}  calls",
        "flow", "function", "when", "calls", "budget"
    );
    for f in &figures {
        let j = f.to_json();
        println!(
            "{:<62} {:<18} {:<5} {:>5} {:>6}  {}",
            f.flow,
            f.function,
            j["when"].as_str().unwrap_or_default(),
            f.calls.len(),
            f.budget.map(|b| format!("≤{b}")).unwrap_or_else(|| "-".into()),
            f.calls.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        );
    }
    let over: Vec<_> = figures.iter().filter(|f| !f.within_budget()).collect();
    if let Some(path) = &args.json {
        let doc = json!({
            "backend": args.backend,
            "figures": figures.iter().map(|f| f.to_json()).collect::<Vec<_>>(),
            "within_budget": over.is_empty(),
        });
        if let Err(e) = std::fs::write(path, format!("{doc:#}\n")) {
            eprintln!("store-calls: cannot write {path}: {e}");
            return ExitCode::from(1);
        }
    }
    if over.is_empty() {
        println!("every budgeted flow is within its budget");
        ExitCode::SUCCESS
    } else {
        for f in over {
            eprintln!(
                "OVER BUDGET: {} ({}, {:?}) made {} store calls; the budget is {}",
                f.flow,
                f.function,
                f.when,
                f.calls.len(),
                f.budget.unwrap_or_default()
            );
        }
        ExitCode::from(2)
    }
}
