//! Refresh: read every resource in the state from AWS, record what it really is, and report what changed
//! outside stackr. Changes no resource.
//!
//! Before any read, the account and region the credentials act in are compared with where the state says the
//! stack lives ([`confirm_place`]): read in another account or region, every resource would look deleted, and the
//! next apply would create the whole stack again there.

use std::collections::BTreeSet;
use std::sync::Arc;

use stackr_state::{Place, StateFile};
use tokio::task::JoinSet;

use crate::diff::diff_inputs;
use crate::plan::Drift;
use crate::provider::{CallContext, Observed, ProviderError, Registry};
use crate::value::Value;

#[derive(Debug)]
pub struct Refreshed {
    pub drift: Vec<Drift>,
    /// Resources that could not be read (no provider in this build, or an AWS error), with why.
    pub unread: Vec<(String, String)>,
}

/// Refresh cannot tell what exists: the credentials act somewhere other than where the stack's resources are.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error(
        "the state records this stack's resources in {recorded}, but the AWS credentials act in {caller}: read there, every resource would look deleted"
    )]
    Elsewhere { recorded: String, caller: String },
}

/// Reads every resource (at most `parallelism` at once) and updates `state` in place.
pub async fn refresh(state: &mut StateFile, registry: &Registry, parallelism: usize) -> Result<Refreshed, PlaceError> {
    // When STS cannot say who we are, or nothing confirms that the stack lives where the credentials act, the
    // reads go ahead (they name their own errors), but none of them may conclude that a resource is gone, unless
    // another resource is found there (which confirms the place).
    let placed = confirm_place(state, registry).await?;
    if let Placed::Unknown(e) = &placed {
        if e.class() == crate::provider::ErrorClass::Retryable {
            // No answer from AWS at all (no connection, no response): every read would wait out the same retries.
            let why = format!("the AWS endpoint does not answer ({e})");
            let unread = state.resources.keys().map(|name| (name.clone(), why.clone())).collect();
            return Ok(Refreshed { drift: Vec::new(), unread });
        }
    }
    let mut reads: JoinSet<(String, Result<Option<Observed>, ProviderError>)> = JoinSet::new();
    let mut queue: Vec<(String, String, String, Value)> = state
        .resources
        .iter()
        .map(|(name, r)| (name.clone(), r.type_name.clone(), r.id.clone(), Value::from_json(&r.inputs)))
        .collect();
    queue.reverse();
    let mut unread = Vec::new();
    let mut results = Vec::new();
    loop {
        while reads.len() < parallelism.max(1) {
            let Some((name, type_name, id, inputs)) = queue.pop() else { break };
            let provider = match registry.provider(&type_name) {
                Ok(p) => p,
                Err(e) => {
                    unread.push((name, e.to_string()));
                    continue;
                }
            };
            let cx = CallContext { stack: state.stack.clone(), resource: name.clone(), create_token: None, made: None };
            let provider = Arc::clone(&provider);
            reads.spawn(async move {
                let result = provider.read(&cx, &id, &inputs).await;
                (name, result)
            });
        }
        let Some(joined) = reads.join_next().await else { break };
        match joined {
            Ok(result) => results.push(result),
            Err(e) => unread.push(("?".into(), e.to_string())),
        }
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let unplaced = match placed {
        Placed::Confirmed => None,
        Placed::Unknown(e) => Some(format!("which account the credentials act in is unknown ({e})")),
        // A regional resource found where the credentials act (its ARN names that account and region) confirms it.
        Placed::Unconfirmed(place) if results.iter().any(|(_, r)| matches!(r, Ok(Some(o)) if names_place(o, &place))) => {
            state.place = Some(place);
            None
        }
        Placed::Unconfirmed(place) => Some(format!(
            "nothing confirms that the stack was applied in {place}, where the credentials act (its state records no place)"
        )),
    };
    let mut drift = Vec::new();
    for (name, result) in results {
        let Some(resource) = state.resources.get(&name).cloned() else { continue };
        match result {
            Err(e) => unread.push((name, e.to_string())),
            Ok(None) if unplaced.is_some() => {
                let why = unplaced.clone().unwrap_or_default();
                unread.push((name, format!("it reads as gone, but {why}")));
            }
            Ok(None) => {
                drift.push(Drift {
                    name: name.clone(),
                    type_name: resource.type_name.clone(),
                    gone: true,
                    diff: Vec::new(),
                });
                state.resources.remove(&name);
                for other in state.resources.values_mut() {
                    other.dependencies.retain(|d| d != &name);
                }
            }
            Ok(Some(mut observed)) => {
                // What AWS reports of a secret input is as secret as the input: in the drift shown and the state.
                let prior = Value::from_json(&resource.inputs);
                observed.inputs = observed.inputs.marked_like(&prior);
                if let Some(schema) = registry.schema(&resource.type_name) {
                    let diff = diff_inputs(schema, &prior, &observed.inputs);
                    if !diff.is_empty() {
                        drift.push(Drift {
                            name: name.clone(),
                            type_name: resource.type_name.clone(),
                            gone: false,
                            diff,
                        });
                    }
                }
                if let Some(r) = state.resources.get_mut(&name) {
                    r.id = observed.id;
                    r.inputs = observed.inputs.to_json();
                    r.outputs = observed.outputs.to_json();
                }
            }
        }
    }
    unread.sort();
    Ok(Refreshed { drift, unread })
}

/// How far the caller's place could be checked against the stack's.
#[derive(Debug)]
pub enum Placed {
    /// The caller acts where the stack lives (recorded in the state now, if it was not).
    Confirmed,
    /// Nothing contradicts it, but nothing confirms it either: a state from before places were recorded whose
    /// ARNs do not name both an account and a region (IAM roles and dashboards carry no region). Not recorded.
    Unconfirmed(Place),
    /// STS did not answer: nothing was compared.
    Unknown(ProviderError),
}

/// Compares the caller's account and region (asked of STS) with where the stack's resources are: the place the
/// state records, or, in a state written before places were recorded, the accounts and regions of its ARNs
/// (resource ids and ARN outputs). A state with nothing in it yet takes the caller's place.
pub async fn confirm_place(state: &mut StateFile, registry: &Registry) -> Result<Placed, PlaceError> {
    let Some(identity) = registry.identity() else { return Ok(Placed::Confirmed) };
    let mut accounts = BTreeSet::new();
    let mut regions = BTreeSet::new();
    match &state.place {
        Some(place) => {
            accounts.insert(place.account.clone());
            regions.insert(place.region.clone());
        }
        None => {
            for resource in state.resources.values() {
                let outputs = resource.outputs.as_object().into_iter().flat_map(|o| o.values());
                let arns = outputs.filter_map(|v| v.as_str()).filter(|v| v.starts_with("arn:"));
                for arn in std::iter::once(resource.id.as_str()).chain(arns) {
                    if let Some((region, account)) = arn_place(arn) {
                        if !account.is_empty() {
                            accounts.insert(account.to_string());
                        }
                        if !region.is_empty() {
                            regions.insert(region.to_string());
                        }
                    }
                }
            }
        }
    }
    let caller = match identity.caller().await {
        Ok(caller) => Place { account: caller.account, region: caller.region },
        Err(e) => return Ok(Placed::Unknown(e)),
    };
    let account_differs = !accounts.is_empty() && !accounts.contains(&caller.account);
    let region_differs = !regions.is_empty() && !regions.contains(&caller.region);
    if account_differs || region_differs {
        let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        let recorded = match (accounts.is_empty(), regions.is_empty()) {
            (false, false) => format!("account {} ({})", join(&accounts), join(&regions)),
            (false, true) => format!("account {}", join(&accounts)),
            _ => format!("region {}", join(&regions)),
        };
        return Err(PlaceError::Elsewhere { recorded, caller: caller.to_string() });
    }
    let empty = state.resources.is_empty() && state.pending.is_empty();
    if state.place.is_some() || empty || (!accounts.is_empty() && !regions.is_empty()) {
        state.place = Some(caller);
        Ok(Placed::Confirmed)
    } else {
        Ok(Placed::Unconfirmed(caller))
    }
}

/// Whether a resource read back carries an ARN (its id or an output) in `place`'s account and region.
fn names_place(observed: &Observed, place: &Place) -> bool {
    let outputs = observed.outputs.as_map().into_iter().flat_map(|m| m.values()).filter_map(Value::as_str);
    std::iter::once(observed.id.as_str())
        .chain(outputs)
        .filter_map(arn_place)
        .any(|(region, account)| region == place.region && account == place.account)
}

/// The region and account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`); either may be empty
/// (IAM is global).
fn arn_place(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let (_partition, _service, region, account) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    Some((region, account))
}

#[cfg(test)]
mod tests {
    use super::arn_place;

    #[test]
    fn reads_the_place_of_an_arn() {
        assert_eq!(arn_place("arn:aws:sns:us-east-1:123456789012:alerts"), Some(("us-east-1", "123456789012")));
        assert_eq!(arn_place("arn:aws:iam::123456789012:role/x"), Some(("", "123456789012")));
        assert_eq!(arn_place("arn:aws:logs:eu-west-1:1:log-group:/a:b:*"), Some(("eu-west-1", "1")));
        assert_eq!(arn_place("sessions"), None);
        assert_eq!(arn_place("arn:aws:s3"), None);
    }
}
