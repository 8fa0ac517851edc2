//! Waiting for AWS: polling until a resource is ready, and retrying a call AWS refuses only for now. Both back
//! off (doubling up to a ceiling) and give up at a deadline, naming what they waited for.

use std::future::Future;
use std::time::{Duration, Instant};

use stackr_engine::provider::ProviderError;

/// What one poll found.
pub enum Poll {
    Ready,
    NotYet,
    /// It will never be ready: why.
    Failed(String),
}

/// Polls `check` (200 ms apart at first, then up to 5 s) until it reports ready, for at most `deadline`.
pub async fn until_ready<F, Fut>(what: &str, deadline: Duration, mut check: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll, ProviderError>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match check().await? {
            Poll::Ready => return Ok(()),
            Poll::Failed(why) => return Err(ProviderError::Other(format!("{what} failed to become ready: {why}"))),
            Poll::NotYet if started.elapsed() >= deadline => {
                return Err(ProviderError::Other(format!("{what} was not ready after {} s", deadline.as_secs())))
            }
            Poll::NotYet => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Calls `call` again (1 s apart at first, then up to 10 s) while it fails with an error `for_now` says will
/// pass, for at most `deadline`; any other outcome is returned as it is.
pub async fn retry_while<T, F, Fut>(
    deadline: Duration,
    for_now: impl Fn(&ProviderError) -> bool,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        match call().await {
            Err(error) if for_now(&error) && started.elapsed() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}
