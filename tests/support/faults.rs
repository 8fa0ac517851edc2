//! A proxy in front of moto for single-fault tests. Every request it forwards is given one moto account (so each
//! scenario starts from an empty AWS) and a number; while armed, the one request chosen by a filter and its
//! position among the requests that match fails in one way:
//! - `ServerError`: answered 500 without reaching moto (the SDK retries it);
//! - `LoseResponse`: forwarded, moto acts on it, and the connection is closed before the answer (the SDK sees a
//!   broken connection and retries a request that already took effect);
//! - `Hold`: forwarded, moto acts on it, and the answer is held back until the test kills stackr (SIGKILL just
//!   after a call that took effect, before stackr could record its result).

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ServerError,
    LoseResponse,
    Hold,
    /// Answered 403 AccessDenied without reaching moto (not retried).
    Refuse,
    /// Forwarded after a delay of this many milliseconds.
    Delay(u64),
}

pub type Filter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

struct Shared {
    upstream: String,
    account: String,
    armed: AtomicBool,
    filter: Filter,
    position: usize,
    fault: Fault,
    matched: AtomicUsize,
    /// What each request was (`POST / AmazonSQS.CreateQueue`, `PUT /bucket/key`), in arrival order.
    log: Mutex<Vec<String>>,
    fired: AtomicBool,
    held: AtomicBool,
}

pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Requests forwarded so far (all of them, armed or not).
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
    /// Whether the fault was injected.
    pub fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }
    /// Whether a `Hold` fault is holding an answer back now.
    pub fn holding(&self) -> bool {
        self.shared.held.load(Ordering::SeqCst)
    }
    /// From now on every request passes.
    pub fn disarm(&self) {
        self.shared.armed.store(false, Ordering::SeqCst);
    }
    /// From now on requests count again towards the chosen position.
    pub fn arm(&self) {
        self.shared.armed.store(true, Ordering::SeqCst);
    }
    /// Requests the filter accepted while armed.
    pub fn matched(&self) -> usize {
        self.shared.matched.load(Ordering::SeqCst)
    }
}

/// Starts a proxy to `upstream` (`127.0.0.1:PORT`) for moto account `account`, failing the `position`-th request
/// (from 0) that `filter` accepts with `fault`.
pub async fn start(upstream: String, account: String, filter: Filter, position: usize, fault: Fault) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Shared {
        upstream,
        account,
        armed: AtomicBool::new(true),
        filter,
        position,
        fault,
        matched: AtomicUsize::new(0),
        log: Mutex::new(Vec::new()),
        fired: AtomicBool::new(false),
        held: AtomicBool::new(false),
    });
    let for_loop = Arc::clone(&shared);
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let shared = Arc::clone(&for_loop);
            tokio::spawn(async move {
                let _ = serve(client, &shared).await;
            });
        }
    });
    FaultProxy { endpoint, shared }
}

/// A filter accepting every request.
pub fn every() -> Filter {
    Arc::new(|_| true)
}

/// Reads one request: head, then a Content-Length body. Returns where the head ends, and the whole request.
pub async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<(usize, Vec<u8>)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Ok(Some((end, buffer)));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// `METHOD PATH TARGET`: the JSON target header or the query protocol's `Action=`, when there is one.
fn summary(head: &str, body: &[u8]) -> String {
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target_path = parts.next().unwrap_or_default();
    let (path, query) = target_path.split_once('?').unwrap_or((target_path, ""));
    // S3 names a bucket's configuration by a bare query key (`?versioning`, `?tagging`): kept, values dropped.
    let bare: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.contains('=')).collect();
    let path = if bare.is_empty() { path.to_string() } else { format!("{path}?{}", bare.join("&")) };
    let target = lines
        .find_map(|l| l.to_lowercase().starts_with("x-amz-target:").then(|| l[13..].trim().to_string()))
        .or_else(|| {
            let body = String::from_utf8_lossy(body);
            body.split('&').find_map(|p| p.strip_prefix("Action=").map(str::to_string))
        })
        .unwrap_or_default();
    format!("{method} {path} {target}").trim().to_string()
}

