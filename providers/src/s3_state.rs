//! Team state on S3 (`backend: s3://BUCKET/PREFIX?region=R`). Knows objects, not stacks:
//! - the state is `PREFIX/<stack>.state.json`, written only if its ETag is still the one it was read with
//!   (`If-Match`), or, for a new stack, only if it does not exist yet (`If-None-Match: *`): a write from a stale
//!   base is refused;
//! - the lock is `PREFIX/<stack>.lock`, created with `If-None-Match: *` and holding who took it;
//! - the journal is `PREFIX/<stack>.journal/<sequence>`, one object per group-commit batch, read back in order.

use std::sync::Mutex;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use stackr_engine::provider::ProviderError;
use stackr_state::journal::JournalSink;

use crate::aws::{api_error, found, is_not_found};

pub struct S3Store {
    client: Client,
    pub bucket: String,
    prefix: String,
    /// ETag of the state object as last read or written.
    etag: Mutex<Option<String>>,
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
            builder = builder.region(aws_sdk_s3::config::Region::new(region.to_string()));
        }
        Ok(S3Store {
            client: Client::from_conf(builder.build()),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            etag: Mutex::new(None),
        })
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
        let Some(object) = found(
            self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| api_error("GetObject", e)),
        )?
        else {
            return Ok(None);
        };
        let etag = object.e_tag().unwrap_or_default().to_string();
        let bytes = object.body.collect().await.map_err(|e| ProviderError::Other(format!("GetObject {key}: {e}")))?;
        Ok(Some((bytes.into_bytes().to_vec(), etag)))
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
        let key = self.key(&format!("{stack}.state.json"));
        let expected = self.etag.lock().map_err(|_| ProviderError::Other("lock poisoned".into()))?.clone();
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
            Err(e) if precondition_failed(&e) => Err(ProviderError::Invalid(format!(
                "s3://{}/{key} changed since it was read (another writer): refusing to overwrite it",
                self.bucket
            ))),
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
            .body(ByteStream::from(holder))
            .send()
            .await;
        match put.map_err(|e| api_error("PutObject", e)) {
            Ok(out) => Ok(LockAttempt::Taken { etag: out.e_tag().unwrap_or_default().to_string() }),
            Err(e) if precondition_failed(&e) => match self.get(&key).await? {
                Some((holder, etag)) => Ok(LockAttempt::Held { holder, etag }),
                // Released in between: try once more.
                None => Box::pin(self.lock(stack, Vec::new())).await,
            },
            Err(e) => Err(e),
        }
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
                .map_err(|e| api_error("ListObjectsV2", e))?;
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

    pub async fn remove_journal(&self, stack: &str) -> Result<(), ProviderError> {
        for key in self.journal_keys(stack).await? {
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

    /// A sink storing each batch as the next object after those already there.
    pub async fn journal_sink(&self, stack: &str) -> Result<S3JournalSink, ProviderError> {
        let next = self.journal_keys(stack).await?.len() as u64;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProviderError::Other(format!("cannot start the journal's runtime: {e}")))?;
        Ok(S3JournalSink {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            prefix: self.journal_prefix(stack),
            next,
            runtime,
        })
    }
}

/// Stores journal batches as objects; runs on the journal's writer thread, with a runtime of its own.
pub struct S3JournalSink {
    client: Client,
    bucket: String,
    prefix: String,
    next: u64,
    runtime: tokio::runtime::Runtime,
}

impl JournalSink for S3JournalSink {
    fn write_batch(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let key = format!("{}{:012}", self.prefix, self.next);
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()));
        self.runtime
            .block_on(request.send())
            .map_err(|e| std::io::Error::other(api_error("PutObject", e).to_string()))?;
        self.next += 1;
        Ok(())
    }
}
