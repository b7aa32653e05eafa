//! `argon2-cost`: the time and memory of one password hash and one verify, with the parameters
//! the login pages use (`mcp_oauth::accounts::password`). Build it in release: that is what the
//! authorize function runs.
//!
//!     argon2-cost [--runs N] [--json FILE]

use std::process::ExitCode;
use std::time::Instant;

use mcp_oauth::accounts::password::{self, M_COST_KIB, P_COST, T_COST};
use serde_json::json;

/// A field of /proc/self/status in KiB: VmHWM (peak resident set) or VmRSS (resident now).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

fn summary(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    json!({"runs": ms.len(), "min_ms": at(0.0), "median_ms": at(0.5), "p90_ms": at(0.9), "max_ms": at(1.0)})
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut runs = 20usize;
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--runs", Some(n)) if n.parse::<usize>().is_ok_and(|n| n > 0) => runs = n.parse().unwrap_or(20),
            ("--json", Some(f)) => out = Some(f),
            _ => {
                eprintln!("usage: argon2-cost [--runs N] [--json FILE]");
                return ExitCode::from(1);
            }
        }
    }
    let rss_before = peak_rss_kib();
    let pw = "correct horse battery staple";
    // One untimed hash first: the first allocation of the 19 MiB block is not a steady cost.
    let Ok(phc) = password::hash(pw).await else {
        eprintln!("argon2-cost: hashing failed");
        return ExitCode::from(1);
    };
    let mut hash_ms = Vec::with_capacity(runs);
    let mut verify_ms = Vec::with_capacity(runs);
    // Resident set after each hash-and-verify: shows whether the 19 MiB blocks are given back.
    let mut rss_kib = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        if password::hash(pw).await.is_err() {
            eprintln!("argon2-cost: hashing failed");
            return ExitCode::from(1);
        }
        hash_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        if !password::verify(pw, &phc).await.unwrap_or(false) {
            eprintln!("argon2-cost: verify failed");
            return ExitCode::from(1);
        }
        verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
        rss_kib.push(status_kib("VmRSS:"));
    }
    let doc = json!({
        "algorithm": "argon2id v19",
        "m_cost_kib": M_COST_KIB,
        "t_cost": T_COST,
        "p_cost": P_COST,
        "hash": summary(hash_ms),
        "verify": summary(verify_ms),
        "peak_rss_kib_before": rss_before,
        "peak_rss_kib_after": peak_rss_kib(),
        "rss_kib_after_each": rss_kib,
    });
    println!("{doc:#}");
    if let Some(path) = out
        && let Err(e) = std::fs::write(&path, format!("{doc:#}\n"))
    {
        eprintln!("argon2-cost: cannot write {path}: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
