//! Planning shared by `plan`, `apply STACK` and `destroy`: refresh (unless turned off), plan, and the saved-plan
//! record with the digests of every input.

use std::path::Path;

use anyhow::Context;
use stackr_engine::apply::refresh::refresh;
use stackr_engine::eval::Builtins;
use stackr_engine::plan::file::{input_digests, PlanFile};
use stackr_engine::plan::{self, Plan, PlanError, PlanRequest};
use stackr_engine::provider::Registry;
use stackr_engine::stack::Stack;

use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace;

pub struct Settings<'a> {
    pub targets: &'a [String],
    pub destroy: bool,
    pub refresh: bool,
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
) -> Result<(Plan, PlanFile), Failure> {
    let mut current = session.state.clone();
    let mut drift = Vec::new();
    if settings.refresh && !current.resources.is_empty() {
        let runtime = workspace::runtime()?;
        let refreshed = runtime.block_on(refresh(&mut current, registry, 10));
        drift = refreshed.drift;
        if !refreshed.unread.is_empty() {
            let names: Vec<&str> = refreshed.unread.iter().map(|(n, _)| n.as_str()).collect();
            printer.err_line(&format!(
                "note: refresh could not read {} resources ({}): {}",
                names.len(),
                names.join(", "),
                refreshed.unread[0].1
            ));
        }
    }
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
    let files_read: Vec<_> = plan.files_read.iter().cloned().collect();
    let salt = plan.lineage.clone().unwrap_or_else(|| stack.name.clone());
    let inputs = input_digests(stack, &files_read, builtins, &salt).context("cannot hash the plan's inputs")?;
    let file = PlanFile::new(&plan, stack_path, inputs);
    Ok((plan, file))
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
