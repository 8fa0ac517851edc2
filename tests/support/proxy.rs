//! A fault-injecting HTTP proxy between stackr and moto: on a chosen fraction of requests it answers a 500, a
//! throttling error in the request's protocol, or closes the connection before forwarding (so a retried request
//! never ran twice); it delays some others. Decisions come from a fixed sequence, so a failure reproduces.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub throttles: AtomicU64,
    pub resets: AtomicU64,
    pub delays: AtomicU64,
}

pub struct FaultProxy {
    pub endpoint: String,
    pub counts: Arc<Counts>,
}

/// Starts the proxy in front of `upstream` (`127.0.0.1:PORT`), faulting `percent` of requests.
pub async fn start(upstream: String, percent: u64) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    tokio::spawn(async move {
        let sequence = Arc::new(AtomicU64::new(0x5eed));
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let (upstream, counts, sequence) = (upstream.clone(), Arc::clone(&shared), Arc::clone(&sequence));
            tokio::spawn(async move {
                let _ = serve(client, &upstream, percent, &counts, &sequence).await;
            });
        }
    });
    FaultProxy { endpoint, counts }
}

fn next(sequence: &AtomicU64) -> u64 {
    let value = sequence.fetch_add(1, Ordering::SeqCst);
    value.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 33
}

fn response(status: &str, headers: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        .into_bytes()
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    percent: u64,
    counts: &Counts,
    sequence: &AtomicU64,
) -> std::io::Result<()> {
    // One request per connection: every answer says `Connection: close`, as moto's do.
    let Some((_, request)) = super::faults::read_request(&mut client).await? else { return Ok(()) };
    counts.requests.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&request[..request.len().min(2048)]).to_lowercase();
    let roll = next(sequence) % 100;
    if roll < percent {
        match roll % 3 {
            0 => {
                counts.errors.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"__type":"InternalFailure","message":"injected"}"#;
                client
                    .write_all(&response("500 Internal Server Error", "Content-Type: application/json\r\n", body))
                    .await?;
            }
            1 => {
                counts.throttles.fetch_add(1, Ordering::SeqCst);
                let reply = if head.contains("x-www-form-urlencoded") {
                    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";
                    response("400 Bad Request", "Content-Type: text/xml\r\n", body)
                } else if head.contains("x-amz-target") {
                    response(
                        "400 Bad Request",
                        "Content-Type: application/x-amz-json-1.1\r\n",
                        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                    )
                } else {
                    response(
                        "429 Too Many Requests",
                        "Content-Type: application/json\r\nx-amzn-ErrorType: TooManyRequestsException\r\n",
                        r#"{"message":"Rate exceeded"}"#,
                    )
                };
                client.write_all(&reply).await?;
            }
            _ => {
                counts.resets.fetch_add(1, Ordering::SeqCst);
                // Closed before forwarding: the request never reached AWS, so retrying it is safe.
                drop(client);
            }
        }
        return Ok(());
    }
    if roll >= 95 {
        counts.delays.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request).await?;
    let mut reply = Vec::new();
    server.read_to_end(&mut reply).await?;
    client.write_all(&reply).await?;
    Ok(())
}
