//! `stackr apply [PLANFILE | STACK]` and `stackr destroy STACK`.
//!
//! With a saved plan, the plan is the program: apply runs its steps without reading the stack, or refuses the
//! plan when it went stale (the state's lineage or serial moved, a file it read changed, code it deploys is
//! missing) or was edited. With a stack file, stackr plans, shows the plan, asks (unless `--auto-approve`; with
//! no terminal it refuses) and applies.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use stackr_engine::apply::{self, ApplyEvent, ApplyOptions, ApplyRun, CancelFlag};
use stackr_engine::plan::file::{PlanFile, PlanFileError, PlanKey};
use stackr_engine::render;

use super::planning::{make_plan, Settings};
use crate::cli::{ApplyArgs, DestroyArgs};
use crate::printer::Printer;
use crate::progress::Progress;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace::{self, Site};

pub fn run(args: &ApplyArgs, printer: &Printer) -> Result<u8, Failure> {
    let target = match &args.target {
        Some(target) => target.clone(),
        None => only_saved_plan()?,
    };
    let is_stack = matches!(target.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    let options = ApplyOptions { parallelism: args.parallelism, allow_data_loss: args.allow_data_loss };
    if is_stack {
        plan_and_apply(&target, false, args.auto_approve, options, printer)
    } else {
        apply_saved(&target, options, printer)
    }
}

pub fn destroy(args: &DestroyArgs, printer: &Printer) -> Result<u8, Failure> {
    // Destroying is the explicit request to delete everything, data included; protected resources still refuse.
    let options = ApplyOptions { parallelism: args.parallelism, allow_data_loss: true };
    plan_and_apply(&args.stack, true, args.auto_approve, options, printer)
}

/// The one saved plan in `.stackr/plans/`.
fn only_saved_plan() -> Result<PathBuf, Failure> {
    let dir = Path::new(workspace::STACKR_DIR).join("plans");
    let mut plans: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".plan.json"))
                .collect()
        })
        .unwrap_or_default();
    plans.sort();
    match plans.len() {
        0 => Err(Failure::hint(
            anyhow::anyhow!("there is no saved plan in {}", dir.display()),
            "run `stackr plan STACK.yaml` first, or `stackr apply STACK.yaml` to plan and apply in one go",
        )),
        1 => Ok(plans.remove(0)),
        _ => Err(Failure::hint(
            anyhow::anyhow!(
                "there are {} saved plans: {}",
                plans.len(),
                plans.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
            "name the one to apply: `stackr apply PLANFILE`",
        )),
    }
}

fn apply_saved(path: &Path, options: ApplyOptions, printer: &Printer) -> Result<u8, Failure> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let new_plan = |bytes: &[u8]| {
        let stack_file = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("stackFile").and_then(|f| f.as_str()).map(str::to_string))
            .unwrap_or_else(|| "STACK.yaml".to_string());
        format!("make a new plan: `stackr plan {stack_file}`")
    };
    let mut file = PlanFile::from_bytes(&bytes)
        .map_err(|e| Failure::hint(anyhow::anyhow!("{}: {e}", path.display()), new_plan(&bytes)))?;
    let site = Site::of_plan(&file)?;
    let mut registry = workspace::registry();
    let region = workspace::connect_site(&site, &mut registry)?;
    let mut session = Session::write(&site, &registry, "apply", printer)?;

    let mut moved = Vec::new();
    let lineage_now = session.existed.then(|| session.state.lineage.0.clone());
    if file.lineage != lineage_now {
        moved.push(match (&file.lineage, &lineage_now) {
            (None, Some(_)) => "the stack's state was created after the plan was made".to_string(),
            (Some(_), None) => "the stack's state no longer exists".to_string(),
            _ => "the state file belongs to another lineage (a different stack's state?)".to_string(),
        });
    } else if file.serial != session.state.serial {
        moved.push(format!(
            "the state moved from serial {} to {} (someone applied since)",
            file.serial, session.state.serial
        ));
    }
    // A plan made against another state is stale whatever its files: say so before opening any key.
    let stale = |moved: Vec<String>| {
        Failure::hint(
            anyhow::anyhow!("the saved plan {} is stale: {}", path.display(), moved.join("; ")),
            new_plan(&bytes),
        )
    };
    if !moved.is_empty() {
        return Err(stale(moved));
    }
    let key = crate::secrets_key::for_saved_plan(&session, &site, file.secrets_key.as_ref(), path)?;
    file.open(key.as_deref()).map_err(|e| {
        let hint = match (&e, &file.secrets_key) {
            (PlanFileError::Edited, Some(PlanKey::New { record })) if record.provider == "passphrase" => {
                format!("use the STACKR_PASSPHRASE the plan was made with, or {}", new_plan(&bytes))
            }
            (PlanFileError::Edited, _) => {
                format!("a saved plan applies as `stackr plan` wrote it; {}", new_plan(&bytes))
            }
            _ => new_plan(&bytes),
        };
        Failure::hint(anyhow::anyhow!("{}: {e}", path.display()), hint)
    })?;
    // The files it read are read only once the plan is known to be one `stackr plan` wrote (when it can be).
    let moved = file.moved_inputs(&workspace::project_root()?).context("cannot hash the plan's inputs")?;
    if !moved.is_empty() {
        return Err(stale(moved));
    }
    session.rekey()?;
    let code = execute(&file, &mut session, &registry, region, options, "apply", printer)?;
    if code == 0 {
        // A consumed plan is stale by construction; leave no trap for the next `stackr apply`.
        let _ = std::fs::remove_file(path);
    }
    session.release()?;
    Ok(code)
}

