//! `stackr plan STACK`: refresh, plan, print in the chosen format, save the plan.

use anyhow::Context;
use stackr_engine::render;

use super::planning::{make_plan, Settings};
use crate::cli::{PlanArgs, PlanFormat};
use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace::{self, Site};

pub fn run(args: &PlanArgs, printer: &Printer) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    let stack = workspace::load_stack(&args.stack, &registry)?;
    let builtins = workspace::connect(&stack, &mut registry, args.refresh)?;
    let session = Session::read(&Site::of(&stack, &registry)?, &registry, printer)?;
    let settings = Settings { targets: &args.targets, destroy: args.destroy, refresh: args.refresh };
    let planned = make_plan(&args.stack, &stack, &session, &registry, &builtins, &settings, printer)?;
    let plan = &planned.plan;

    let text = match args.format {
        PlanFormat::Text => render::text::render(plan, printer.stdout_style),
        PlanFormat::Markdown => render::markdown::render(plan),
        PlanFormat::Json => render::json::render(plan),
    };
    printer.out(&text);

    let path = args.out.clone().unwrap_or_else(|| workspace::default_plan_path(&stack.name));
    if let Some(why) = &planned.unsaved {
        // An older plan at that path would be applied in this one's place: it goes. Anything else stays.
        if is_saved_plan(&path) {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("cannot remove the older plan {}: {e}", path.display()))?;
        }
        printer.err_line(&format!(
            "note: a plan of this stack is saved only sealed and authenticated under its secrets key, which cannot be opened here: not saved ({})",
            crate::report::summary(why)
        ));
        return Ok(if args.detailed_exitcode && plan.has_changes() { 2 } else { 0 });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    stackr_state::backend::write_atomic(&path, &planned.to_bytes()?)?;
    if plan.has_changes() {
        let apply = if args.out.is_some() { format!("stackr apply {}", path.display()) } else { "stackr apply".into() };
        printer.err_line(&format!("Saved the plan to {}; `{apply}` applies exactly this plan.", path.display()));
    } else {
        printer.err_line(&format!("Saved the plan to {}.", path.display()));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}

/// Whether `path` holds a plan `stackr plan` saved (of any format): what an unsaved plan may remove.
fn is_saved_plan(path: &std::path::Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    json.as_ref()
        .and_then(|j| j.as_object())
        .is_some_and(|o| o.contains_key("formatVersion") && o.contains_key("stack"))
}
