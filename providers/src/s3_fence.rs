//! The S3 lock a run holds, as the run knows it: whether it can still act on the stack (see [`Fence`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use stackr_engine::provider::ProviderError;

use crate::aws::{api_error, found};

/// What a run knows of the S3 lock it holds: when its lease was last renewed, and whether the lock was lost.
///
/// An S3 lock is never taken over automatically, but `stackr state unlock` removes a lock whose lease ran out, and
/// a run can outlive its lease without knowing it (paused, suspended, cut off from S3). Such a run must not write
/// another journal object or state, or make another AWS call, once someone else may hold the stack: before each,
/// a lock renewed within half its lease is trusted; an older one is read back, and a lock that is no longer ours
/// stops the run for good (its journal writer is poisoned, so it schedules nothing more and commits nothing).
/// What remains is the one call already past its check when the process stopped (docs/STATE.md).
pub struct Fence {
    client: Client,
    bucket: String,
    key: String,
    lock_id: String,
    lease: Duration,
    renewed: Mutex<Instant>,
    lost: AtomicBool,
}

impl Fence {
    /// A fence for the lock object `key` holding `lock_id`, with a lease of `lease`, renewed just now.
    pub fn new(client: Client, bucket: String, key: String, lock_id: String, lease: Duration) -> Fence {
        Fence { client, bucket, key, lock_id, lease, renewed: Mutex::new(Instant::now()), lost: AtomicBool::new(false) }
    }

    /// Renewed just now (the lock object was rewritten with a new lease).
    pub fn renewed(&self) {
        if let Ok(mut at) = self.renewed.lock() {
            *at = Instant::now();
        }
    }

    /// The lock is no longer this run's: nothing more may be written.
    pub fn lose(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    fn lost_error(&self) -> ProviderError {
        ProviderError::Invalid(format!(
            "this run no longer holds its lock s3://{}/{} (removed with `stackr state unlock` after its lease ran out?): it stopped; another run may hold the stack now",
            self.bucket, self.key
        ))
    }

    /// Whether the lock is still this run's: trusted while renewed within half its lease, else read back.
    pub async fn check(&self) -> Result<(), ProviderError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(self.lost_error());
        }
        if self.fresh() {
            return Ok(());
        }
        // A renewal is overdue (the process was paused, or S3 did not answer): look before acting.
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            .map_err(|e| api_error("GetObject", e));
        let current = match found(object)? {
            Some(object) => object
                .body
                .collect()
                .await
                .map(|b| b.into_bytes().to_vec())
                .map_err(|e| ProviderError::Other(e.to_string()))?,
            None => Vec::new(),
        };
        let id = serde_json::from_slice::<serde_json::Value>(&current)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
        if id.as_deref() == Some(self.lock_id.as_str()) {
            Ok(())
        } else {
            self.lose();
            Err(self.lost_error())
        }
    }

    fn fresh(&self) -> bool {
        self.renewed.lock().map(|at| at.elapsed() < self.lease / 2).unwrap_or(false)
    }
}

#[async_trait::async_trait]
impl stackr_engine::provider::LockCheck for Fence {
    async fn still_held(&self) -> Result<(), String> {
        self.check().await.map_err(|e| e.to_string())
    }
}
