//! Secret values at rest. In memory a secret is `{"@secret": VALUE}`; in a state file or a journal it is
//! `{"@encrypted": "v2:BASE64"}`: XChaCha20-Poly1305 (authenticated, a random nonce per value) under a key the
//! [`SecretsCodec`] holds, with the value's location (stack file section, resource, property path) as associated
//! data, so a sealed value moved to another property or resource no longer decrypts.
//!
//! The passphrase codec derives its key from `STACKR_PASSPHRASE` with Argon2id, a random salt and parameters that
//! are recorded in the state (a change of library defaults never reads as a wrong passphrase), and keeps a check
//! value so that a wrong passphrase is told apart from a damaged value. Key material is zeroized when dropped.
//!
//! Nothing here writes a plaintext secret: [`seal`] is applied before every write, and writers refuse values
//! that are still plain ([`find_plain`]).

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use zeroize::Zeroizing;

pub const SECRET_KEY: &str = "@secret";
pub const ENCRYPTED_KEY: &str = "@encrypted";
/// The secrets provider of a stack that names none.
pub const DEFAULT_PROVIDER: &str = "passphrase";
const CHECK_TEXT: &[u8] = b"stackr secrets check";
const CHECK_CONTEXT: &str = "check";
/// Sealed values written with their location as associated data.
const BOUND: &str = "v2:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("the passphrase does not match the one this state was encrypted with")]
    WrongKey,
    #[error("an encrypted value is damaged or was moved from another place ({0}); restore the file from its backup")]
    Damaged(String),
    #[error("cannot derive the key: {0}")]
    Kdf(String),
    #[error("the state holds secret values but no secrets provider is available")]
    NoCodec,
    #[error(transparent)]
    Random(#[from] crate::model::RandomError),
}

/// The Argon2id parameters a passphrase key was derived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KdfParams {
    /// Always `argon2id`.
    pub algorithm: KdfAlgorithm,
    /// Argon2 version 19 (0x13).
    pub version: u32,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KdfAlgorithm {
    Argon2id,
}

