//! `stackr validate STACK`: everything `plan` checks, without state or AWS.

use std::path::Path;

use stackr_engine::eval::{Evaluator, NothingKnown};
use stackr_engine::graph::DependencyGraph;

use crate::printer::Printer;
use crate::report::Failure;
use crate::workspace;

pub fn run(path: &Path, printer: &Printer) -> Result<u8, Failure> {
    let registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    let graph = DependencyGraph::new(stack.resources.values().map(|r| (r.name.as_str(), &r.dependencies)));
    graph.order().map_err(|e| Failure::hint(e, "break the cycle: remove a reference or a dependsOn entry"))?;
    // Evaluate every resource with other resources' attributes unknown: type errors in literal and config
    // values show up now rather than at plan time.
    let builtins = workspace::builtins(&stack);
    let evaluator = Evaluator::new(&stack, &builtins, &NothingKnown);
    let mut diagnostics = stackr_engine::diagnostic::Diagnostics::default();
    for resource in stack.resources.values() {
        if let Some(schema) = registry.schema(&resource.type_name) {
            if let Err(d) = evaluator.resource_inputs(resource, schema) {
                diagnostics.extend(d);
            }
        }
    }
    for (name, expr) in &stack.outputs {
        if let Err(d) = evaluator.eval(expr) {
            diagnostics.push(d.with_hint(format!("in output `{name}`")));
        }
    }
    if !diagnostics.is_empty() {
        return Err(Failure::Invalid(diagnostics.finish()));
    }
    printer.out(&format!(
        "{}: stack {} is valid ({} resources, {} files).\n",
        path.display(),
        stack.name,
        stack.resources.len(),
        stack.files.len()
    ));
    Ok(0)
}
