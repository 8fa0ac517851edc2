//! The `awskms://KEY` secrets provider: secrets in state are encrypted with a 256-bit data key that KMS
//! generates under KEY (an alias `alias/NAME`, a key id or a key ARN). The state records the data key encrypted
//! by KMS; each run asks KMS once to decrypt it. Without access to the KMS key, the state's secrets cannot be
//! read.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use stackr_engine::provider::ProviderError;
use stackr_state::secrets::{KeyCodec, SecretsConfig};

use crate::aws::api_error;

/// The KMS key a provider URL names: `awskms://alias/chatbot-state` → `alias/chatbot-state`.
pub fn key_of(url: &str) -> Option<&str> {
    url.strip_prefix("awskms://").filter(|k| !k.is_empty())
}

/// Opens the codec recorded in `existing` (one Decrypt call), or makes a new data key (one GenerateDataKey call).
pub async fn codec(
    config: &aws_config::SdkConfig,
    url: &str,
    existing: Option<&SecretsConfig>,
) -> Result<(KeyCodec, SecretsConfig), ProviderError> {
    let kms = aws_sdk_kms::Client::new(config);
    let invalid = |e: &dyn std::fmt::Display| ProviderError::Invalid(format!("secrets provider {url}: {e}"));
    if let Some(existing) = existing.filter(|c| c.provider == url) {
        let encrypted = existing.encrypted_key.as_deref().ok_or_else(|| invalid(&"the state records no data key"))?;
        let blob = STANDARD.decode(encrypted).map_err(|e| invalid(&e))?;
        let decrypted =
            kms.decrypt().ciphertext_blob(Blob::new(blob)).send().await.map_err(|e| api_error("Decrypt", e))?;
        let key = decrypted.plaintext().ok_or_else(|| invalid(&"KMS returned no plaintext"))?;
        let codec = KeyCodec::from_key(key.as_ref()).map_err(|e| invalid(&e))?;
        codec.verify(&existing.check).map_err(|e| invalid(&e))?;
        return Ok((codec, existing.clone()));
    }
    let key_id = key_of(url).ok_or_else(|| invalid(&"expected awskms://KEY"))?;
    let generated = kms
        .generate_data_key()
        .key_id(key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .map_err(|e| api_error("GenerateDataKey", e))?;
    let plaintext = generated.plaintext().ok_or_else(|| invalid(&"KMS returned no data key"))?;
    let encrypted = generated.ciphertext_blob().ok_or_else(|| invalid(&"KMS returned no encrypted data key"))?;
    let codec = KeyCodec::from_key(plaintext.as_ref()).map_err(|e| invalid(&e))?;
    let check = codec.check_value().map_err(|e| invalid(&e))?;
    Ok((
        codec,
        SecretsConfig {
            provider: url.to_string(),
            salt: None,
            encrypted_key: Some(STANDARD.encode(encrypted.as_ref())),
            check,
        },
    ))
}
