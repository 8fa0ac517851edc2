//! Secret values at rest. In memory a secret is `{"@secret": VALUE}`; in a state file or a journal it is
//! `{"@encrypted": "BASE64"}`: XChaCha20-Poly1305 (authenticated, a random nonce per value) under a key the
//! [`SecretsCodec`] holds. The passphrase codec derives its key from `STACKR_PASSPHRASE` with Argon2id and a
//! random salt kept in the state, with a check value so a wrong passphrase is reported as such.
//!
//! Nothing here writes a plaintext secret: [`seal`] is applied before every write, and writers refuse values
//! that are still plain ([`find_plain`]).

use argon2::Argon2;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub const SECRET_KEY: &str = "@secret";
pub const ENCRYPTED_KEY: &str = "@encrypted";
const CHECK_TEXT: &[u8] = b"stackr secrets check";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("the passphrase does not match the one this state was encrypted with")]
    WrongKey,
    #[error("an encrypted value is damaged: {0}")]
    Damaged(String),
    #[error("cannot derive the key: {0}")]
    Kdf(String),
    #[error("the state holds secret values but no secrets provider is available")]
    NoCodec,
}

/// How secrets are protected in a state: recorded in the state so a later run can check its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsConfig {
    /// `passphrase`, or `awskms://KEY`.
    pub provider: String,
    /// Argon2id salt, base64 (passphrase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The data key, encrypted by KMS, base64 (awskms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_key: Option<String>,
    /// A known text encrypted with the key, base64: tells a wrong key from a damaged value.
    pub check: String,
}

pub trait SecretsCodec: Send + Sync {
    fn encrypt(&self, plaintext: &[u8]) -> Result<String, SecretsError>;
    fn decrypt(&self, sealed: &str) -> Result<Vec<u8>, SecretsError>;
}

/// A 256-bit key: derived from a passphrase, or a data key from KMS.
pub struct PassphraseCodec {
    cipher: XChaCha20Poly1305,
}

/// The same codec under the name that fits a key that did not come from a passphrase.
pub type KeyCodec = PassphraseCodec;

impl PassphraseCodec {
    /// A codec on a raw 256-bit key (a KMS data key).
    pub fn from_key(key: &[u8]) -> Result<PassphraseCodec, SecretsError> {
        if key.len() != 32 {
            return Err(SecretsError::Kdf(format!("a data key must be 32 bytes, not {}", key.len())));
        }
        Ok(PassphraseCodec { cipher: XChaCha20Poly1305::new(Key::from_slice(key)) })
    }

    /// The check value to record with a new key.
    pub fn check_value(&self) -> Result<String, SecretsError> {
        self.encrypt(CHECK_TEXT)
    }

    /// Whether `check` was made with this key.
    pub fn verify(&self, check: &str) -> Result<(), SecretsError> {
        match self.decrypt(check) {
            Ok(text) if text == CHECK_TEXT => Ok(()),
            _ => Err(SecretsError::WrongKey),
        }
    }

    /// Derives the key for `config`'s salt and verifies it against the check value.
    pub fn open(passphrase: &str, config: &SecretsConfig) -> Result<PassphraseCodec, SecretsError> {
        let salt = config.salt.as_deref().ok_or_else(|| SecretsError::Damaged("no passphrase salt recorded".into()))?;
        let salt = STANDARD.decode(salt).map_err(|e| SecretsError::Damaged(e.to_string()))?;
        let codec = PassphraseCodec::derive(passphrase, &salt)?;
        codec.verify(&config.check)?;
        Ok(codec)
    }

    /// A new salt, its codec and the config to record in the state.
    pub fn create(passphrase: &str) -> Result<(PassphraseCodec, SecretsConfig), SecretsError> {
        let mut salt = [0u8; 16];
        crate::model::fill_random(&mut salt);
        let codec = PassphraseCodec::derive(passphrase, &salt)?;
        let check = codec.encrypt(CHECK_TEXT)?;
        Ok((
            codec,
            SecretsConfig {
                provider: "passphrase".into(),
                salt: Some(STANDARD.encode(salt)),
                encrypted_key: None,
                check,
            },
        ))
    }

    fn derive(passphrase: &str, salt: &[u8]) -> Result<PassphraseCodec, SecretsError> {
        let mut key = [0u8; 32];
        Argon2::default()
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| SecretsError::Kdf(e.to_string()))?;
        Ok(PassphraseCodec { cipher: XChaCha20Poly1305::new(Key::from_slice(&key)) })
    }
}

