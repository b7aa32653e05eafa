//! A fault-injecting proxy for tests: it stands between the server's DynamoDB client and the
//! emulator (moto) on loopback, forwards each request, and on the requests its [`Plan`] picks it
//! answers instead with a fault DynamoDB really produces:
//!
//! - [`Fault::Throughput`]: 400 `ProvisionedThroughputExceededException` (not applied);
//! - [`Fault::Throttling`]: 400 `ThrottlingException` (not applied);
//! - [`Fault::ServerError`]: 500 `InternalServerError` (not applied);
//! - [`Fault::Timeout`]: no answer at all, until the client gives up (not applied);
//! - [`Fault::ResetAfterApply`]: forwarded and applied by the emulator, then the connection is
//!   reset before the answer reaches the client: the hard case, where a retry meets its own write;
//! - [`Fault::TimeoutAfterApply`]: applied, then the answer is held until the client gives up.
//!
//! Faults are chosen by a seeded generator, so a test's fault sequence is the same on every run
//! (given the same sequence of requests), and counted per kind, so a test can prove that faults
//! were really injected.
//!
//! Not for: production; it speaks just enough HTTP/1.1 for the AWS SDK's JSON requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Throughput,
    Throttling,
    ServerError,
    Timeout,
    ResetAfterApply,
    TimeoutAfterApply,
}

impl Fault {
    /// Every fault that is answered at once (no timeout to wait out).
    pub const PROMPT: [Fault; 4] = [
        Fault::Throughput,
        Fault::Throttling,
        Fault::ServerError,
        Fault::ResetAfterApply,
    ];

    /// Whether the emulator has applied the request when this fault strikes.
    pub fn applied(self) -> bool {
        matches!(self, Fault::ResetAfterApply | Fault::TimeoutAfterApply)
    }
}

/// A targeted fault: strikes the next `count` requests whose operation (the `X-Amz-Target` suffix,
/// e.g. `UpdateItem`) is `operation` and whose body contains `body_contains` (e.g. a table name).
#[derive(Debug, Clone)]
pub struct Targeted {
    pub fault: Fault,
    pub operation: String,
    pub body_contains: String,
    pub count: u32,
}

/// Which requests get which fault.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Per mille of requests that get a random fault from `faults`.
    pub rate_per_mille: u32,
    pub faults: Vec<Fault>,
    /// Checked before the random faults, in order.
    pub targeted: Vec<Targeted>,
    /// Seed of the generator that picks random faults.
    pub seed: u64,
}

impl Plan {
    /// Forwards everything.
    pub fn none() -> Self {
        Plan::default()
    }

    /// `rate_per_mille` of requests get one of `faults`, picked by a generator seeded with `seed`.
    pub fn random(seed: u64, rate_per_mille: u32, faults: &[Fault]) -> Self {
        Plan {
            rate_per_mille,
            faults: faults.to_vec(),
            targeted: Vec::new(),
            seed,
        }
    }

    /// The next `count` matching requests get `fault`.
    pub fn targeted(fault: Fault, operation: &str, body_contains: &str, count: u32) -> Self {
        Plan {
            targeted: vec![Targeted {
                fault,
                operation: operation.to_owned(),
                body_contains: body_contains.to_owned(),
                count,
            }],
            ..Plan::default()
        }
    }
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub requests: u64,
    pub forwarded: u64,
    pub injected: BTreeMap<Fault, u64>,
    /// Injected faults per operation, e.g. `"UpdateItem"`.
    pub by_operation: BTreeMap<String, u64>,
    /// Faults that struck after the emulator applied the request, per table name.
    pub applied_on: BTreeMap<String, u64>,
}

impl Stats {
    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }
}

struct State {
    plan: Plan,
    rng: u64,
    stats: Stats,
}

impl State {
    /// splitmix64: small, fast and fully determined by the seed, which is all a fault schedule needs.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, operation: &str, body: &[u8]) -> Option<Fault> {
        self.stats.requests += 1;
        let body = String::from_utf8_lossy(body);
        let mut chosen = None;
        for t in self.plan.targeted.iter_mut() {
            if t.count > 0 && t.operation == operation && body.contains(&t.body_contains) {
                t.count -= 1;
                chosen = Some(t.fault);
                break;
            }
        }
        if chosen.is_none() && !self.plan.faults.is_empty() && self.plan.rate_per_mille > 0 {
            let roll = self.next();
            if roll % 1000 < u64::from(self.plan.rate_per_mille) {
                let i = (self.next() % self.plan.faults.len() as u64) as usize;
                chosen = Some(self.plan.faults[i]);
            }
        }
        match chosen {
            Some(f) => {
                let table = body.split("\"TableName\":\"").nth(1).and_then(|t| t.split('"').next());
                if std::env::var_os("FAULTPROXY_LOG").is_some() {
                    eprintln!("faultproxy: {f:?} on {operation} {}", table.unwrap_or("-"));
                }
                if f.applied() {
                    *self
                        .stats
                        .applied_on
                        .entry(table.unwrap_or("-").to_owned())
                        .or_default() += 1;
                }
                *self.stats.injected.entry(f).or_default() += 1;
                *self.stats.by_operation.entry(operation.to_owned()).or_default() += 1;
            }
            None => self.stats.forwarded += 1,
        }
        chosen
    }
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

