//! The `awskms://KEY` secrets provider: secrets in state are encrypted with a 256-bit data key that KMS
//! generates under KEY (an alias `alias/NAME`, a key id or a key ARN). The state records the data key encrypted
//! by KMS; each run asks KMS once to decrypt it. Without access to the KMS key, the state's secrets cannot be
//! read.
//!
//! The data key is bound to its state: KMS encrypts it under the configured key with the encryption context
//! `{stack, lineage}`, and decrypting names both the key and the context, so a data key copied from another
//! stack's state, or encrypted under another key, is refused by KMS. States written before the binding decrypt
//! without a context (their config records none).

use std::collections::BTreeMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use stackr_engine::provider::ProviderError;
use stackr_state::secrets::{KeyCodec, SecretsConfig};
use zeroize::Zeroizing;

use crate::aws::Call;

/// The KMS key a provider URL names: `awskms://alias/chatbot-state` → `alias/chatbot-state`.
pub fn key_of(url: &str) -> Option<&str> {
    url.strip_prefix("awskms://").filter(|k| !k.is_empty())
}

/// Opens the codec recorded in `existing` (one Decrypt call), or makes a new data key (one GenerateDataKey call).
/// A record without a check value (a saved plan's key) is opened without one: KMS still decrypts only a data key
/// made under this key and context.
pub async fn codec(
    config: &aws_config::SdkConfig,
    url: &str,
    existing: Option<&SecretsConfig>,
    context: BTreeMap<String, String>,
) -> Result<(KeyCodec, SecretsConfig), ProviderError> {
    let kms = aws_sdk_kms::Client::new(config);
    let invalid = |e: &dyn std::fmt::Display| ProviderError::Invalid(format!("secrets provider {url}: {e}"));
    let key_id = key_of(url).ok_or_else(|| invalid(&"expected awskms://KEY"))?;
    if let Some(existing) = existing.filter(|c| c.provider == url) {
        let encrypted = existing.encrypted_key.as_deref().ok_or_else(|| invalid(&"the state records no data key"))?;
        let blob = STANDARD.decode(encrypted).map_err(|e| invalid(&e))?;
        // The context is this state's, computed here; a recorded one that differs means the secrets configuration
        // was copied from another state, and KMS would refuse it anyway.
        let bound = match &existing.key_context {
            Some(recorded) if *recorded != context => {
                return Err(invalid(&format!(
                    "the state's data key is bound to another state ({}), not to stack {} with lineage {}",
                    recorded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
                    context.get("stack").map(String::as_str).unwrap_or_default(),
                    context.get("lineage").map(String::as_str).unwrap_or_default(),
                )))
            }
            Some(_) => Some(context.clone().into_iter().collect()),
            // Written before data keys were bound: no context.
            None => None,
        };
        let decrypted = kms
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(blob))
            .set_encryption_context(bound)
            .send()
            .await
            .call("Decrypt")?;
        let key = Zeroizing::new(
            decrypted.plaintext().ok_or_else(|| invalid(&"KMS returned no plaintext"))?.as_ref().to_vec(),
        );
        let codec = KeyCodec::from_key(&key).map_err(|e| invalid(&e))?;
        if !existing.check.is_empty() {
            codec.verify(&existing.check).map_err(|e| invalid(&e))?;
        }
        return Ok((codec, existing.clone()));
    }
    let generated = kms
        .generate_data_key()
        .key_id(key_id)
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(context.clone().into_iter().collect()))
        .send()
        .await
        .call("GenerateDataKey")?;
    let plaintext = generated.plaintext().ok_or_else(|| invalid(&"KMS returned no data key"))?;
    let encrypted = generated.ciphertext_blob().ok_or_else(|| invalid(&"KMS returned no encrypted data key"))?;
    let plaintext = Zeroizing::new(plaintext.as_ref().to_vec());
    let codec = KeyCodec::from_key(&plaintext).map_err(|e| invalid(&e))?;
    let check = codec.check_value().map_err(|e| invalid(&e))?;
    Ok((
        codec,
        SecretsConfig {
            provider: url.to_string(),
            salt: None,
            kdf: None,
            encrypted_key: Some(STANDARD.encode(encrypted.as_ref())),
            key_context: Some(context),
            check,
        },
    ))
}