impl SecretsCodec for PassphraseCodec {
    fn encrypt(&self, plaintext: &[u8]) -> Result<String, SecretsError> {
        let mut nonce = [0u8; 24];
        crate::model::fill_random(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .map_err(|_| SecretsError::Damaged("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        Ok(STANDARD.encode(out))
    }

    fn decrypt(&self, sealed: &str) -> Result<Vec<u8>, SecretsError> {
        let bytes = STANDARD.decode(sealed).map_err(|e| SecretsError::Damaged(e.to_string()))?;
        if bytes.len() < 24 {
            return Err(SecretsError::Damaged("too short".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| SecretsError::WrongKey)
    }
}

fn single<'a>(map: &'a serde_json::Map<String, Json>, key: &str) -> Option<&'a Json> {
    (map.len() == 1).then(|| map.get(key)).flatten()
}

/// Encrypts every `{"@secret": …}` in place.
pub fn seal(json: &mut Json, codec: &dyn SecretsCodec) -> Result<(), SecretsError> {
    match json {
        Json::Object(map) => {
            if let Some(inner) = single(map, SECRET_KEY) {
                let text = serde_json::to_vec(inner).map_err(|e| SecretsError::Damaged(e.to_string()))?;
                let sealed = codec.encrypt(&text)?;
                *json = serde_json::json!({ ENCRYPTED_KEY: sealed });
                return Ok(());
            }
            map.values_mut().try_for_each(|v| seal(v, codec))
        }
        Json::Array(items) => items.iter_mut().try_for_each(|v| seal(v, codec)),
        _ => Ok(()),
    }
}

/// Decrypts every `{"@encrypted": …}` back into `{"@secret": …}` in place.
pub fn unseal(json: &mut Json, codec: &dyn SecretsCodec) -> Result<(), SecretsError> {
    match json {
        Json::Object(map) => {
            if let Some(Json::String(sealed)) = single(map, ENCRYPTED_KEY) {
                let bytes = codec.decrypt(sealed)?;
                let inner: Json = serde_json::from_slice(&bytes).map_err(|e| SecretsError::Damaged(e.to_string()))?;
                *json = serde_json::json!({ SECRET_KEY: inner });
                return Ok(());
            }
            map.values_mut().try_for_each(|v| unseal(v, codec))
        }
        Json::Array(items) => items.iter_mut().try_for_each(|v| unseal(v, codec)),
        _ => Ok(()),
    }
}

/// True when a plaintext secret is present.
pub fn find_plain(json: &Json) -> bool {
    match json {
        Json::Object(map) => single(map, SECRET_KEY).is_some() || map.values().any(find_plain),
        Json::Array(items) => items.iter().any(find_plain),
        _ => false,
    }
}

/// True when an encrypted secret is present.
pub fn find_sealed(json: &Json) -> bool {
    match json {
        Json::Object(map) => single(map, ENCRYPTED_KEY).is_some() || map.values().any(find_sealed),
        Json::Array(items) => items.iter().any(find_sealed),
        _ => false,
    }
}

/// Every JSON value of a state that may hold secrets.
pub fn values(state: &crate::StateFile) -> impl Iterator<Item = &Json> {
    state
        .resources
        .values()
        .flat_map(|r| [&r.inputs, &r.outputs])
        .chain(state.outputs.values())
        .chain(state.pending.iter().map(|p| &p.inputs))
}

/// Applies `f` to every JSON value of a state that may hold secrets.
pub fn each_value<E>(state: &mut crate::StateFile, mut f: impl FnMut(&mut Json) -> Result<(), E>) -> Result<(), E> {
    for resource in state.resources.values_mut() {
        f(&mut resource.inputs)?;
        f(&mut resource.outputs)?;
    }
    for value in state.outputs.values_mut() {
        f(value)?;
    }
    for pending in &mut state.pending {
        f(&mut pending.inputs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_unseals_with_the_right_passphrase_only() -> Result<(), SecretsError> {
        let (codec, config) = PassphraseCodec::create("correct horse")?;
        let original =
            serde_json::json!({"a": {"@secret": "hunter2"}, "b": [1, {"@secret": {"k": "v"}}], "c": "plain"});
        let mut json = original.clone();
        seal(&mut json, &codec)?;
        let text = json.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"k\""), "{text}");
        assert!(find_sealed(&json) && !find_plain(&json));
        let reopened = PassphraseCodec::open("correct horse", &config)?;
        unseal(&mut json, &reopened)?;
        assert_eq!(json, original);
        assert!(matches!(PassphraseCodec::open("wrong", &config), Err(SecretsError::WrongKey)));
        Ok(())
    }

    #[test]
    fn each_value_is_encrypted_with_its_own_nonce() -> Result<(), SecretsError> {
        let (codec, _) = PassphraseCodec::create("p")?;
        assert_ne!(codec.encrypt(b"same")?, codec.encrypt(b"same")?);
        Ok(())
    }
}