/// How long a timeout fault holds the connection: longer than any attempt timeout the server sets.
pub const HOLD: Duration = Duration::from_secs(4);

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`), with no faults.
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            plan: Plan::none(),
            rng: 0,
            stats: Stats::default(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (state, upstream) = (shared.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, &upstream, &state).await;
                });
            }
        });
        Ok(FaultProxy { addr, state, task })
    }

    /// The URL to give the server as its DynamoDB endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the plan (and reseeds the generator).
    pub fn set_plan(&self, plan: Plan) {
        let mut s = self.state.lock().unwrap();
        s.rng = plan.seed;
        s.plan = plan;
    }

    pub fn stats(&self) -> Stats {
        self.state.lock().unwrap().stats.clone()
    }

    /// Whether every targeted fault of the plan has struck.
    pub fn targeted_done(&self) -> bool {
        self.state.lock().unwrap().plan.targeted.iter().all(|t| t.count == 0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One HTTP/1.1 message: its head (through the blank line) and body.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<String> {
        let head = String::from_utf8_lossy(&self.head);
        head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
    fn bytes(&self) -> Vec<u8> {
        [self.head.as_slice(), self.body.as_slice()].concat()
    }
}

/// Reads one message, or `None` at a clean end of stream. Bodies are `Content-Length` framed;
/// without one, the body runs to the end of the stream (`to_eof`, for answers) or is empty.
async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    to_eof: bool,
) -> std::io::Result<Option<Message>> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head: Vec<u8> = buf.drain(..head_end).collect();
    let mut msg = Message { head, body: Vec::new() };
    match msg.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(len) => {
            while buf.len() < len {
                let mut chunk = [0u8; 8192];
                let n = r.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            msg.body = buf.drain(..len).collect();
        }
        None if to_eof => {
            r.read_to_end(buf).await?;
            msg.body = std::mem::take(buf);
        }
        None => {}
    }
    Ok(Some(msg))
}

/// A DynamoDB JSON error answer.
fn error_answer(status: &str, kind: &str) -> Vec<u8> {
    let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by faultproxy"}}"#);
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {kind}\r\nx-amzn-requestid: faultproxy\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn forward(upstream: &str, req: &Message) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&req.bytes()).await?;
    let mut buf = Vec::new();
    let answer = read_message(&mut up, &mut buf, true)
        .await?
        .ok_or(std::io::ErrorKind::UnexpectedEof)?;
    Ok(answer.bytes())
}

async fn serve(mut conn: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_message(&mut conn, &mut buf, false).await? {
        let operation = req
            .header("x-amz-target")
            .and_then(|t| t.rsplit('.').next().map(str::to_owned))
            .unwrap_or_default();
        let fault = state.lock().unwrap().pick(&operation, &req.body);
        let answer = match fault {
            None => forward(upstream, &req).await?,
            Some(Fault::Throughput) => error_answer("400 Bad Request", "ProvisionedThroughputExceededException"),
            Some(Fault::Throttling) => error_answer("400 Bad Request", "ThrottlingException"),
            Some(Fault::ServerError) => error_answer("500 Internal Server Error", "InternalServerError"),
            Some(Fault::Timeout) => {
                tokio::time::sleep(HOLD).await;
                return Ok(());
            }
            Some(Fault::ResetAfterApply) => {
                forward(upstream, &req).await?;
                // Linger 0: close with a TCP reset, as a dropped connection looks to the client.
                #[allow(deprecated)]
                let _ = conn.set_linger(Some(Duration::ZERO));
                return Ok(());
            }
            Some(Fault::TimeoutAfterApply) => {
                forward(upstream, &req).await?;
                tokio::time::sleep(HOLD).await;
                return Ok(());
            }
        };
        conn.write_all(&answer).await?;
        // The emulator's answers may close the connection; keep it simple and close ours too
        // when it said so.
        if String::from_utf8_lossy(&answer[..answer.len().min(2048)])
            .to_ascii_lowercase()
            .contains("connection: close")
        {
            return Ok(());
        }
    }
    Ok(())
}
