//! What can go wrong in a provider call, classified once. AWS services name the same situation many ways
//! (`ResourceNotFoundException`, `NoSuchEntity`, `NotFoundException`; `Throttling`, `ThrottlingException`,
//! `TooManyRequestsException`): [`ProviderError::class`] maps every code stackr knows to one [`ErrorClass`], and
//! everything that decides (not found on read is gone, not found on delete is done, retry or not, adopt or not)
//! asks the class, never the code.

/// The kind of a provider error, whatever service raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// AWS refused the call for its rate before acting: retrying later is safe.
    Throttled,
    /// No answer, a lost connection, a timeout or a 5xx: the call may or may not have taken effect.
    Retryable,
    /// The resource does not exist.
    NotFound,
    /// No credentials, or not allowed.
    AccessDenied,
    /// The request is wrong (a bad value, a malformed document): retrying cannot help.
    Invalid,
    /// The resource exists already, or its state forbids the call now (in use, not empty, changed since read).
    Conflict,
    Other,
}

impl ErrorClass {
    /// Whether retrying the same call later can succeed.
    pub fn transient(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::Retryable)
    }

    /// Whether the failed call certainly changed nothing (so a create can be tried again at once).
    pub fn changed_nothing(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::NotFound | ErrorClass::AccessDenied | ErrorClass::Invalid)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// A call AWS (or the way to it) answered with an error: the operation, the service's code and message. The
    /// SDK error mapping sets `retryable` for failures that never got a service answer (timeouts, connections).
    #[error("{operation} failed: {code}: {message}")]
    Api { operation: String, code: String, message: String, retryable: bool },
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("stackr cannot manage {type_name} resources yet: this build has no provider for the type")]
    Unsupported { type_name: String },
    /// A create refused before it was sent: the name is held by a resource this stack's state does not record,
    /// which the create would fail on or (for the types whose create overwrites) take over.
    #[error(
        "{type_name} `{name}` already exists and this stack's state does not record it ({id}); stackr does not take over what it did not create: adopt it with `stackr import`, or choose another name"
    )]
    Taken { type_name: String, name: String, id: String },
    /// A create made the resource, and a call that completes it (a configuration call after the creating one)
    /// then failed: the resource exists and must be recorded; `cause` is what failed.
    #[error("{cause}")]
    Incomplete { created: Box<crate::provider::Created>, cause: Box<ProviderError> },
    #[error("{0}")]
    Other(String),
}

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
];
const NOT_FOUND: &[&str] = &[
    "NotFoundException",
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchEntity",
    "NotFound",
    "TableNotFoundException",
    "NoSuchKey",
    "NoSuchBucket",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ParameterNotFound",
];
const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "NoCredentials",
];
const CONFLICT: &[&str] = &[
    "ResourceInUseException",
    "ResourceConflictException",
    "ConflictException",
    "EntityAlreadyExists",
    "ResourceAlreadyExistsException",
    "AlreadyExistsException",
    "ResourceExistsException",
    "DeleteConflict",
    "BucketNotEmpty",
    "PreconditionFailed",
    "KMSInvalidStateException",
];
const INVALID: &[&str] = &[
    "ValidationException",
    "ValidationError",
    "InvalidParameterValueException",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameter",
    "InvalidRequestException",
    "BadRequestException",
    "MalformedPolicyDocument",
    "MalformedPolicyDocumentException",
    "InvalidArnException",
];
const SERVER: &[&str] =
    &["InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"];

impl ProviderError {
    /// The error with every text in `secrets` replaced by `(secret)`: AWS quotes the values it refuses
    /// (`Invalid keyId …`, `Value '…' at 'role'`), and a secret input must not come back through an error.
    pub fn redacted(self, secrets: &[String]) -> ProviderError {
        let hide = |text: String| secrets.iter().fold(text, |t, s| t.replace(s.as_str(), "(secret)"));
        if secrets.is_empty() {
            return self;
        }
        match self {
            ProviderError::Api { operation, code, message, retryable } => {
                ProviderError::Api { operation, code, message: hide(message), retryable }
            }
            ProviderError::Invalid(m) => ProviderError::Invalid(hide(m)),
            ProviderError::Other(m) => ProviderError::Other(hide(m)),
            ProviderError::Taken { type_name, name, id } => ProviderError::Taken { type_name, name, id },
            ProviderError::Incomplete { created, cause } => {
                ProviderError::Incomplete { created, cause: Box::new(cause.redacted(secrets)) }
            }
            other @ ProviderError::Unsupported { .. } => other,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            ProviderError::Api { code, retryable, .. } => {
                let code = code.as_str();
                if THROTTLED.contains(&code) {
                    ErrorClass::Throttled
                } else if NOT_FOUND.contains(&code) {
                    ErrorClass::NotFound
                } else if ACCESS_DENIED.contains(&code) {
                    ErrorClass::AccessDenied
                } else if CONFLICT.contains(&code) {
                    ErrorClass::Conflict
                } else if INVALID.contains(&code) {
                    ErrorClass::Invalid
                } else if *retryable || SERVER.contains(&code) || code.starts_with("Internal") {
                    ErrorClass::Retryable
                } else {
                    ErrorClass::Other
                }
            }
            ProviderError::Invalid(_) | ProviderError::Unsupported { .. } => ErrorClass::Invalid,
            ProviderError::Taken { .. } => ErrorClass::Conflict,
            ProviderError::Incomplete { cause, .. } => cause.class(),
            ProviderError::Other(_) => ErrorClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, retryable: bool) -> ProviderError {
        ProviderError::Api { operation: "Op".into(), code: code.into(), message: "m".into(), retryable }
    }

    #[test]
    fn every_service_spelling_maps_to_one_class() {
        let table = [
            ("ThrottlingException", ErrorClass::Throttled),
            ("Throttling", ErrorClass::Throttled),
            ("TooManyRequestsException", ErrorClass::Throttled),
            ("NoSuchEntity", ErrorClass::NotFound),
            ("ResourceNotFoundException", ErrorClass::NotFound),
            ("NoSuchKey", ErrorClass::NotFound),
            ("AccessDeniedException", ErrorClass::AccessDenied),
            ("AuthorizationError", ErrorClass::AccessDenied),
            ("NoCredentials", ErrorClass::AccessDenied),
            ("EntityAlreadyExists", ErrorClass::Conflict),
            ("ResourceInUseException", ErrorClass::Conflict),
            ("PreconditionFailed", ErrorClass::Conflict),
            ("ValidationException", ErrorClass::Invalid),
            ("MalformedPolicyDocument", ErrorClass::Invalid),
            ("InternalFailure", ErrorClass::Retryable),
            ("SomethingNew", ErrorClass::Other),
        ];
        for (code, class) in table {
            assert_eq!(api(code, false).class(), class, "{code}");
        }
        assert_eq!(api("Unreachable", true).class(), ErrorClass::Retryable);
        assert_eq!(api("Timeout", true).class(), ErrorClass::Retryable);
        assert_eq!(ProviderError::Invalid("x".into()).class(), ErrorClass::Invalid);
        assert!(ErrorClass::Throttled.transient() && ErrorClass::Throttled.changed_nothing());
        assert!(ErrorClass::Retryable.transient() && !ErrorClass::Retryable.changed_nothing());
        assert!(!ErrorClass::Conflict.transient());
    }
}
