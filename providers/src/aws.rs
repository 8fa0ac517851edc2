//! The AWS side every provider shares: SDK configuration from the standard chain (profiles, environment,
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, SSO, credential processes), the stack's region over
//! the environment's, retries with backoff for throttling and 5xx, and one mapping of SDK errors to
//! [`ProviderError`]: the operation, the AWS error code and its message, on one line.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackr_engine::provider::{ErrorClass, ProviderError};

/// Loads the SDK configuration. `region` (the stack's) wins over the environment's.
///
/// Throttling is retried up to six times with backoff; each attempt may take 30 s (a Lambda zip upload is the
/// slowest call stackr makes), and one call with all its retries at most 2 minutes, so an endpoint that accepts
/// connections and never answers fails a command in about two minutes, not the six-plus of 6 x 60 s attempts.
pub async fn load_config(region: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(6).with_max_backoff(Duration::from_secs(20)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    loader.load().await
}

/// An SDK error as a provider error, on one line: `CreateTable failed: ResourceInUseException: Table already
/// exists`. Errors that never reached the service (no credentials, no connection, a timeout, an unreadable
/// response) are named in words, never as the SDK's nested Debug dump.
pub fn api_error<E, R>(operation: &str, error: aws_sdk_sts::error::SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_sts::error::SdkError;
    if let (SdkError::ServiceError(_), Some(code)) = (&error, error.code()) {
        // The service answered: its code says what happened (ProviderError::class).
        let message = error.message().unwrap_or("").to_string();
        return ProviderError::Api {
            operation: operation.to_string(),
            code: code.to_string(),
            message,
            retryable: false,
        };
    }
    let causes = causes(&error);
    let deepest = causes.last().cloned().unwrap_or_default();
    let (code, message, retryable) = if causes.iter().any(|c| mentions_missing_credentials(c)) {
        (
            "NoCredentials",
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
            false,
        )
    } else {
        match &error {
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                ("Timeout", format!("no answer from the AWS endpoint in time ({deepest})"), true)
            }
            SdkError::DispatchFailure(failure) if failure.is_io() => {
                ("Unreachable", format!("cannot connect to the AWS endpoint: {deepest}"), true)
            }
            SdkError::DispatchFailure(_) => ("Unreachable", format!("the request could not be sent: {deepest}"), true),
            SdkError::TimeoutError(_) => ("Timeout", "no answer from the AWS endpoint in time".to_string(), true),
            SdkError::ConstructionFailure(_) => {
                ("RequestFailed", format!("the request could not be built: {deepest}"), false)
            }
            SdkError::ResponseError(_) => ("BadResponse", format!("the response could not be read: {deepest}"), true),
            _ => match error.code() {
                Some(code) => {
                    return ProviderError::Api {
                        operation: operation.to_string(),
                        code: code.to_string(),
                        message: error.message().unwrap_or("").to_string(),
                        retryable: false,
                    }
                }
                None => ("Error", deepest, false),
            },
        }
    };
    ProviderError::Api { operation: operation.to_string(), code: code.to_string(), message, retryable }
}

/// The error's chain of causes, outermost first, each as its own message (one line each, no Debug output).
fn causes(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string().lines().next().unwrap_or_default().trim().to_string();
        if !text.is_empty() && out.last() != Some(&text) {
            out.push(text);
        }
        current = e.source();
    }
    out
}

fn mentions_missing_credentials(cause: &str) -> bool {
    let lower = cause.to_lowercase();
    lower.contains("credentials")
        && (lower.contains("no ") || lower.contains("not loaded") || lower.contains("failed to load"))
        || lower.contains("no providers in chain provided credentials")
        // The chain's last provider, the instance metadata service, refused: there were no credentials anywhere.
        || lower.contains("imds is disabled")
}

/// True for the error codes AWS services use for "no such resource" (see [`ErrorClass`]).
pub fn is_not_found(error: &ProviderError) -> bool {
    error.class() == ErrorClass::NotFound
}

/// `.call("Operation")` on an SDK call's result: its error as a [`ProviderError`] (see [`api_error`]).
pub trait Call<T> {
    fn call(self, operation: &str) -> Result<T, ProviderError>;
}

impl<T, E, R> Call<T> for Result<T, aws_sdk_sts::error::SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn call(self, operation: &str) -> Result<T, ProviderError> {
        self.map_err(|e| api_error(operation, e))
    }
}

/// A resource type's struct: the service client its calls use, made from the one SDK configuration.
macro_rules! sdk_type {
    ($(#[$doc:meta])* $name:ident, $client:ty) => {
        $(#[$doc])*
        pub struct $name {
            pub(crate) client: $client,
        }

        impl $name {
            pub fn new(config: &aws_config::SdkConfig) -> $name {
                $name::with_client(<$client>::new(config))
            }

            /// On a given client (tests use mocked clients).
            pub fn with_client(client: $client) -> $name {
                $name { client }
            }
        }
    };
}
pub(crate) use sdk_type;

/// For calls that are not idempotent (a create with no unique name): the SDK must not retry them on its own.
pub fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

/// True when AWS refused the call for lack of permission.
pub fn is_access_denied(error: &ProviderError) -> bool {
    error.class() == ErrorClass::AccessDenied
}

/// The caller's account id (`${stackr.accountId}`), from STS.
pub async fn account_id(config: &SdkConfig) -> Result<String, ProviderError> {
    let sts = aws_sdk_sts::Client::new(config);
    let identity = sts.get_caller_identity().send().await.map_err(|e| api_error("GetCallerIdentity", e))?;
    identity.account().map(str::to_string).ok_or_else(|| ProviderError::Other("STS returned no account id".into()))
}

/// Who the providers act as: the account STS names for the credentials, and the configuration's region.
pub struct StsIdentity {
    config: SdkConfig,
}

impl StsIdentity {
    pub fn new(config: &SdkConfig) -> StsIdentity {
        StsIdentity { config: config.clone() }
    }
}

#[async_trait::async_trait]
impl stackr_engine::provider::Identity for StsIdentity {
    async fn caller(&self) -> Result<stackr_engine::provider::Caller, ProviderError> {
        let account = account_id(&self.config).await?;
        let region = self.config.region().map(|r| r.to_string()).unwrap_or_default();
        Ok(stackr_engine::provider::Caller { account, region })
    }
}

/// A read's result with "not found" as `None`: the resource is gone.
pub fn found<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// An SDK builder's result (a required field missing) as a provider error: the input cannot be sent.
pub fn built<T>(result: Result<T, aws_smithy_types::error::operation::BuildError>) -> Result<T, ProviderError> {
    result.map_err(|e| ProviderError::Invalid(e.to_string()))
}