fn plan_and_apply(
    path: &Path,
    destroy: bool,
    auto_approve: bool,
    options: ApplyOptions,
    printer: &Printer,
) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    let builtins = workspace::connect(&stack, &mut registry, true)?;
    let operation = if destroy { "destroy" } else { "apply" };
    let mut session = Session::write(&Site::of(&stack, &registry)?, &registry, operation, printer)?;
    let settings = Settings { targets: &[], destroy, refresh: true };
    let planned = make_plan(path, &stack, &session, &registry, &builtins, &settings, printer)?;
    let plan = &planned.plan;
    printer.out(&render::text::render(plan, printer.stdout_style));
    // Nothing to change in AWS, but the state still records what refresh found deleted outside stackr:
    // forgetting it is the run (confirmed gone first), with nothing to ask.
    let only_forgets = !plan.has_changes() && !planned.file.gone.is_empty();
    if !plan.has_changes() && !only_forgets {
        if session.replayed {
            // An interrupted run's journal was replayed and reconciled: record that in the state now, or every
            // later command would replay it again.
            let replayed = session.state.clone();
            session.commit(replayed)?;
        }
        session.release()?;
        return Ok(0);
    }
    if !auto_approve && !only_forgets {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::hint(
                anyhow::anyhow!("refusing to {operation} without confirmation: standard input is not a terminal"),
                "review the plan and pass --auto-approve, or apply a saved plan: `stackr plan` then `stackr apply`",
            ));
        }
        let question = if destroy { "Destroy every resource listed above?" } else { "Apply these changes?" };
        if !confirm(printer, question)? {
            printer.err_line("Nothing was changed.");
            session.release()?;
            return Ok(1);
        }
    }
    session.rekey()?;
    let code = execute(&planned.file, &mut session, &registry, builtins.region.clone(), options, operation, printer)?;
    session.release()?;
    Ok(code)
}

fn apply_failure(error: apply::ApplyError) -> Failure {
    match error {
        e @ apply::ApplyError::DataLoss { .. } => {
            Failure::hint(e, "review the data-loss warnings in the plan; re-run with --allow-data-loss if you mean it")
        }
        // The state is not written and the journal stays: the next run replays it and adopts what was created.
        e @ (apply::ApplyError::JournalBroken(_) | apply::ApplyError::Journal(_)) => Failure::hint(
            e,
            "nothing is lost: the journal of this run is kept, and the next `stackr apply` or `stackr plan` replays it and adopts what was created",
        ),
        e @ apply::ApplyError::NotFromThisStack { .. } => Failure::hint(
            e,
            "a saved plan applies as `stackr plan` wrote it, to the state it was made against; make a new plan (after `stackr refresh`, if AWS changed outside stackr)",
        ),
        other => Failure::from(other),
    }
}

fn confirm(printer: &Printer, question: &str) -> Result<bool, Failure> {
    printer.out(&format!("{question} Only `yes` is accepted: "));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).context("cannot read the answer")?;
    Ok(answer.trim() == "yes")
}

