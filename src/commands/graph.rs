//! `stackr graph STACK --format dot|mermaid`.

use std::path::Path;

use stackr_engine::graph::DependencyGraph;
use stackr_engine::render;

use crate::cli::GraphFormat;
use crate::printer::Printer;
use crate::report::Failure;
use crate::workspace;

pub fn run(path: &Path, format: GraphFormat, printer: &Printer) -> Result<u8, Failure> {
    let registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    let graph = DependencyGraph::new(stack.resources.values().map(|r| (r.name.as_str(), &r.dependencies)));
    graph.order().map_err(|e| Failure::hint(e, "break the cycle: remove a reference or a dependsOn entry"))?;
    let text = match format {
        GraphFormat::Dot => render::graph::dot(&stack, &graph),
        GraphFormat::Mermaid => render::graph::mermaid(&stack, &graph),
    };
    printer.out(&text);
    Ok(0)
}
