//! Test support (feature `moto`): one `moto_server` per test process on a free loopback port, stopped by a
//! watchdog when the process exits, and SDK configuration pointing at it. Used by the provider tests and the
//! end-to-end tests; never by stackr itself.

#![allow(clippy::expect_used, clippy::panic)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kms::config::Credentials;

pub struct Moto {
    pub endpoint: String,
    _watchdog: Child,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The shared moto server, started on first use (needs `pip install 'moto[server]'`).
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
        let parent = std::process::id();
        // The watchdog stops moto when this process is gone, however it ends.
        // scripts/moto_server.py: moto, with two S3 answers whose root element it names wrongly put right.
        let server = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/moto_server.py");
        let script = format!(
            "python3 {server} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & child=$!; \
             while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $child"
        );
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                panic!("moto_server did not start on port {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { endpoint: format!("http://127.0.0.1:{port}"), _watchdog: watchdog }
    })
}

/// SDK configuration for moto: its endpoint, dummy credentials, us-east-1.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto().endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}
