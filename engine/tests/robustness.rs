//! Property tests: no input, however malformed, makes loading or planning panic. Bounded so CI stays fast
//! (PROPTEST_CASES raises the count for a longer local run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use stackr_engine::eval::Builtins;
use stackr_engine::plan::{self, PlanRequest};
use stackr_engine::stack;

const SEED: &str = include_str!("fixtures/plan/stack.yaml");

fn load_and_plan(text: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("code")).unwrap();
    std::fs::write(dir.path().join("code/handler.py"), "x = 1\n").unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(&path, text).unwrap();
    let registry = stackr_providers::catalog::registry();
    let env: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(stack) = stack::load(&path, &registry, &env) {
        let builtins = Builtins { stack: stack.name.clone(), region: None, account_id: None };
        let _ = plan::plan(PlanRequest {
            stack: &stack,
            state: None,
            registry: &registry,
            builtins: &builtins,
            targets: &[],
            destroy: false,
            drift: Vec::new(),
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        load_and_plan(&bytes);
    }

    #[test]
    fn mutated_stacks_never_panic(edits in proptest::collection::vec((0usize..SEED.len(), 0usize..8, "[ -~\n\t]{0,6}"), 1..6)) {
        let mut text = SEED.as_bytes().to_vec();
        for (at, remove, insert) in edits {
            let at = at.min(text.len());
            let end = (at + remove).min(text.len());
            text.splice(at..end, insert.bytes());
        }
        load_and_plan(&text);
    }

    #[test]
    fn yaml_like_fragments_never_panic(text in "(name: x\n)?(resources:\n)?(  [a-z]{1,3}:\n    (type|properties|options): [\\[\\]{}$a-z:.\"' ,]{0,20}\n){0,5}") {
        load_and_plan(text.as_bytes());
    }
}
