//! `stackr output STACK [NAME] [--json]`: the stack's outputs from its state. Secrets print as `(secret)`.

use std::path::Path;

use stackr_engine::render::json_shown;
use stackr_engine::value::Value;

use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace::{self, Site};

pub fn run(path: &Path, name: Option<&str>, json: bool, printer: &Printer) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    workspace::connect(&stack, &mut registry, false)?;
    let session = Session::read(&Site::of(&stack, &registry)?, &registry, printer)?;
    let outputs: Vec<(String, Value)> =
        session.state.outputs.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect();
    if let Some(name) = name {
        let Some((_, value)) = outputs.iter().find(|(k, _)| k == name) else {
            let hint = match stackr_engine::diagnostic::suggest(name, outputs.iter().map(|(k, _)| k.as_str())) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "`stackr output STACK` lists them; outputs exist after an apply".into(),
            };
            return Err(Failure::hint(anyhow::anyhow!("stack {} has no output `{name}`", stack.name), hint));
        };
        let text = match (json, value) {
            (false, Value::String(s)) => s.clone(),
            _ => json_shown(&serde_json::to_string_pretty(&value.to_redacted_json()).unwrap_or_default()),
        };
        printer.out(&format!("{text}\n"));
        return Ok(0);
    }
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            outputs.iter().map(|(k, v)| (k.clone(), v.to_redacted_json())).collect();
        printer.out(&format!("{}\n", json_shown(&serde_json::to_string_pretty(&map).unwrap_or_default())));
    } else if outputs.is_empty() {
        printer.out(&format!("Stack {} has no outputs yet.\n", stack.name));
    } else {
        let width = outputs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in &outputs {
            let shown = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            printer.out(&format!("{key:width$}  {shown}\n"));
        }
    }
    Ok(0)
}