impl KdfParams {
    /// What new states use (OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane).
    pub const CURRENT: KdfParams = KdfParams {
        algorithm: KdfAlgorithm::Argon2id,
        version: 0x13,
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// States written before parameters were recorded used argon2 0.5's defaults, which are these.
    pub const LEGACY: KdfParams = KdfParams::CURRENT;

    /// The most a recorded parameter set may ask for: a state or plan file that names more (to hang or exhaust
    /// the run that opens it) is refused before any derivation. Far above what stackr writes.
    const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    const MAX_ITERATIONS: u32 = 16;
    const MAX_PARALLELISM: u32 = 16;

    fn argon2(&self) -> Result<Argon2<'static>, SecretsError> {
        if self.version != 0x13 {
            return Err(SecretsError::Kdf(format!("unsupported Argon2 version {}", self.version)));
        }
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism > Self::MAX_PARALLELISM
        {
            return Err(SecretsError::Kdf(format!(
                "the recorded Argon2id parameters ({} KiB, {} passes, {} lanes) exceed what stackr accepts ({} KiB, {} passes, {} lanes)",
                self.memory_kib,
                self.iterations,
                self.parallelism,
                Self::MAX_MEMORY_KIB,
                Self::MAX_ITERATIONS,
                Self::MAX_PARALLELISM
            )));
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| SecretsError::Kdf(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
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
    /// Argon2id parameters (passphrase); absent in states written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<KdfParams>,
    /// The data key, encrypted by KMS, base64 (awskms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_key: Option<String>,
    /// The KMS encryption context the data key is bound to (awskms): the stack and the state's lineage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_context: Option<std::collections::BTreeMap<String, String>>,
    /// A known text encrypted with the key, base64: tells a wrong key from a damaged value.
    pub check: String,
}

impl SecretsConfig {
    /// The record without its check value.
    pub fn without_check(&self) -> SecretsConfig {
        SecretsConfig { check: String::new(), ..self.clone() }
    }
}

pub trait SecretsCodec: Send + Sync {
    /// Encrypts `plaintext` bound to `context` (associated data).
    fn encrypt(&self, plaintext: &[u8], context: &str) -> Result<String, SecretsError>;
    fn decrypt(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretsError>;
    /// A keyed fingerprint of `data` (HMAC-SHA256, hex): equal data gives equal fingerprints under one key, and
    /// without the key a fingerprint allows no offline guessing of the data. Saved plans fingerprint secret
    /// config values with it.
    fn fingerprint(&self, data: &[u8]) -> Result<String, SecretsError>;
}

/// A 256-bit key: derived from a passphrase, or a data key from KMS. The cipher zeroizes it when dropped, and
/// so does the fingerprint key derived from it.
pub struct KeyCodec {
    cipher: XChaCha20Poly1305,
    /// HMAC-SHA256(key, FINGERPRINT_LABEL): a key of its own for fingerprints, so the cipher's key is used for
    /// one purpose only.
    fingerprint_key: Zeroizing<Vec<u8>>,
}

const FINGERPRINT_LABEL: &[u8] = b"stackr plan fingerprint v1";

fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SecretsError> {
    use hmac::{KeyInit as _, Mac as _};
    // HMAC accepts keys of any length; the error exists only for the trait's sake.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).map_err(|e| SecretsError::Kdf(e.to_string()))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// The passphrase codec is a [`KeyCodec`] whose key came from Argon2id.
pub type PassphraseCodec = KeyCodec;

impl KeyCodec {
    /// A codec on a raw 256-bit key (a KMS data key).
    pub fn from_key(key: &[u8]) -> Result<KeyCodec, SecretsError> {
        if key.len() != 32 {
            return Err(SecretsError::Kdf(format!("a data key must be 32 bytes, not {}", key.len())));
        }
        Ok(KeyCodec {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
            fingerprint_key: Zeroizing::new(hmac_sha256(key, FINGERPRINT_LABEL)?),
        })
    }

    /// The check value to record with a new key.
    pub fn check_value(&self) -> Result<String, SecretsError> {
        self.encrypt(CHECK_TEXT, CHECK_CONTEXT)
    }

    /// Whether `check` was made with this key. Checks written before values were bound to their location carry
    /// no context.
    pub fn verify(&self, check: &str) -> Result<(), SecretsError> {
        match self.decrypt(check, CHECK_CONTEXT) {
            Ok(text) if text == CHECK_TEXT => Ok(()),
            _ => Err(SecretsError::WrongKey),
        }
    }

    /// Derives the key for `config`'s salt and parameters and verifies it against the check value.
    pub fn open(passphrase: &str, config: &SecretsConfig) -> Result<KeyCodec, SecretsError> {
        let salt = config.salt.as_deref().ok_or_else(|| SecretsError::Damaged("no passphrase salt recorded".into()))?;
        let salt = STANDARD.decode(salt).map_err(|e| SecretsError::Damaged(format!("the salt: {e}")))?;
        let codec = KeyCodec::derive(passphrase, &salt, config.kdf.unwrap_or(KdfParams::LEGACY))?;
        codec.verify(&config.check)?;
        Ok(codec)
    }

    /// Derives the key of a record that carries no check value (a saved plan's key for a stack with no state
    /// yet: the plan leaves the check out so that it allows no offline test of a passphrase guess). Only the
    /// current Argon2id parameters are accepted, so a record cannot make the derivation take any memory or
    /// time it likes. A wrong passphrase is not told apart here: what the key fingerprints does not match.
    pub fn open_unverified(passphrase: &str, config: &SecretsConfig) -> Result<KeyCodec, SecretsError> {
        if config.kdf != Some(KdfParams::CURRENT) {
            return Err(SecretsError::Damaged("the key record names Argon2id parameters stackr does not use".into()));
        }
        let salt = config.salt.as_deref().ok_or_else(|| SecretsError::Damaged("no passphrase salt recorded".into()))?;
        let salt = STANDARD.decode(salt).map_err(|e| SecretsError::Damaged(format!("the salt: {e}")))?;
        KeyCodec::derive(passphrase, &salt, KdfParams::CURRENT)
    }

    /// A new salt, its codec and the config to record in the state.
    pub fn create(passphrase: &str) -> Result<(KeyCodec, SecretsConfig), SecretsError> {
        let mut salt = [0u8; 16];
        crate::model::fill_random(&mut salt)?;
        let kdf = KdfParams::CURRENT;
        let codec = KeyCodec::derive(passphrase, &salt, kdf)?;
        let check = codec.check_value()?;
        Ok((
            codec,
            SecretsConfig {
                provider: "passphrase".into(),
                salt: Some(STANDARD.encode(salt)),
                kdf: Some(kdf),
                encrypted_key: None,
                key_context: None,
                check,
            },
        ))
    }

    fn derive(passphrase: &str, salt: &[u8], kdf: KdfParams) -> Result<KeyCodec, SecretsError> {
        let mut key = Zeroizing::new([0u8; 32]);
        kdf.argon2()?
            .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
            .map_err(|e| SecretsError::Kdf(e.to_string()))?;
        KeyCodec::from_key(key.as_ref())
    }
}

fn associated(context: &str) -> Vec<u8> {
    format!("stackr-secret:{context}").into_bytes()
}

impl SecretsCodec for KeyCodec {
    fn encrypt(&self, plaintext: &[u8], context: &str) -> Result<String, SecretsError> {
        let mut nonce = [0u8; 24];
        crate::model::fill_random(&mut nonce)?;
        let aad = associated(context);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|_| SecretsError::Damaged("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        Ok(format!("{BOUND}{}", STANDARD.encode(out)))
    }

    /// A value that fails authentication under a key that passed the check is damaged (or was moved), not a
    /// wrong key: the key was verified when the codec was opened.
    fn decrypt(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretsError> {
        let (encoded, aad) = match sealed.strip_prefix(BOUND) {
            Some(rest) => (rest, associated(context)),
            // Written before values were bound to their location.
            None => (sealed, Vec::new()),
        };
        let bytes = STANDARD.decode(encoded).map_err(|e| SecretsError::Damaged(format!("{context}: {e}")))?;
        if bytes.len() < 24 + 16 {
            return Err(SecretsError::Damaged(format!("{context}: too short")));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| SecretsError::Damaged(context.to_string()))
    }

    fn fingerprint(&self, data: &[u8]) -> Result<String, SecretsError> {
        let mac = hmac_sha256(&self.fingerprint_key, data)?;
        Ok(mac.iter().map(|b| format!("{b:02x}")).collect())
    }
}

fn single<'a>(map: &'a serde_json::Map<String, Json>, key: &str) -> Option<&'a Json> {
    (map.len() == 1).then(|| map.get(key)).flatten()
}

fn child(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

/// Encrypts every `{"@secret": …}` in place, each bound to `context` and its path below it.
pub fn seal(json: &mut Json, codec: &dyn SecretsCodec, context: &str) -> Result<(), SecretsError> {
    match json {
        Json::Object(map) => {
            if let Some(inner) = single(map, SECRET_KEY) {
                let text = Zeroizing::new(serde_json::to_vec(inner).map_err(|e| SecretsError::Damaged(e.to_string()))?);
                let sealed = codec.encrypt(&text, context)?;
                *json = serde_json::json!({ ENCRYPTED_KEY: sealed });
                return Ok(());
            }
            map.iter_mut().try_for_each(|(k, v)| seal(v, codec, &child(context, k)))
        }
        Json::Array(items) => {
            items.iter_mut().enumerate().try_for_each(|(i, v)| seal(v, codec, &format!("{context}[{i}]")))
        }
        _ => Ok(()),
    }
}

/// Decrypts every `{"@encrypted": …}` back into `{"@secret": …}` in place (the inverse of [`seal`] with the same
/// `context`).
pub fn unseal(json: &mut Json, codec: &dyn SecretsCodec, context: &str) -> Result<(), SecretsError> {
    match json {
        Json::Object(map) => {
            if let Some(Json::String(sealed)) = single(map, ENCRYPTED_KEY) {
                let bytes = Zeroizing::new(codec.decrypt(sealed, context)?);
                let inner: Json =
                    serde_json::from_slice(&bytes).map_err(|e| SecretsError::Damaged(format!("{context}: {e}")))?;
                *json = serde_json::json!({ SECRET_KEY: inner });
                return Ok(());
            }
            map.iter_mut().try_for_each(|(k, v)| unseal(v, codec, &child(context, k)))
        }
        Json::Array(items) => {
            items.iter_mut().enumerate().try_for_each(|(i, v)| unseal(v, codec, &format!("{context}[{i}]")))
        }
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

/// Applies `f` to every JSON value of a state that may hold secrets, with the location it is bound to.
pub fn each_value<E>(
    state: &mut crate::StateFile,
    mut f: impl FnMut(&str, &mut Json) -> Result<(), E>,
) -> Result<(), E> {
    let stack = state.stack.clone();
    for (name, resource) in state.resources.iter_mut() {
        f(&format!("{stack}/resources/{name}/inputs"), &mut resource.inputs)?;
        f(&format!("{stack}/resources/{name}/outputs"), &mut resource.outputs)?;
    }
    for (name, value) in state.outputs.iter_mut() {
        f(&format!("{stack}/outputs/{name}"), value)?;
    }
    for pending in &mut state.pending {
        f(&format!("{stack}/pending/{}/{}/inputs", pending.resource, pending.operation), &mut pending.inputs)?;
    }
    Ok(())
}

/// Seals every secret of a state in place.
pub fn seal_state(state: &mut crate::StateFile, codec: &dyn SecretsCodec) -> Result<(), SecretsError> {
    each_value(state, |context, value| seal(value, codec, context))
}

/// Unseals every secret of a state in place.
pub fn unseal_state(state: &mut crate::StateFile, codec: &dyn SecretsCodec) -> Result<(), SecretsError> {
    each_value(state, |context, value| unseal(value, codec, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_unseals_with_the_right_passphrase_only() -> Result<(), SecretsError> {
        let (codec, config) = KeyCodec::create("correct horse")?;
        let original =
            serde_json::json!({"a": {"@secret": "hunter2"}, "b": [1, {"@secret": {"k": "v"}}], "c": "plain"});
        let mut json = original.clone();
        seal(&mut json, &codec, "s/resources/r/inputs")?;
        let text = json.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"k\""), "{text}");
        assert!(find_sealed(&json) && !find_plain(&json));
        let reopened = KeyCodec::open("correct horse", &config)?;
        unseal(&mut json, &reopened, "s/resources/r/inputs")?;
        assert_eq!(json, original);
        assert!(matches!(KeyCodec::open("wrong", &config), Err(SecretsError::WrongKey)));
        Ok(())
    }

    #[test]
    fn each_value_is_encrypted_with_its_own_nonce() -> Result<(), SecretsError> {
        let (codec, _) = KeyCodec::create("p")?;
        assert_ne!(codec.encrypt(b"same", "x")?, codec.encrypt(b"same", "x")?);
        Ok(())
    }

    #[test]
    fn a_value_moved_to_another_place_does_not_decrypt() -> Result<(), SecretsError> {
        let (codec, _) = KeyCodec::create("p")?;
        let mut json = serde_json::json!({"password": {"@secret": "a"}, "token": {"@secret": "b"}});
        seal(&mut json, &codec, "s/resources/db/inputs")?;
        // Swap the two sealed values, as someone editing the file might.
        let mut swapped = json.clone();
        swapped["password"] = json["token"].clone();
        swapped["token"] = json["password"].clone();
        let err = unseal(&mut swapped, &codec, "s/resources/db/inputs").unwrap_err();
        assert!(matches!(err, SecretsError::Damaged(ref at) if at.ends_with("inputs.password")), "{err}");
        // Moved to another resource: refused too.
        let mut moved = json.clone();
        assert!(unseal(&mut moved, &codec, "s/resources/other/inputs").is_err());
        unseal(&mut json, &codec, "s/resources/db/inputs")?;
        assert_eq!(json["password"], serde_json::json!({"@secret": "a"}));
        Ok(())
    }

    #[test]
    fn a_damaged_value_under_the_right_key_is_reported_as_damaged() -> Result<(), SecretsError> {
        let (codec, config) = KeyCodec::create("p")?;
        let mut json = serde_json::json!({"v": {"@secret": "x"}});
        seal(&mut json, &codec, "c")?;
        let sealed = json["v"][ENCRYPTED_KEY].as_str().unwrap_or_default().to_string();
        let mut bytes = STANDARD.decode(&sealed[BOUND.len()..]).unwrap_or_default();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        json["v"][ENCRYPTED_KEY] = Json::String(format!("{BOUND}{}", STANDARD.encode(bytes)));
        let reopened = KeyCodec::open("p", &config)?;
        assert!(matches!(unseal(&mut json, &reopened, "c"), Err(SecretsError::Damaged(_))));
        Ok(())
    }

    #[test]
    fn the_kdf_parameters_are_recorded_and_used() -> Result<(), SecretsError> {
        let (_, config) = KeyCodec::create("p")?;
        assert_eq!(config.kdf, Some(KdfParams::CURRENT));
        let json = serde_json::to_value(&config).unwrap_or_default();
        assert_eq!(json["kdf"]["algorithm"], "argon2id");
        assert_eq!(json["kdf"]["memoryKib"], 19456);
        // Other recorded parameters derive another key: the check then fails as a wrong key, it is not ignored.
        let mut other = config.clone();
        other.kdf = Some(KdfParams { iterations: 3, ..KdfParams::CURRENT });
        assert!(matches!(KeyCodec::open("p", &other), Err(SecretsError::WrongKey)));
        Ok(())
    }

    #[test]
    fn values_sealed_before_location_binding_still_read() -> Result<(), SecretsError> {
        let (codec, _) = KeyCodec::create("p")?;
        // The old form: base64(nonce || ciphertext) with no associated data and no prefix.
        let nonce = [7u8; 24];
        let ciphertext = codec
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: b"\"old\"", aad: b"" })
            .map_err(|_| SecretsError::Damaged("test".into()))?;
        let mut legacy = nonce.to_vec();
        legacy.extend(ciphertext);
        let mut json = serde_json::json!({"v": {ENCRYPTED_KEY: STANDARD.encode(legacy)}});
        unseal(&mut json, &codec, "anywhere")?;
        assert_eq!(json, serde_json::json!({"v": {"@secret": "old"}}));
        Ok(())
    }

    #[test]
    fn hmac_matches_rfc_4231() -> Result<(), SecretsError> {
        // Test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")?;
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        Ok(())
    }

    #[test]
    fn fingerprints_are_keyed() -> Result<(), SecretsError> {
        let (codec, config) = KeyCodec::create("p")?;
        let (other, _) = KeyCodec::create("p")?;
        let reopened = KeyCodec::open("p", &config)?;
        assert_eq!(codec.fingerprint(b"hunter2")?, reopened.fingerprint(b"hunter2")?, "the same key, the same print");
        assert_ne!(codec.fingerprint(b"hunter2")?, codec.fingerprint(b"hunter3")?);
        // The same passphrase under another salt is another key: a print says nothing without the key.
        assert_ne!(codec.fingerprint(b"hunter2")?, other.fingerprint(b"hunter2")?);
        let plain: String = {
            use sha2::Digest as _;
            sha2::Sha256::digest(b"hunter2").iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_ne!(codec.fingerprint(b"hunter2")?, plain);
        Ok(())
    }

    #[test]
    fn recorded_parameters_that_would_hang_or_exhaust_the_run_are_refused() -> Result<(), SecretsError> {
        let (_, config) = KeyCodec::create("p")?;
        for kdf in [
            KdfParams { iterations: 4_000_000_000, ..KdfParams::CURRENT },
            KdfParams { memory_kib: 4_000_000_000, ..KdfParams::CURRENT },
            KdfParams { parallelism: 1000, ..KdfParams::CURRENT },
        ] {
            let result = KeyCodec::open("p", &SecretsConfig { kdf: Some(kdf), ..config.clone() });
            assert!(matches!(result, Err(SecretsError::Kdf(ref m)) if m.contains("exceed")), "{kdf:?}");
        }
        Ok(())
    }
}
