//! Team state on S3 (`backend: s3://BUCKET/PREFIX?region=R`). Knows objects, not stacks:
//! - the state is `PREFIX/<stack>.state.json`, written only if its ETag is still the one it was read with
//!   (`If-Match`), or, for a new stack, only if it does not exist yet (`If-None-Match: *`): a write from a stale
//!   base is refused;
//! - the lock is `PREFIX/<stack>.lock`, created with `If-None-Match: *` and holding who took it; its holder renews
//!   the lease while it runs (rewriting it with `If-Match`), and a lock is never taken over automatically;
//! - the journal is `PREFIX/<stack>.journal/<sequence>`, one object per group-commit batch (`If-None-Match: *`),
//!   read back in order, numbered after the highest one present, removed newest first (so a removal cut short
//!   leaves a prefix of the journal, never a journal without its Begin record).
//!
//! A conditional PUT whose response was lost is retried by the SDK and then fails with 412; when the object
//! holds exactly the bytes we sent, the first attempt succeeded, and so does the call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use stackr_engine::provider::ProviderError;
use stackr_state::journal::JournalSink;

use crate::aws::{api_error, found, is_not_found};
pub use crate::s3_fence::Fence;

pub struct S3Store {
    client: Client,
    pub bucket: String,
    prefix: String,
    /// ETag of the state object as last read or written.
    etag: Mutex<Option<String>>,
    /// The lock this run holds, once it holds one: every write checks it first.
    fence: Arc<Mutex<Option<Arc<Fence>>>>,
}

/// A lock object's outcome.
pub enum LockAttempt {
    Taken { etag: String },
    Held { holder: Vec<u8>, etag: String },
}

fn precondition_failed(error: &ProviderError) -> bool {
    matches!(error, ProviderError::Api { code, .. } if code == "PreconditionFailed" || code == "412")
}

