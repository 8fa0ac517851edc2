//! The AWS side every provider shares: SDK configuration from the standard chain (profiles, environment,
//! `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, SSO, credential processes), the stack's region over
//! the environment's, retries with backoff for throttling and 5xx, and one mapping of SDK errors to
//! [`ProviderError`]: the operation, the AWS error code and its message, on one line.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stackr_engine::provider::ProviderError;

/// Loads the SDK configuration. `region` (the stack's) wins over the environment's.
pub async fn load_config(region: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(6).with_max_backoff(Duration::from_secs(20)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    loader.load().await
}

/// An SDK error as a provider error: `CreateTable failed: ResourceInUseException: Table already exists`.
pub fn api_error<E, R>(operation: &str, error: aws_sdk_sts::error::SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_sts::error::SdkError;
    let retryable = matches!(error, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_));
    let (code, message) = match (error.code(), error.message()) {
        (Some(code), message) => (code.to_string(), message.unwrap_or("").to_string()),
        (None, _) => match &error {
            SdkError::DispatchFailure(_) => ("Unreachable".to_string(), DisplayErrorContext(&error).to_string()),
            SdkError::TimeoutError(_) => ("Timeout".to_string(), DisplayErrorContext(&error).to_string()),
            _ => ("Error".to_string(), DisplayErrorContext(&error).to_string()),
        },
    };
    ProviderError::Api { operation: operation.to_string(), code, message, retryable }
}

/// True for the error codes AWS services use for "no such resource".
pub fn is_not_found(error: &ProviderError) -> bool {
    match error {
        ProviderError::Api { code, .. } => matches!(
            code.as_str(),
            "NotFoundException"
                | "ResourceNotFoundException"
                | "ResourceNotFound"
                | "NoSuchEntity"
                | "NotFound"
                | "TableNotFoundException"
                | "NoSuchKey"
        ),
        _ => false,
    }
}

/// The caller's account id (`${stackr.accountId}`), from STS.
pub async fn account_id(config: &SdkConfig) -> Result<String, ProviderError> {
    let sts = aws_sdk_sts::Client::new(config);
    let identity = sts.get_caller_identity().send().await.map_err(|e| api_error("GetCallerIdentity", e))?;
    identity.account().map(str::to_string).ok_or_else(|| ProviderError::Other("STS returned no account id".into()))
}

/// A read's result with "not found" as `None`: the resource is gone.
pub fn found<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A delete's result with "not found" as success: the resource is gone either way.
pub fn gone_is_done(result: Result<(), ProviderError>) -> Result<(), ProviderError> {
    found(result).map(|_| ())
}

/// What an update reads back: the resource must still exist.
pub fn still_there<T>(observed: Option<T>, what: &str, id: &str) -> Result<T, ProviderError> {
    observed.ok_or_else(|| ProviderError::Other(format!("{what} {id} disappeared during the update")))
}
