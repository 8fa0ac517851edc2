//! `stackr import STACK NAME ID`: adopt an existing resource under the logical name NAME.

use std::path::Path;

use stackr_engine::provider::CallContext;
use stackr_state::ResourceState;

use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace::{self, Site};

pub fn run(path: &Path, name: &str, id: &str, printer: &Printer) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    workspace::connect(&stack, &mut registry, false)?;
    let Some(resource) = stack.resources.get(name) else {
        let names: Vec<&str> = stack.resources.keys().map(String::as_str).collect();
        let mut failure = anyhow::anyhow!("`{name}` is not a resource of stack {}", stack.name);
        if let Some(best) = stackr_engine::diagnostic::suggest(name, names.iter().copied()) {
            failure = failure.context(format!("did you mean `{best}`?"));
        }
        return Err(Failure::hint(failure, "declare the resource in the stack first, then import it"));
    };
    let mut session = Session::write(&Site::of(&stack, &registry)?, &registry, "import", printer)?;
    if let Some(existing) = session.state.resources.get(name) {
        let message = anyhow::anyhow!("`{name}` is already managed (physical id {})", existing.id);
        session.release()?;
        return Err(Failure::hint(message, "`stackr state rm` forgets it first, if you mean to re-import"));
    }
    let provider = registry.provider(&resource.type_name)?;
    let runtime = workspace::runtime()?;
    let mut state = session.state.clone();
    super::planning::confirm_place(runtime, &mut state, &registry)?;
    let cx = CallContext { stack: stack.name.clone(), resource: name.to_string(), create_token: None, made: None };
    let found = runtime.block_on(provider.import(&cx, id))?;
    let Some(observed) = found else {
        session.release()?;
        return Err(Failure::hint(
            anyhow::anyhow!("no {} with id {id} exists", resource.type_name),
            "give the id, ARN or name AWS knows the resource by",
        ));
    };
    let twin = session
        .state
        .resources
        .iter()
        .find(|(other, r)| *other != name && r.type_name == resource.type_name && r.id == observed.id);
    if let Some((other, _)) = twin {
        let message = anyhow::anyhow!("{} is already managed as `{other}`", observed.id);
        session.release()?;
        return Err(Failure::hint(
            message,
            "one AWS resource can be only one resource of the stack: `stackr state rm` the other name first if you mean to move it",
        ));
    }
    state.resources.insert(
        name.to_string(),
        ResourceState {
            type_name: resource.type_name.clone(),
            id: observed.id.clone(),
            inputs: observed.inputs.to_json(),
            outputs: observed.outputs.to_json(),
            dependencies: resource.dependencies.iter().filter(|d| state.resources.contains_key(*d)).cloned().collect(),
            protect: resource.options.protect,
            retain_on_delete: resource.options.retain_on_delete,
            // Made by someone else (or by stackr before it recorded tokens): whatever it carries is not a create
            // of this stack's state.
            create_token: None,
        },
    );
    session.commit(state)?;
    session.release()?;
    if let Some(declared) = declared_name(resource, provider.schema()) {
        let name_property = provider.schema().name_property.unwrap_or_default();
        let found = observed.inputs.as_map().and_then(|m| m.get(name_property)).and_then(|v| v.as_str());
        if let Some(found) = found.filter(|f| *f != declared) {
            // Adopted all the same (the id is what the user gave), but the next plan would replace it.
            printer.err_line(&format!(
                "warning: {} is named {}, but the stack declares `{name}` with {name_property} {}: the next plan replaces it",
                observed.id,
                stackr_engine::render::shown(&format!("{found:?}")),
                stackr_engine::render::shown(&format!("{declared:?}")),
            ));
        }
    }
    printer.out(&format!(
        "Imported {} as `{name}`. Run `stackr plan {}` to see how it differs from the stack.\n",
        observed.id,
        path.display()
    ));
    Ok(0)
}

/// The name the stack gives the resource, when it is written as a plain string.
fn declared_name<'a>(
    resource: &'a stackr_engine::stack::Resource,
    schema: &stackr_engine::schema::ResourceSchema,
) -> Option<&'a str> {
    match resource.properties.get(schema.name_property?)? {
        stackr_engine::stack::expr::Expr::String(name) => Some(name),
        _ => None,
    }
}