impl S3Store {
    /// `s3://BUCKET/PREFIX?region=R`; the region defaults to the configuration's.
    pub fn from_url(url: &str, config: &aws_config::SdkConfig) -> Result<S3Store, ProviderError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| ProviderError::Invalid(format!("{url}: expected s3://BUCKET/PREFIX")))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(ProviderError::Invalid(format!("{url}: no bucket")));
        }
        let mut builder = aws_sdk_s3::config::Builder::from(config).force_path_style(true);
        if let Some(region) = query.split('&').find_map(|p| p.strip_prefix("region=")) {
            if !stackr_engine::stack::names::is_region(region) {
                return Err(ProviderError::Invalid(format!("{url}: {region:?} is not a region")));
            }
            builder = builder.region(aws_sdk_s3::config::Region::new(region.to_string()));
        }
        Ok(S3Store {
            client: Client::from_conf(builder.build()),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            etag: Mutex::new(None),
            fence: Arc::new(Mutex::new(None)),
        })
    }

    /// Another handle on the same bucket, prefix and lock (for the lease renewal thread).
    pub fn handle(&self) -> S3Store {
        S3Store {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            etag: Mutex::new(None),
            fence: Arc::clone(&self.fence),
        }
    }

    /// The lock this run holds, if any.
    pub fn fence(&self) -> Option<Arc<Fence>> {
        self.fence.lock().ok().and_then(|f| f.clone())
    }

    /// Before a write: fails when this run held a lock and it is no longer its own.
    async fn ensure_locked(&self) -> Result<(), ProviderError> {
        match self.fence() {
            Some(fence) => fence.check().await,
            None => Ok(()),
        }
    }

    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, ProviderError> {
        let got =
            self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| api_error("GetObject", e));
        let Some(object) = found(self.bucket_exists(got)?)? else {
            return Ok(None);
        };
        let etag = object.e_tag().unwrap_or_default().to_string();
        let bytes = object.body.collect().await.map_err(|e| ProviderError::Other(format!("GetObject {key}: {e}")))?;
        Ok(Some((bytes.into_bytes().to_vec(), etag)))
    }

    /// A missing bucket is not a missing object: read as "no state yet", it would plan the whole stack anew.
    fn bucket_exists<T>(&self, result: Result<T, ProviderError>) -> Result<Result<T, ProviderError>, ProviderError> {
        match result {
            Err(ProviderError::Api { code, .. }) if code == "NoSuchBucket" => Err(ProviderError::Invalid(format!(
                "the state bucket {} does not exist (or is in another account or region)",
                self.bucket
            ))),
            other => Ok(other),
        }
    }

    /// The state object's bytes, remembering its ETag for the next write.
    pub async fn load(&self, stack: &str) -> Result<Option<Vec<u8>>, ProviderError> {
        let loaded = self.get(&self.key(&format!("{stack}.state.json"))).await?;
        let mut etag = self.etag.lock().map_err(|_| ProviderError::Other("lock poisoned".into()))?;
        *etag = loaded.as_ref().map(|(_, e)| e.clone());
        Ok(loaded.map(|(bytes, _)| bytes))
    }

    /// Writes the state object if nobody else wrote it since it was read.
    pub async fn persist(&self, stack: &str, bytes: Vec<u8>) -> Result<(), ProviderError> {
        self.ensure_locked().await?;
        let key = self.key(&format!("{stack}.state.json"));
        let expected = self.etag.lock().map_err(|_| ProviderError::Other("lock poisoned".into()))?.clone();
        let sent = bytes.clone();
        let mut request = self.client.put_object().bucket(&self.bucket).key(&key).body(ByteStream::from(bytes));
        request = match &expected {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await.map_err(|e| api_error("PutObject", e)) {
            Ok(out) => {
                *self.etag.lock().map_err(|_| ProviderError::Other("lock poisoned".into()))? =
                    out.e_tag().map(str::to_string);
                Ok(())
            }
            Err(e) if precondition_failed(&e) => match self.get(&key).await? {
                // Our own write landed and its answer was lost; the SDK's retry then met our new ETag.
                Some((stored, etag)) if stored == sent => {
                    *self.etag.lock().map_err(|_| ProviderError::Other("lock poisoned".into()))? = Some(etag);
                    Ok(())
                }
                _ => Err(ProviderError::Invalid(format!(
                    "s3://{}/{key} changed since it was read (another writer): refusing to overwrite it",
                    self.bucket
                ))),
            },
            Err(e) => Err(e),
        }
    }

    /// Creates the lock object, or reports who holds it.
    pub async fn lock(&self, stack: &str, holder: Vec<u8>) -> Result<LockAttempt, ProviderError> {
        let key = self.key(&format!("{stack}.lock"));
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(holder.clone()))
            .send()
            .await;
        match self.bucket_exists(put.map_err(|e| api_error("PutObject", e)))? {
            Ok(out) => {
                self.hold(&key, &holder);
                Ok(LockAttempt::Taken { etag: out.e_tag().unwrap_or_default().to_string() })
            }
            Err(e) if precondition_failed(&e) => match self.get(&key).await? {
                // Our own first attempt landed and its response was lost: the lock is ours.
                Some((current, etag)) if current == holder => {
                    self.hold(&key, &holder);
                    Ok(LockAttempt::Taken { etag })
                }
                Some((current, etag)) => Ok(LockAttempt::Held { holder: current, etag }),
                // Released in between: try once more, with the same holder.
                None => Box::pin(self.lock(stack, holder)).await,
            },
            Err(e) => Err(e),
        }
    }

    /// Records the lock this run now holds (its id and lease from the lock record).
    fn hold(&self, key: &str, holder: &[u8]) {
        let record: serde_json::Value = serde_json::from_slice(holder).unwrap_or_default();
        let lock_id = record.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let lease = Duration::from_secs(record.get("lease_seconds").and_then(|v| v.as_u64()).unwrap_or(0));
        let fence = Fence::new(self.client.clone(), self.bucket.clone(), key.to_string(), lock_id, lease);
        if let Ok(mut held) = self.fence.lock() {
            *held = Some(Arc::new(fence));
        }
    }

    /// Rewrites our lock object (renewing its lease) if it is still the one with `etag`; returns the new ETag.
    pub async fn renew(&self, stack: &str, holder: Vec<u8>, etag: &str) -> Result<String, ProviderError> {
        let key = self.key(&format!("{stack}.lock"));
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .if_match(etag)
            .body(ByteStream::from(holder.clone()))
            .send()
            .await;
        let renewed = match put.map_err(|e| api_error("PutObject", e)) {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) if precondition_failed(&e) => match self.get(&key).await? {
                // Still our lock (an earlier renewal landed and its answer was lost): same lock id.
                Some((current, etag)) if same_lock(&current, &holder) => Ok(etag),
                _ => {
                    if let Some(fence) = self.fence() {
                        fence.lose();
                    }
                    Err(ProviderError::Invalid(format!(
                        "s3://{}/{key} is no longer this run's lock (removed with `stackr state unlock`?)",
                        self.bucket
                    )))
                }
            },
            Err(e) => Err(e),
        };
        if let (Ok(_), Some(fence)) = (&renewed, self.fence()) {
            fence.renewed();
        }
        renewed
    }

    /// The lock object's contents, if a lock is held.
    pub async fn lock_holder(&self, stack: &str) -> Result<Option<Vec<u8>>, ProviderError> {
        Ok(self.get(&self.key(&format!("{stack}.lock"))).await?.map(|(bytes, _)| bytes))
    }

    /// Deletes the lock object; with `etag`, only if it is still that object.
    pub async fn unlock(&self, stack: &str, etag: Option<&str>) -> Result<Option<Vec<u8>>, ProviderError> {
        let key = self.key(&format!("{stack}.lock"));
        let holder = self.get(&key).await?.map(|(bytes, _)| bytes);
        let mut request = self.client.delete_object().bucket(&self.bucket).key(&key);
        if let Some(etag) = etag {
            request = request.if_match(etag);
        }
        match request.send().await.map_err(|e| api_error("DeleteObject", e)) {
            Ok(_) => Ok(holder),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn journal_prefix(&self, stack: &str) -> String {
        self.key(&format!("{stack}.journal/"))
    }

    async fn journal_keys(&self, stack: &str) -> Result<Vec<String>, ProviderError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(self.journal_prefix(stack))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| api_error("ListObjectsV2", e));
            let page = self.bucket_exists(page)??;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Every journal batch, in order, concatenated.
    pub async fn read_journal(&self, stack: &str) -> Result<Vec<u8>, ProviderError> {
        let mut bytes = Vec::new();
        for key in self.journal_keys(stack).await? {
            if let Some((batch, _)) = self.get(&key).await? {
                bytes.extend(batch);
            }
        }
        Ok(bytes)
    }

    /// Deletes the journal's objects newest first: a removal cut short leaves its first records, Begin
    /// included, so what remains is still a journal the next run can read (and recognise as compacted).
    pub async fn remove_journal(&self, stack: &str) -> Result<(), ProviderError> {
        self.ensure_locked().await?;
        for key in self.journal_keys(stack).await?.into_iter().rev() {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| api_error("DeleteObject", e))?;
        }
        Ok(())
    }

    /// A sink storing each batch as the next object after the highest one already there.
    pub async fn journal_sink(&self, stack: &str) -> Result<S3JournalSink, ProviderError> {
        let prefix = self.journal_prefix(stack);
        let next = next_sequence(&prefix, &self.journal_keys(stack).await?);
        Ok(S3JournalSink {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            prefix: self.journal_prefix(stack),
            next,
            // The runtime this is called on: the process has one.
            runtime: tokio::runtime::Handle::current(),
            fence: self.fence(),
        })
    }
}

