//! The key a saved plan seals its secrets and authenticates itself under (docs/SECURITY.md).
//!
//! A stack whose state records a secrets key uses that key, whatever provider the stack file now names: a pull
//! request cannot choose the key its secrets are sealed under (a new provider in the stack shows in the plan as
//! a re-encryption, which apply makes). Every plan of such a stack is authenticated under that key, secrets or
//! not, so that no edit (a stripped authentication or key included) passes as a plan stackr wrote. A stack
//! with no key yet gets a new one of its provider when its plan holds secrets, and the plan carries its record
//! without the check value, so the file allows no offline test of a passphrase guess.

use std::path::Path;
use std::sync::Arc;

use stackr_engine::plan::file::PlanKey;
use stackr_state::secrets::{KeyCodec, SecretsCodec};

use crate::report::Failure;
use crate::session::{self, Session};
use crate::workspace::Site;

/// An open key and how a saved plan names it.
pub type PlanSecretsKey = (Arc<dyn SecretsCodec>, PlanKey);

/// The key to seal and authenticate a plan of `stack` under, and how the plan names it: the state's key when
/// it records one, else a new one when the plan holds secrets, else `None`.
pub fn for_plan(session: &Session, stack: &Site, holds_secrets: bool) -> Result<Option<PlanSecretsKey>, Failure> {
    let lineage = &session.state.lineage.0;
    match session.state_key() {
        Some((_, Some(codec))) => Ok(Some((Arc::clone(codec), PlanKey::State))),
        Some((config, None)) => {
            Ok(Some((session::open(stack, lineage, &config.provider, Some(config))?.0, PlanKey::State)))
        }
        None if !holds_secrets => Ok(None),
        None => {
            let provider = stack.secrets_provider();
            let (codec, record) = session::open(stack, lineage, provider, None)?;
            Ok(Some((codec, PlanKey::New { record: record.without_check() })))
        }
    }
}

/// Opens the key a saved plan (at `path`) names, to check it and open its secrets. A plan of a stack whose
/// state records a key must be authenticated under that key: one that names none, or a new one, was not
/// written by `stackr plan` against this state.
pub fn for_saved_plan(
    session: &Session,
    stack: &Site,
    key: Option<&PlanKey>,
    path: &Path,
) -> Result<Option<Arc<dyn SecretsCodec>>, Failure> {
    let edited = |why: &str| {
        Failure::hint(
            anyhow::anyhow!("{}: the plan file was changed after `stackr plan` wrote it: {why}", path.display()),
            format!("a saved plan applies as `stackr plan` wrote it; make a new plan: `stackr plan {}`", stack.shown),
        )
    };
    let key = match (key, session.state_key()) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(edited(
                "it is not authenticated, and every plan of a stack whose state records a secrets key is",
            ))
        }
        (Some(PlanKey::New { .. }), Some(_)) => {
            return Err(edited("it names a new secrets key, and the stack's state records one"))
        }
        (Some(key), _) => key,
    };
    open_saved(session, stack, key, path).map(Some)
}

fn open_saved(session: &Session, stack: &Site, key: &PlanKey, path: &Path) -> Result<Arc<dyn SecretsCodec>, Failure> {
    let lineage = &session.state.lineage.0;
    let record = match (key, session.state_key()) {
        (PlanKey::State, Some((_, Some(codec)))) => return Ok(Arc::clone(codec)),
        (PlanKey::State, Some((config, None))) => {
            return Ok(session::open(stack, lineage, &config.provider, Some(config))?.0)
        }
        (PlanKey::State, None) => {
            return Err(anyhow::anyhow!(
                "{}: the plan used the state's secrets key, and the state records none",
                path.display()
            )
            .into())
        }
        (PlanKey::New { record }, _) => record,
    };
    let failed = |e: &dyn std::fmt::Display| {
        Failure::hint(
            anyhow::anyhow!("{}: cannot open the secrets key the plan was made with: {e}", path.display()),
            format!("make a new plan: `stackr plan {}`", stack.shown),
        )
    };
    if record.provider.starts_with("awskms://") {
        // The data key is bound to the lineage the plan was made with (a new stack's, not yet in any state).
        let planned = record.key_context.as_ref().and_then(|c| c.get("lineage")).cloned().unwrap_or_default();
        return session::open(stack, &planned, &record.provider, Some(record)).map(|(codec, _)| codec);
    }
    if record.provider != "passphrase" {
        return Err(failed(&format!("unknown secrets provider {:?}", record.provider)));
    }
    let passphrase = session::passphrase(stack)?;
    let codec = KeyCodec::open_unverified(&passphrase, record).map_err(|e| failed(&e))?;
    Ok(Arc::new(codec))
}