async fn serve(mut client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let Some((end, request)) = read_request(&mut client).await? else { return Ok(()) };
    let head = String::from_utf8_lossy(&request[..end]).into_owned();
    let what = summary(&head, &request[end + 4..]);
    if let Ok(mut log) = shared.log.lock() {
        log.push(what.clone());
    }
    // The account header goes right after the request line.
    let line_end = request.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let mut forwarded = request[..line_end + 2].to_vec();
    forwarded.extend_from_slice(format!("x-moto-account-id: {}\r\n", shared.account).as_bytes());
    forwarded.extend_from_slice(&request[line_end + 2..]);

    let mut fault = None;
    if shared.armed.load(Ordering::SeqCst) && (shared.filter)(&what) {
        let n = shared.matched.fetch_add(1, Ordering::SeqCst);
        if n == shared.position {
            shared.fired.store(true, Ordering::SeqCst);
            fault = Some(shared.fault);
        }
    }
    if fault == Some(Fault::ServerError) {
        let body = r#"{"__type":"InternalFailure","message":"injected"}"#;
        let reply = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(reply.as_bytes()).await?;
        return Ok(());
    }
    if fault == Some(Fault::Refuse) {
        // In the request's protocol: JSON for x-amz-target services (KMS, DynamoDB, Logs), the query protocol's
        // XML (IAM, SNS), REST-JSON (API Gateway, Lambda: the code in a header), S3's REST-XML.
        let lower = head.to_lowercase();
        let path = what.split_whitespace().nth(1).unwrap_or_default();
        let (headers, body) = if lower.contains("x-amz-target") {
            (
                "Content-Type: application/x-amz-json-1.1\r\n",
                r#"{"__type":"AccessDeniedException","message":"injected"}"#,
            )
        } else if lower.contains("x-www-form-urlencoded") {
            (
                "Content-Type: text/xml\r\n",
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>injected</Message></Error><RequestId>1</RequestId></ErrorResponse>",
            )
        } else if path.starts_with("/restapis") || path.starts_with("/20") || path.starts_with("/tags") {
            (
                "Content-Type: application/json\r\nx-amzn-ErrorType: AccessDeniedException\r\n",
                r#"{"message":"injected"}"#,
            )
        } else {
            ("Content-Type: application/xml\r\n", "<Error><Code>AccessDenied</Code><Message>injected</Message></Error>")
        };
        let reply = format!(
            "HTTP/1.1 403 Forbidden\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(reply.as_bytes()).await?;
        return Ok(());
    }
    if let Some(Fault::Delay(ms)) = fault {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut server = TcpStream::connect(&shared.upstream).await?;
    server.write_all(&forwarded).await?;
    let mut reply = Vec::new();
    server.read_to_end(&mut reply).await?;
    match fault {
        Some(Fault::LoseResponse) => drop(client),
        Some(Fault::Hold) => {
            shared.held.store(true, Ordering::SeqCst);
            // Until the test kills stackr (the client side then closes) or gives up.
            let mut byte = [0u8; 1];
            let _ = tokio::time::timeout(Duration::from_secs(30), client.read(&mut byte)).await;
        }
        _ => client.write_all(&reply).await?,
    }
    Ok(())
}

pub async fn proxy(account: &str, filter: Filter, position: usize, fault: Fault) -> FaultProxy {
    let upstream = stackr_providers::moto::moto().endpoint.trim_start_matches("http://").to_string();
    start(upstream, account.to_string(), filter, position, fault).await
}

/// Runs stackr to completion. Blocking, so it hands its tokio worker over first (`block_in_place`): a proxy task
/// spawned from this worker would otherwise wait, unstolen, in its LIFO slot until stackr gave up.
pub fn run(d: &Path, endpoint: &str, args: &[&str]) -> Output {
    tokio::task::block_in_place(|| command(d, endpoint).args(args).output().unwrap())
}

/// stackr through the proxy. Reconcile's wait for a create still in flight is short here: a killed run's last
/// request has always reached moto (or been refused) before the test goes on.
pub fn command(d: &Path, endpoint: &str) -> std::process::Command {
    let mut command = super::command_via(d, endpoint);
    command.env("STACKR_RECONCILE_SETTLE_MS", "100");
    command
}

pub fn spawn(d: &Path, endpoint: &str, args: &[&str]) -> Child {
    command(d, endpoint).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// SDK configuration for one moto account, through `endpoint`.
pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// Waits for a `Hold` fault to hold an answer back, then kills stackr: it dies just after a call took effect.
pub fn kill_when_held(child: Child, proxy: &FaultProxy) -> bool {
    tokio::task::block_in_place(|| kill_when_held_blocking(child, proxy))
}

fn kill_when_held_blocking(mut child: Child, proxy: &FaultProxy) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !proxy.holding() && Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let held = proxy.holding();
    let _ = child.kill();
    child.wait().unwrap();
    held
}
