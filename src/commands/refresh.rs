//! `stackr refresh STACK`: read every resource, record what really exists, show what changed outside stackr.
//! Changes no resource.

use std::path::Path;

use stackr_engine::apply::refresh::refresh;
use stackr_engine::render;

use crate::printer::Printer;
use crate::report::Failure;
use crate::session::Session;
use crate::workspace::{self, Site};

pub fn run(path: &Path, printer: &Printer) -> Result<u8, Failure> {
    let mut registry = workspace::registry();
    let stack = workspace::load_stack(path, &registry)?;
    workspace::connect(&stack, &mut registry, false)?;
    let mut session = Session::write(&Site::of(&stack, &registry)?, &registry, "refresh", printer)?;
    if !session.existed {
        printer.out(&format!("Stack {} has no state yet: nothing to refresh.\n", stack.name));
        session.release()?;
        return Ok(0);
    }
    let mut state = session.state.clone();
    let runtime = workspace::runtime()?;
    let refreshed = match runtime.block_on(refresh(&mut state, &registry, 10)) {
        Ok(refreshed) => refreshed,
        Err(e) => {
            session.release()?;
            return Err(super::planning::place_failure(e));
        }
    };
    if !refreshed.unread.is_empty() {
        let failure = super::planning::unread_failure(&refreshed.unread, session.state.resources.len(), printer);
        session.release()?;
        return Err(failure);
    }
    let count = refreshed.drift.len();
    if count == 0 {
        printer.out(&format!("Stack {}: every resource matches the state.\n", stack.name));
    } else {
        printer.out(&render::text::drift_report(&refreshed.drift, printer.stdout_style));
        printer.out(&format!(
            "Recorded {count} drifted resources in the state; `stackr plan` shows how to bring them back.\n"
        ));
    }
    session.commit(state)?;
    session.release()?;
    Ok(0)
}
