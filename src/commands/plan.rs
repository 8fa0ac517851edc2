//! `stackr plan STACK`: refresh (when possible), plan, print in the chosen format, save the plan.

use anyhow::Context;
use stackr_engine::plan::file::{input_digests, PlanFile};
use stackr_engine::plan::{self, PlanError, PlanRequest};
use stackr_engine::render;

use crate::cli::{PlanArgs, PlanFormat};
use crate::printer::Printer;
use crate::report::Failure;
use crate::workspace;

pub fn run(args: &PlanArgs, printer: &Printer) -> Result<u8, Failure> {
    let registry = workspace::registry();
    let stack = workspace::load_stack(&args.stack, &registry)?;
    let backend = workspace::backend(&stack)?;
    let state = workspace::load_state(&stack, backend.as_ref())?;
    let builtins = workspace::builtins(&stack);
    if args.refresh {
        let unreadable = state
            .iter()
            .flat_map(|s| s.resources.values())
            .filter(|r| registry.get(&r.type_name).is_none_or(|t| t.provider.is_none()))
            .count();
        if unreadable > 0 {
            printer.err_line(&format!(
                "note: refresh skipped for {unreadable} resources: this build has no provider to read them"
            ));
        }
    }
    let plan = plan::plan(PlanRequest {
        stack: &stack,
        state: state.as_ref(),
        registry: &registry,
        builtins: &builtins,
        targets: &args.targets,
        destroy: args.destroy,
        drift: Vec::new(),
    })
    .map_err(plan_failure)?;

    let text = match args.format {
        PlanFormat::Text => render::text::render(&plan, printer.stdout_style),
        PlanFormat::Markdown => render::markdown::render(&plan),
        PlanFormat::Json => render::json::render(&plan),
    };
    printer.out(&text);

    let files_read: Vec<_> = plan.files_read.iter().cloned().collect();
    let salt = plan.lineage.clone().unwrap_or_else(|| stack.name.clone());
    let inputs = input_digests(&stack, &files_read, &builtins, &salt).context("cannot hash the plan's inputs")?;
    let file = PlanFile::new(&plan, &args.stack, inputs);
    let path = args.out.clone().unwrap_or_else(|| workspace::default_plan_path(&stack.name));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    stackr_state::backend::write_atomic(&path, &file.to_bytes())?;
    printer.err_line(&format!("Saved the plan to {}.", path.display()));

    Ok(if args.detailed_exitcode && plan.has_changes() { 2 } else { 0 })
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