/// What the plan says was deleted outside stackr must really be gone: forgetting a resource that exists would
/// lose track of it (an edited plan file could otherwise make apply forget any resource, protected ones too).
fn confirm_gone(
    runtime: &tokio::runtime::Runtime,
    file: &PlanFile,
    session: &Session,
    registry: &stackr_engine::provider::Registry,
) -> Result<(), Failure> {
    for gone in &file.gone {
        let Some(recorded) = session.state.resources.get(&gone.name).filter(|r| r.id == gone.id) else { continue };
        let provider = registry.provider(&recorded.type_name)?;
        let cx = stackr_engine::provider::CallContext {
            stack: session.state.stack.clone(),
            resource: gone.name.clone(),
            create_token: None,
            made: None,
        };
        let inputs = stackr_engine::value::Value::from_json(&recorded.inputs);
        let found = runtime.block_on(provider.read(&cx, &recorded.id, &inputs)).map_err(|e| {
            Failure::hint(anyhow::anyhow!("cannot confirm that {} is gone: {e}", gone.name), "run the apply again")
        })?;
        if found.is_some() {
            return Err(Failure::hint(
                anyhow::anyhow!(
                    "the saved plan says `{}` was deleted outside stackr, but it exists ({})",
                    gone.name,
                    gone.id
                ),
                format!("make a new plan: `stackr plan {}`", file.stack_file.display()),
            ));
        }
    }
    Ok(())
}

/// Runs a plan's program under the session's lock.
fn execute(
    file: &PlanFile,
    session: &mut Session,
    registry: &stackr_engine::provider::Registry,
    region: Option<String>,
    options: ApplyOptions,
    operation: &str,
    printer: &Printer,
) -> Result<u8, Failure> {
    let runtime = workspace::runtime()?;
    apply::guard(&file.steps, &session.state, options).map_err(apply_failure)?;
    let root = workspace::project_root()?;
    apply::verify_saved(file, &session.state, registry, options, Some(&root)).map_err(apply_failure)?;
    confirm_gone(runtime, file, session, registry)?;
    // Whether or not the plan read AWS (`--refresh=false`), nothing is changed in another account or region.
    super::planning::confirm_place(runtime, &mut session.state, registry)?;
    if session.replayed {
        // An interrupted run's journal was replayed and reconciled: commit that first, so that every journal holds
        // exactly one run (one Begin record, one secrets configuration).
        let replayed = session.state.clone();
        session.commit(replayed)?;
    }
    let journal = session.open_journal()?;
    let cancel = CancelFlag::default();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<ApplyEvent>();
    let progress = Progress::new(*printer);
    let total = file.steps.len();
    let outputs = file.output_values();
    let report = runtime.block_on(async {
        let display = tokio::spawn(progress.run(receiver, total));
        let interrupts = tokio::spawn(watch_interrupts(cancel.clone(), *printer));
        let result = apply::apply(ApplyRun {
            steps: &file.steps,
            outputs: &outputs,
            state: session.state.clone(),
            registry,
            region,
            options,
            journal,
            events: Some(sender),
            cancel: cancel.clone(),
            operation,
            gone: &file.gone,
            lock: session.store.lock_check(),
        })
        .await;
        interrupts.abort();
        let _ = display.await;
        result
    });
    let report = report.map_err(apply_failure)?;
    session.commit(report.state.clone())?;
    let counts = &report.counts;
    let summary = format!(
        "{} created, {} updated, {} replaced, {} deleted.",
        counts.created, counts.updated, counts.replaced, counts.deleted
    );
    if report.errors.is_empty() && report.skipped.is_empty() && !report.interrupted {
        printer.out(&printer.stdout_style.green(&format!("Apply complete: {summary}\n")));
        return Ok(0);
    }
    if report.interrupted {
        printer.err_line(&format!("Apply interrupted: {summary} The state records everything that finished."));
    }
    for error in &report.errors {
        printer.err_line(&format!(
            "{}: {} ({}): {}",
            printer.stderr_style.red("error"),
            error.name,
            error.operation.doing(),
            error.cause
        ));
    }
    if report.errors.is_empty() && !report.interrupted {
        printer.err_line(&format!("Apply stopped: {summary} {} steps were not run.", report.skipped.len()));
    }
    if !report.errors.is_empty() {
        printer.err_line(&format!(
            "Apply failed: {summary} {} failed, {} skipped. Fix the errors and run again; finished steps are kept.",
            report.errors.len(),
            report.skipped.len()
        ));
    }
    Ok(1)
}

/// First Ctrl-C: stop scheduling and let steps in flight finish. Second: exit at once; the journal already
/// holds every finished step.
async fn watch_interrupts(cancel: CancelFlag, printer: Printer) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    cancel.cancel();
    printer.err_line("Interrupted: finishing the steps in flight (Ctrl-C again to stop at once).");
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}
