//! Refresh: read every resource in the state from AWS, record what it really is, and report what changed
//! outside stackr. Changes no resource.

use std::sync::Arc;

use stackr_state::StateFile;
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

/// Reads every resource (at most `parallelism` at once) and updates `state` in place.
pub async fn refresh(state: &mut StateFile, registry: &Registry, parallelism: usize) -> Refreshed {
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
            let cx = CallContext { stack: state.stack.clone(), resource: name.clone(), create_token: None };
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
    let mut drift = Vec::new();
    for (name, result) in results {
        let Some(resource) = state.resources.get(&name).cloned() else { continue };
        match result {
            Err(e) => unread.push((name, e.to_string())),
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
            Ok(Some(observed)) => {
                if let Some(schema) = registry.schema(&resource.type_name) {
                    let prior = Value::from_json(&resource.inputs);
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
    Refreshed { drift, unread }
}
