//! A create that happens at most once, whatever its answer, and never takes over what stackr did not make.
//!
//! A create call can take effect and still report an error: its answer was lost and the SDK's retry met "already
//! exists", or AWS acted and then failed a later call of the same create. So before a failed create counts as failed, the provider is asked to `find` what this
//! create made, and only a resource that carries this create's token is adopted. Types that cannot carry a token
//! (no tags), and types whose create call overwrites a resource of the same name (PutMetricAlarm, PutDashboard,
//! CreateTopic), are looked up by name before the create: a resource found then is someone else's, and the create
//! is refused with a pointer to `stackr import`.
//!
//! A provider that knows its create made the resource before a later call failed says so
//! ([`ProviderError::Incomplete`]): that resource is recorded without a lookup.
//!
//! An error that does not prove the create made nothing (a timeout, a connection lost after sending, a 5xx) and
//! a lookup that itself fails leave the create unresolved: its intent stays pending, and the next run reconciles
//! it (after waiting for a request that may still be in flight). Only throttling, which AWS answers before acting,
//! is retried here.

use std::time::Duration;

use crate::provider::{CallContext, Created, Observed, Provider, ProviderError};
use crate::schema::ResourceSchema;
use crate::value::Value;

/// How often a throttled create is tried.
const ATTEMPTS: u32 = 4;

/// What a create came to.
pub enum CreateOutcome {
    Created(Created),
    /// The resource exists and carries this create's token, but its creation reported this error: it is
    /// recorded, and the step fails naming the error; the next plan completes or corrects what is missing.
    Incomplete(Created, ProviderError),
    /// Whether the create took effect is unknown: the intent stays pending for the next run to reconcile.
    Unresolved(ProviderError),
    Failed(ProviderError),
}

pub async fn create_at_most_once(
    provider: &dyn Provider,
    cx: &CallContext,
    inputs: &Value,
    token: &str,
) -> CreateOutcome {
    let schema = provider.schema();
    let tagged = schema.has_tags();
    // A name held by a resource the state does not record is someone else's: the create would fail on it or,
    // for a type whose create overwrites, silently take it over (and a later destroy would delete it). An
    // untagged type's resource cannot say who made it, so its name must be free too for a failed create to be
    // adopted afterwards.
    if !tagged || schema.create_overwrites {
        let existing =
            if tagged { by_name(provider, cx, inputs).await } else { provider.find(cx, inputs, token).await };
        match existing {
            Ok(Some(found)) => {
                let name = schema
                    .name_property
                    .and_then(|p| inputs.as_map()?.get(p)?.as_str())
                    .unwrap_or(&found.id)
                    .to_string();
                return CreateOutcome::Failed(ProviderError::Taken {
                    type_name: schema.type_name.to_string(),
                    name,
                    id: found.id,
                });
            }
            Ok(None) => {}
            Err(error) => return CreateOutcome::Failed(error),
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match provider.create(cx, inputs).await {
            Ok(created) => return CreateOutcome::Created(created),
            // The provider knows what it made: nothing to look for.
            Err(ProviderError::Incomplete { created, cause }) => return CreateOutcome::Incomplete(*created, *cause),
            Err(error) => error,
        };
        // Tagged: only what carries this create's token. Untagged: the name was free just before, and the
        // resource is exactly what this create asked for.
        match provider.find(cx, inputs, token).await {
            Ok(Some(found)) if made_by(schema, &found, Some(token), inputs) => {
                return CreateOutcome::Incomplete(Created { id: found.id, outputs: found.outputs }, error);
            }
            Ok(_) if throttled(&error) && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            Ok(_) if ambiguous(&error) => return CreateOutcome::Unresolved(error),
            Ok(_) => return CreateOutcome::Failed(error),
            Err(_) => return CreateOutcome::Unresolved(error),
        }
    }
}

/// Whether `found` is the resource that a create of `inputs`, tagged with `token`, made. A type with tags knows:
/// the resource carries the token (a recorded resource from before tokens were recorded has none to compare). A
/// type without tags cannot say who made it: only a resource exactly as that create asked for it may be taken
/// for its own (someone who took the name meanwhile made theirs differently, or changed ours: either way it is
/// not adopted as ours).
pub fn made_by(schema: &ResourceSchema, found: &Observed, token: Option<&str>, inputs: &Value) -> bool {
    if schema.has_tags() {
        return token.is_none_or(|token| found.create_token.as_deref() == Some(token));
    }
    crate::diff::diff_inputs(schema, inputs, &found.inputs).is_empty()
}

/// The resource holding the name a create would use, whoever made it (looked up as `stackr import` would).
async fn by_name(provider: &dyn Provider, cx: &CallContext, inputs: &Value) -> Result<Option<Observed>, ProviderError> {
    let name = provider.schema().name_property.and_then(|p| inputs.as_map()?.get(p)?.as_str());
    match name {
        Some(name) => provider.import(cx, name).await,
        None => Ok(None),
    }
}

/// The retry policy, from the error's class: a transient error after which the call certainly changed nothing
/// (throttling, answered before AWS acts) is retried.
fn throttled(error: &ProviderError) -> bool {
    let class = error.class();
    class.transient() && class.changed_nothing()
}

/// An error after which the create may or may not have taken effect: transient, but not provably harmless.
fn ambiguous(error: &ProviderError) -> bool {
    let class = error.class();
    class.transient() && !class.changed_nothing()
}
