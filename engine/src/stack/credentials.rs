//! Environment variables a stack may not read with `fromEnv`: the credentials stackr and the AWS SDK act with,
//! and the CI job tokens next to them. A stack in a pull request is untrusted input planned with these in the
//! environment; reading one into a config value would print it in the plan (docs/SECURITY.md). The list is
//! exact names and prefixes, compared case-insensitively (Windows environments ignore case).

const NAMES: &[&str] = &[
    "STACKR_PASSPHRASE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    // The AWS SDK reads the secret key from this name too.
    "SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
];

const PREFIXES: &[&str] = &["AWS_BEARER_TOKEN_", "CI_JOB_JWT_"];

/// Whether `var` names a credential a stack must not read.
pub fn is_credential(var: &str) -> bool {
    let upper = var.to_ascii_uppercase();
    NAMES.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_known_by_name_and_prefix_in_any_case() {
        for var in [
            "STACKR_PASSPHRASE",
            "aws_secret_access_key",
            "SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_BEARER_TOKEN_BEDROCK",
            "GH_TOKEN",
        ] {
            assert!(is_credential(var), "{var}");
        }
        for var in ["OPENAI_API_KEY", "AWS_REGION", "STACKR_ENV", "HOME"] {
            assert!(!is_credential(var), "{var}");
        }
    }
}
