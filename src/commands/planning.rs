//! Planning shared by `plan`, `apply STACK` and `destroy`: refresh (unless turned off), plan, and the saved-plan
//! record with the digests of every input.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use stackr_engine::apply::refresh::{refresh, PlaceError, Placed};
use stackr_engine::eval::Builtins;
use stackr_engine::plan::file::{input_digests, GoneResource, PlanFile};
use stackr_engine::plan::{self, Plan, PlanError, PlanRequest};
use stackr_engine::provider::Registry;
use stackr_engine::stack::Stack;
use stackr_state::secrets::SecretsCodec;

use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace;

pub struct Settings<'a> {
    pub targets: &'a [String],
    pub destroy: bool,
    pub refresh: bool,
}

/// A plan, its saved form, and the key that form's secrets are sealed under.
pub struct Planned {
    pub plan: Plan,
    pub file: PlanFile,
    pub key: Option<Arc<dyn SecretsCodec>>,
    /// Why the plan cannot be saved: it holds secrets, and the key to seal them under cannot be opened here
    /// (a review of a pull request without the passphrase). It is shown all the same.
    pub unsaved: Option<Failure>,
}

impl Planned {
    /// The saved plan's bytes (its secrets sealed).
    pub fn to_bytes(&self) -> Result<Vec<u8>, Failure> {
        self.file.to_bytes(self.key.as_deref()).context("cannot write the plan").map_err(Failure::from)
    }
}

/// Plans `stack` against `state` (refreshed in memory first, when asked).
pub fn make_plan(
    stack_path: &Path,
    stack: &Stack,
    session: &Session,
    registry: &Registry,
    builtins: &Builtins,
    settings: &Settings<'_>,
    printer: &Printer,
) -> Result<Planned, Failure> {
    let mut current = session.state.clone();
    let mut drift = Vec::new();
    if settings.refresh && !current.resources.is_empty() {
        let runtime = workspace::runtime()?;
        let refreshed = runtime.block_on(refresh(&mut current, registry, 10)).map_err(place_failure)?;
        if !refreshed.unread.is_empty() {
            return Err(unread_failure(&refreshed.unread, current.resources.len(), printer));
        }
        drift = refreshed.drift;
    }
    // What refresh found deleted outside stackr: part of the plan's base, recorded by apply before its steps.
    let gone: Vec<GoneResource> = drift
        .iter()
        .filter(|d| d.gone)
        .filter_map(|d| {
            session.state.resources.get(&d.name).map(|r| GoneResource { name: d.name.clone(), id: r.id.clone() })
        })
        .collect();
    let plan = plan::plan(PlanRequest {
        stack,
        state: session.existed.then_some(&current),
        registry,
        builtins,
        targets: settings.targets,
        destroy: settings.destroy,
        drift,
    })
    .map_err(plan_failure)?;
    let stack_files: Vec<_> = stack.files.iter().map(|f| (f.path.clone(), f.sha256.clone())).collect();
    let inputs = input_digests(&plan, &stack_files).context("cannot hash the plan's inputs")?;
    let site = &session.site;
    let mut file = PlanFile::new(&plan, stack_path, site.target.clone(), inputs, None, gone);
    let (key, unsaved) = match crate::secrets_key::for_plan(session, site, file.holds_secrets()) {
        Ok(key) => (key, None),
        Err(failure) => (None, Some(failure)),
    };
    file.secrets_key = key.as_ref().map(|(_, config)| config.clone());
    Ok(Planned { plan, file, key: key.map(|(codec, _)| codec), unsaved })
}

/// Refresh could not read some resources: planning on what the state says would call a blind plan
/// "no changes", so the command fails naming each of them.
pub fn unread_failure(unread: &[(String, String)], total: usize, printer: &Printer) -> Failure {
    for (name, why) in unread {
        let why = stackr_engine::render::shown_lines(why);
        printer.err_line(&format!("{}: cannot read {name}: {why}", printer.stderr_style.red("error")));
    }
    Failure::hint(
        anyhow::anyhow!(
            "refresh could not read {} of {total} resources ({}); the plan would be blind to their real state",
            unread.len(),
            unread.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        ),
        "fix the cause above and run again; `--refresh=false` plans from the state alone, without reading AWS",
    )
}

/// Before a command changes AWS or reconciles an interrupted run: the credentials must act where the stack lives
/// (recorded in `state`, which then records it if it did not). When STS cannot say, a stack with resources or
/// operations in flight is not touched.
pub fn confirm_place(
    runtime: &tokio::runtime::Runtime,
    state: &mut stackr_state::StateFile,
    registry: &Registry,
) -> Result<(), Failure> {
    match runtime.block_on(stackr_engine::apply::refresh::confirm_place(state, registry)) {
        Err(e) => Err(place_failure(e)),
        Ok(Placed::Unknown(unknown)) if !state.resources.is_empty() || !state.pending.is_empty() => Err(Failure::hint(
            anyhow::anyhow!("cannot tell which AWS account the credentials act in: {unknown}"),
            "stackr asks STS who you are before it changes or reconciles anything; check your AWS credentials",
        )),
        Ok(_) => Ok(()),
    }
}

/// Refresh would read in another account or region than the stack's: nothing is read, nothing planned.
pub fn place_failure(error: PlaceError) -> Failure {
    let PlaceError::Elsewhere { .. } = &error;
    Failure::hint(
        error,
        "use the credentials and region this stack was deployed with (AWS_PROFILE, AWS_REGION or the stack's `region:`)",
    )
}

pub fn plan_failure(error: PlanError) -> Failure {
    match error {
        PlanError::Invalid(diagnostics) => Failure::Invalid(diagnostics),
        e @ PlanError::Cycle(_) => Failure::hint(e, "break the cycle: remove a reference or a dependsOn entry"),
        e @ PlanError::Protected { .. } => Failure::hint(
            e,
            "protected resources are never deleted or replaced; set `protect: false` first if you really mean it",
        ),
        e @ PlanError::UnknownTarget { .. } => Failure::hint(e, "targets are logical resource names from the stack"),
    }
}
