//! `stackr validate STACK`: everything `plan` checks without state or AWS: syntax, schemas, config, references,
//! value types (with other resources' outputs unknown) and the graph.

use std::path::Path;

use crate::printer::Printer;
use crate::report::Failure;
use crate::workspace;

pub fn run(path: &Path, printer: &Printer) -> Result<u8, Failure> {
    let registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    printer.out(&format!(
        "{}: stack {} is valid ({} resources, {} files).\n",
        path.display(),
        stack.name,
        stack.resources.len(),
        stack.files.len()
    ));
    Ok(0)
}
