//! `stackr state list|show|rm|unlock|migrate`: inspect and repair a stack's state.

use std::path::Path;

use stackr_engine::render::json_shown;
use stackr_engine::value::Value;

use crate::cli::StateCommand;
use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::store::Store;
use crate::workspace::{self, Site};

pub fn run(command: &StateCommand, printer: &Printer) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    match command {
        StateCommand::List { stack } => {
            let stack = workspace::load_stack(stack, &registry)?;
            workspace::connect(&stack, &mut registry, false)?;
            let session = Session::read(&Site::of(&stack, &registry)?, &registry, printer)?;
            if session.state.resources.is_empty() {
                printer.out(&format!("Stack {} has no resources in its state.\n", stack.name));
            }
            let width = session.state.resources.keys().map(String::len).max().unwrap_or(0);
            let type_width = session.state.resources.values().map(|r| r.type_name.len()).max().unwrap_or(0);
            for (name, resource) in &session.state.resources {
                printer.out(&format!("{name:width$}  {:type_width$}  {}\n", resource.type_name, resource.id));
            }
            Ok(0)
        }
        StateCommand::Show { stack, name } => {
            let stack = workspace::load_stack(stack, &registry)?;
            workspace::connect(&stack, &mut registry, false)?;
            let session = Session::read(&Site::of(&stack, &registry)?, &registry, printer)?;
            let resource =
                session.state.resources.get(name).ok_or_else(|| not_in_state(&stack.name, name, &session))?;
            let shown = serde_json::json!({
                "name": name,
                "type": resource.type_name,
                "id": resource.id,
                "inputs": Value::from_json(&resource.inputs).to_redacted_json(),
                "outputs": Value::from_json(&resource.outputs).to_redacted_json(),
                "dependencies": resource.dependencies,
                "protect": resource.protect,
                "retainOnDelete": resource.retain_on_delete,
            });
            printer.out(&format!("{}\n", json_shown(&serde_json::to_string_pretty(&shown).unwrap_or_default())));
            Ok(0)
        }
        StateCommand::Rm { stack: path, name } => {
            let stack = workspace::load_stack(path, &registry)?;
            workspace::connect(&stack, &mut registry, false)?;
            let mut session = Session::write(&Site::of(&stack, &registry)?, &registry, "state rm", printer)?;
            if !session.state.resources.contains_key(name) {
                let failure = not_in_state(&stack.name, name, &session);
                session.release()?;
                return Err(failure);
            }
            let mut state = session.state.clone();
            state.resources.remove(name);
            for other in state.resources.values_mut() {
                other.dependencies.retain(|d| d != name);
            }
            session.commit(state)?;
            session.release()?;
            printer.out(&format!(
                "Removed `{name}` from the state of {}. The resource itself still exists in AWS; `stackr import` adopts it again.\n",
                stack.name
            ));
            Ok(0)
        }
        StateCommand::Unlock { stack, force } => {
            let stack = workspace::load_stack(stack, &registry)?;
            let store = workspace::store(&Site::of(&stack, &registry)?)?;
            match store.force_unlock(&stack.name, *force)? {
                Some(holder) => printer.out(&format!("Removed the lock held by {}.\n", holder.describe())),
                None => printer.out(&format!("Stack {} was not locked.\n", stack.name)),
            }
            Ok(0)
        }
        StateCommand::Migrate { stack, to } => migrate(stack, to, printer),
    }
}

fn not_in_state(stack: &str, name: &str, session: &Session) -> Failure {
    let names = session.state.resources.keys().map(String::as_str);
    let hint = match stackr_engine::diagnostic::suggest(name, names) {
        Some(best) => format!("did you mean `{best}`?"),
        None => "`stackr state list STACK` shows what the state holds".into(),
    };
    Failure::hint(anyhow::anyhow!("`{name}` is not in the state of stack {stack}"), hint)
}

/// Copies the state unchanged (same lineage, serial and resources, secrets still encrypted) to another
/// backend: a local directory or S3.
fn migrate(path: &Path, to: &str, printer: &Printer) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    workspace::connect(&stack, &mut registry, false)?;
    let cwd = std::env::current_dir().map_err(|e| anyhow::anyhow!("cannot read the working directory: {e}"))?;
    let target = Store::from_url(to, &cwd)?;
    let mut session = Session::write(&Site::of(&stack, &registry)?, &registry, "state migrate", printer)?;
    if session.replayed {
        // An interrupted run left a journal: what it recorded belongs to the state being copied. Commit it here
        // first (the stored state alone would lack it, and the journal would stay behind on the old backend).
        let replayed = session.state.clone();
        session.commit(replayed)?;
        printer.err_line("note: committed the interrupted run's journal to the state before copying it");
    }
    // The stored form, secrets encrypted as they are at rest.
    let Some(stored) = session.store.load(&stack.name)? else {
        session.release()?;
        return Err(anyhow::anyhow!("stack {} has no state to migrate", stack.name).into());
    };
    if target.load(&stack.name)?.is_some() {
        session.release()?;
        return Err(Failure::hint(
            anyhow::anyhow!("{} already holds a state for stack {}", target.describe(), stack.name),
            "migrating never overwrites a state; remove it first if it is a leftover",
        ));
    }
    target.persist(&stored)?;
    printer.out(&format!(
        "Copied the state of {} (lineage {}, serial {}, {} resources) to {}. Set `backend: {to}` in the stack to use it.\n",
        stack.name,
        stored.lineage,
        stored.serial,
        stored.resources.len(),
        target.describe()
    ));
    session.release()?;
    Ok(0)
}