/// Stores journal batches as objects; runs on the journal's writer thread, blocking on the process's runtime.
pub struct S3JournalSink {
    client: Client,
    bucket: String,
    prefix: String,
    next: u64,
    runtime: tokio::runtime::Handle,
    fence: Option<Arc<Fence>>,
}

/// Whether two lock records are the same lock (the same id), whatever their renewal times.
fn same_lock(a: &[u8], b: &[u8]) -> bool {
    let id = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok().and_then(|v| v.get("id").cloned());
    matches!((id(a), id(b)), (Some(x), Some(y)) if x == y)
}

/// The number after the highest `<prefix><sequence>` key (keys are zero-padded, but a leftover of another
/// width or a gap must not make two batches share a number).
fn next_sequence(prefix: &str, keys: &[String]) -> u64 {
    keys.iter().filter_map(|k| k.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok())).max().map_or(0, |n| n + 1)
}

impl S3JournalSink {
    /// Writes one batch while the run holds its lock. Checked before the PUT, and again after it: a run stopped
    /// between the first check and the PUT (paused past its lease) can land a batch after another run took the
    /// stack over, which would leave that run's prefix with an object no Begin record announces. Found after
    /// the fact, the batch is deleted again (only while it is still our object).
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ProviderError> {
        if let Some(fence) = &self.fence {
            fence.check().await?;
        }
        self.put_object(key, bytes).await?;
        if let Some(fence) = &self.fence {
            if let Err(lost) = fence.check().await {
                let stored = self.client.get_object().bucket(&self.bucket).key(key).send().await;
                if let Ok(object) = stored {
                    let etag = object.e_tag().map(str::to_string);
                    let ours = object.body.collect().await.map(|b| b.into_bytes().to_vec()).ok();
                    if let (Some(etag), Some(true)) = (etag, ours.map(|o| o == bytes)) {
                        let _ = self.client.delete_object().bucket(&self.bucket).key(key).if_match(etag).send().await;
                    }
                }
                return Err(lost);
            }
        }
        Ok(())
    }

    async fn put_object(&self, key: &str, bytes: &[u8]) -> Result<(), ProviderError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()));
        match request.send().await.map_err(|e| api_error("PutObject", e)) {
            Ok(_) => Ok(()),
            Err(e) if precondition_failed(&e) => {
                // Either our own earlier attempt (its response lost, the SDK retried) or another writer's batch.
                let stored = self.client.get_object().bucket(&self.bucket).key(key).send().await;
                let stored = match stored {
                    Ok(object) => object.body.collect().await.map(|b| b.into_bytes().to_vec()).ok(),
                    Err(_) => None,
                };
                if stored.as_deref() == Some(bytes) {
                    Ok(())
                } else {
                    Err(ProviderError::Invalid(format!(
                        "s3://{}/{key} already holds another batch (another writer?)",
                        self.bucket
                    )))
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl JournalSink for S3JournalSink {
    fn write_batch(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let key = format!("{}{:012}", self.prefix, self.next);
        self.runtime.block_on(self.put(&key, bytes)).map_err(|e| std::io::Error::other(e.to_string()))?;
        self.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::next_sequence;

    #[test]
    fn batches_are_numbered_after_the_highest_key() {
        let keys = ["p/000000000000", "p/000000000001", "p/000000000007"].map(String::from);
        assert_eq!(next_sequence("p/", &keys), 8, "not the count (3), which would collide with a leftover");
        assert_eq!(next_sequence("p/", &[]), 0);
        assert_eq!(next_sequence("p/", &["p/junk".to_string()]), 0);
    }
}
