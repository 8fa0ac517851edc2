//! CLI golden tests: the real `stackr` binary on fixture stacks, checking exit codes and what a person reads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stackr(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackr"))
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_REGION")
        // The chatbot stacks hold secrets: a saved plan seals them under the key this opens.
        .env("STACKR_PASSPHRASE", "cli tests")
        .env("NO_COLOR", "1")
        .output()
        .expect("run stackr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A working directory holding a copy of the repository's stacks and functions.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["stacks", "functions"] {
        copy_tree(&root.join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn validate_accepts_the_chatbot_stacks() {
    let dir = workdir();
    for environment in ["dev", "staging", "prod"] {
        let out = stackr(dir.path(), &["validate", &format!("stacks/{environment}.yaml")]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("stacks/{environment}.yaml: stack chatbot-{environment} is valid (22 resources, 2 files).\n")
        );
    }
}

#[test]
fn apply_without_an_argument_needs_exactly_one_saved_plan() {
    let dir = workdir();
    for environment in ["dev", "staging"] {
        let out = stackr(dir.path(), &["plan", &format!("stacks/{environment}.yaml"), "--refresh=false"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = stackr(dir.path(), &["apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: there are 2 saved plans: .stackr/plans/chatbot-dev.plan.json, .stackr/plans/chatbot-staging.plan.json\n  hint: name the one to apply: `stackr apply PLANFILE`\n"
    );
}

#[test]
fn prod_protects_its_stateful_resources() {
    let dir = workdir();
    let out = stackr(dir.path(), &["plan", "stacks/prod.yaml", "--refresh=false", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = std::fs::read_to_string(dir.path().join(".stackr/plans/chatbot-prod.plan.json")).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let table = plan["steps"].as_array().unwrap().iter().find(|s| s["name"] == "sessionTable").unwrap();
    assert_eq!(table["inputs"]["deletionProtectionEnabled"], true);
    assert_eq!(table["inputs"]["pointInTimeRecovery"]["enabled"], true);
    let logs = plan["steps"].as_array().unwrap().iter().find(|s| s["name"] == "chatLogGroup").unwrap();
    assert_eq!(logs["inputs"]["retentionInDays"], 365);
}

#[test]
fn errors_say_error_with_a_hint_and_exit_1() {
    let dir = workdir();
    std::fs::write(dir.path().join("bad.yaml"), "name: bad\nresources:\n  t:\n    type: aws:sns:Topc\n").unwrap();
    let out = stackr(dir.path(), &["validate", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: bad.yaml:4:11: resources.t.type: unknown resource type `aws:sns:Topc`\n  hint: did you mean `aws:sns:Topic`?\nerror: found 1 problem in the stack\n"
    );
    assert!(!text(&out.stderr).contains('\x1b'), "no colour when NO_COLOR is set or output is not a terminal");
}

#[test]
fn missing_files_and_garbage_are_clean_errors() {
    let dir = workdir();
    let out = stackr(dir.path(), &["plan", "nope.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: nope.yaml: cannot read the file: No such file or directory"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("junk.yaml"), [0xff, 0xfe, 0x00, 0x41, 0x9c]).unwrap();
    let out = stackr(dir.path(), &["validate", "junk.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("the file is not UTF-8 text"), "{}", text(&out.stderr));
}

#[test]
fn plan_prints_saves_and_reports_changes_in_the_exit_code() {
    let dir = workdir();
    let out = stackr(dir.path(), &["plan", "stacks/dev.yaml", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.ends_with("Plan: 22 to create, 0 to update, 0 to replace, 0 to delete.\n"), "{stdout}");
    assert!(
        text(&out.stderr).contains(
            "Saved the plan to .stackr/plans/chatbot-dev.plan.json; `stackr apply` applies exactly this plan."
        ),
        "{}",
        text(&out.stderr)
    );
    let saved = std::fs::read_to_string(dir.path().join(".stackr/plans/chatbot-dev.plan.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["stack"], "chatbot-dev");
    assert_eq!(saved["steps"].as_array().map(Vec::len), Some(22));
    assert!(saved["inputs"]["stack:stacks/dev.yaml"].is_string());
    assert!(saved["inputs"]["stack:stacks/shared/chatbot.yaml"].is_string());

    // Without --detailed-exitcode a plan with changes still succeeds; -o saves elsewhere.
    let out = stackr(dir.path(), &["plan", "stacks/dev.yaml", "-o", "custom.plan.json", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("custom.plan.json").exists());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["create"], 22);
}

#[test]
fn plan_output_is_byte_identical_across_runs() {
    let dir = workdir();
    let first = stackr(dir.path(), &["plan", "stacks/dev.yaml"]);
    let second = stackr(dir.path(), &["plan", "stacks/dev.yaml"]);
    assert_eq!(first.stdout, second.stdout);
    let a = std::fs::read(dir.path().join(".stackr/plans/chatbot-dev.plan.json")).unwrap();
    stackr(dir.path(), &["plan", "stacks/dev.yaml"]);
    let b = std::fs::read(dir.path().join(".stackr/plans/chatbot-dev.plan.json")).unwrap();
    // Deterministic too, but for what is random by design: each sealed secret's nonce (and so the plan's
    // authentication), and the salt of a key made for a stack with no state yet.
    assert_ne!(a, b, "secrets are sealed afresh");
    assert_eq!(unsealed_shape(&a), unsealed_shape(&b), "the saved plan is deterministic apart from its sealing");
}

/// A saved plan with what sealing randomises masked.
fn unsealed_shape(bytes: &[u8]) -> serde_json::Value {
    fn mask(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if ["@encrypted", "mac", "salt", "check"].contains(&key.as_str()) {
                        *v = serde_json::Value::Null;
                    } else {
                        mask(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut json: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert!(json.to_string().contains("@encrypted"), "the dev stack's plan holds sealed secrets");
    mask(&mut json);
    json
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let dir = workdir();
    std::fs::write(
        dir.path().join("small.yaml"),
        "name: small\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {name: t}\n  sub:\n    type: aws:sns:TopicSubscription\n    properties: {topic: \"${topic.arn}\", protocol: email, endpoint: a@example.com}\n",
    )
    .unwrap();
    let dot = stackr(dir.path(), &["graph", "small.yaml"]);
    assert_eq!(
        text(&dot.stdout),
        "digraph \"small\" {\n  rankdir=LR;\n  node [shape=box];\n  \"sub\" [label=\"sub\\naws:sns:TopicSubscription\"];\n  \"topic\" [label=\"topic\\naws:sns:Topic\"];\n  \"topic\" -> \"sub\";\n}\n"
    );
    let mermaid = stackr(dir.path(), &["graph", "small.yaml", "--format", "mermaid"]);
    assert_eq!(
        text(&mermaid.stdout),
        "flowchart LR\n  sub[\"sub<br/>aws:sns:TopicSubscription\"]\n  topic[\"topic<br/>aws:sns:Topic\"]\n  topic --> sub\n"
    );
}

#[test]
fn bad_flags_exit_with_usage_errors() {
    let dir = workdir();
    let out = stackr(dir.path(), &["plan", "stacks/dev.yaml", "--format", "yaml"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("invalid value 'yaml'"), "{}", text(&out.stderr));
}

/// A stack in an untrusted pull request names files outside the project: every such path is refused, naming the
/// path and the root, before anything is read (the environ of the process used to end up in the plan).
#[test]
fn paths_a_stack_names_stay_inside_the_project_root() {
    let outer = tempfile::tempdir().expect("tempdir");
    let project = outer.path().join("project");
    std::fs::create_dir_all(project.join("code")).expect("mkdir");
    std::fs::write(project.join("code/app.py"), "def handler(e, c):\n    return {}\n").expect("write");
    std::fs::write(outer.path().join("outside.txt"), "AWS_SECRET_ACCESS_KEY=marker-outside").expect("write");
    let root = project.display().to_string();
    let topic = |description: &str| {
        format!("name: confined\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {{name: t, displayName: {description}}}\n")
    };
    let cases = [
        (topic("{fn::readFile: ../../../../../../proc/self/environ}"), "leads outside the project root"),
        (topic("{fn::readFile: /proc/self/environ}"), "is an absolute path"),
        (topic("{fn::readFile: ../outside.txt}"), "leads outside the project root"),
        ("name: confined\ninclude: [../outside.yaml]\nresources: {}\n".to_string(), "leads outside the project root"),
        (
            "name: confined\nregion: us-east-1\nresources:\n  fn:\n    type: aws:lambda:Function\n    properties: {name: f, runtime: python3.12, handler: app.handler, role: arn:aws:iam::1:role/r, code: ../}\n".to_string(),
            "leads outside the project root",
        ),
    ];
    for (yaml, expected) in cases {
        std::fs::write(project.join("stack.yaml"), &yaml).expect("write");
        let out = stackr(&project, &["validate", "stack.yaml"]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{yaml}\n{all}");
        assert!(all.contains(expected) && all.contains(&root), "{yaml}\n{all}");
        assert!(!all.contains("marker-outside") && !all.contains("PATH="), "nothing outside was read: {all}");
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outer.path().join("outside.txt"), project.join("innocent.txt")).expect("link");
        std::fs::write(project.join("stack.yaml"), topic("{fn::readFile: innocent.txt}")).expect("write");
        let out = stackr(&project, &["validate", "stack.yaml"]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("through a symbolic link, outside the project root"), "{all}");
        std::os::unix::fs::symlink(outer.path().join("outside.txt"), project.join("code/leak.py")).expect("link");
        std::fs::write(
            project.join("stack.yaml"),
            "name: confined\nregion: us-east-1\nresources:\n  fn:\n    type: aws:lambda:Function\n    properties: {name: f, runtime: python3.12, handler: app.handler, role: arn:aws:iam::1:role/r, code: ./code}\n",
        )
        .expect("write");
        let out = stackr(&project, &["validate", "stack.yaml"]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("through a symbolic link"), "{all}");
    }
    // Inside the root, all of it is fine.
    std::fs::remove_file(project.join("code/leak.py")).ok();
    std::fs::write(project.join("notes.txt"), "hello").expect("write");
    std::fs::write(project.join("stack.yaml"), topic("{fn::readFile: notes.txt}")).expect("write");
    let out = stackr(&project, &["validate", "stack.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A 100 KB string repeated through aliases used to take 4 GB: refused with a clear error, quickly.
#[test]
fn an_alias_bomb_is_refused_naming_the_file_and_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = "x".repeat(100 * 1024);
    let mut yaml = format!("name: bomb\ns: &s \"{big}\"\nl0: &l0 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n");
    for i in 1..8 {
        let p = i - 1;
        yaml.push_str(&format!("l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"));
    }
    std::fs::write(dir.path().join("stack.yaml"), yaml).expect("write");
    let out = stackr(dir.path(), &["validate", "stack.yaml"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("stack.yaml") && all.contains("aliases expand the document by more than 16 MiB"), "{all}");
    // A file over the size limit is refused before it is parsed.
    std::fs::write(dir.path().join("huge.yaml"), format!("name: huge\n# {}\n", "y".repeat(9 * 1024 * 1024)))
        .expect("write");
    let out = stackr(dir.path(), &["validate", "huge.yaml"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("huge.yaml") && all.contains("stack files are limited to 8 MiB"), "{all}");
}

/// The visible opt-in: `allowPaths` lets a stack read a directory outside the root, and every plan says so.
#[test]
fn allow_paths_opens_a_directory_and_every_plan_shows_it() {
    let outer = tempfile::tempdir().expect("tempdir");
    let project = outer.path().join("project");
    let shared = outer.path().join("shared");
    std::fs::create_dir_all(&project).expect("mkdir");
    std::fs::create_dir_all(&shared).expect("mkdir");
    std::fs::write(shared.join("name.txt"), "shared-topic").expect("write");
    let stack = |allow: &str| {
        format!("name: opted\nregion: us-east-1\n{allow}resources:\n  topic:\n    type: aws:sns:Topic\n    properties: {{name: {{fn::readFile: ../shared/name.txt}}}}\n")
    };
    std::fs::write(project.join("stack.yaml"), stack("")).expect("write");
    let out = stackr(&project, &["validate", "stack.yaml"]);
    assert_eq!(out.status.code(), Some(1), "not without the opt-in: {}", text(&out.stderr));
    std::fs::write(project.join("stack.yaml"), stack("allowPaths: [../shared]\n")).expect("write");
    let out = stackr(&project, &["validate", "stack.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = shared.display().to_string();
    let plan = stackr(&project, &["plan", "stack.yaml", "--refresh=false"]);
    let plan_text = text(&plan.stdout);
    assert!(plan_text.starts_with(&format!("This stack reads files outside the project root: {shown}")), "{plan_text}");
    let markdown = text(&stackr(&project, &["plan", "stack.yaml", "--refresh=false", "--format", "markdown"]).stdout);
    assert!(markdown.contains(&format!("**Reads outside the project root** (`allowPaths`): `{shown}`")), "{markdown}");
    let json = text(&stackr(&project, &["plan", "stack.yaml", "--refresh=false", "--format", "json"]).stdout);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["allowedPaths"], serde_json::json!([shown]));
}

#[test]
fn a_failing_random_source_is_an_error_not_a_panic() {
    // strace makes every getrandom(2) fail with EIO. Validation needs no randomness; planning a new stack needs a
    // lineage, and the SDK's hash maps need random keys: either way one `error:` line and a hint, never a
    // backtrace (the Rust runtime panics when the OS has no random numbers for it).
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("stack.yaml"),
        "name: random\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {name: random}\n",
    )
    .expect("write");
    let without_random = |args: &[&str]| {
        Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "inject=getrandom:error=EIO", env!("CARGO_BIN_EXE_stackr")])
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .expect("strace is installed by .ci/run")
    };
    let out = without_random(&["validate", "stack.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = without_random(&["plan", "stack.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("random"), "names the cause: {stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!stderr.contains("panicked at") && !stderr.contains("stack backtrace"), "{stderr}");
    assert!(!dir.path().join(".stackr/random.state.json").exists());
}

#[test]
fn a_read_file_path_is_never_secret_and_a_read_is_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("big.txt"), vec![b'x'; 9 * 1024 * 1024]).expect("write");
    std::fs::write(d.join("secret-marker-path"), "x").expect("write");
    let topic = |display: &str| {
        format!("name: reads\nregion: us-east-1\nparameters:\n  p: {{type: string, secret: true, default: secret-marker-path}}\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {{name: t, displayName: {display}}}\n")
    };
    for (display, expected) in [
        ("{fn::readFile: \"${p}\"}", "the path is secret, but a path cannot be kept secret"),
        ("{fn::readFile: big.txt}", "more than the 8388608 a value may read"),
    ] {
        std::fs::write(d.join("stack.yaml"), topic(display)).expect("write");
        let out = stackr(d, &["validate", "stack.yaml"]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains(expected), "{all}");
        assert!(!all.contains("secret-marker"), "{all}");
    }
}

#[test]
fn a_local_backend_stays_inside_the_project_root() {
    let outer = tempfile::tempdir().expect("tempdir");
    let project = outer.path().join("project");
    std::fs::create_dir_all(&project).expect("mkdir");
    for (backend, expected) in [
        ("file://../elsewhere", "leads outside the project root"),
        ("file:///tmp/another-stack-state", "is an absolute path"),
    ] {
        std::fs::write(project.join("stack.yaml"), format!("name: b\nbackend: {backend}\nresources: {{}}\n"))
            .expect("write");
        let out = stackr(&project, &["plan", "stack.yaml", "--refresh=false"]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("error: backend: ") && all.contains(expected), "{all}");
    }
    std::fs::write(project.join("stack.yaml"), "name: b\nbackend: file://state\nresources: {}\n").expect("write");
    let out = stackr(&project, &["plan", "stack.yaml", "--refresh=false"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Limits hold for a stack, not per file or per value: ten includes each under the alias budget, a chain of
/// variables each repeating the one before, a code tree of links to links.
#[test]
fn a_stack_is_bounded_as_a_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ten = |item: &str| [item; 10].join(", ");
    let bomb = |n: usize| {
        format!(
            "variables:\n  bomb{n}:\n    a: &a [{}]\n    b: &b [{}]\n    c: &c [{}]\n    d: &d [{}]\n    e: &e [{}]\n    f: [*e, *e, *e, *e]\n",
            ten("x"),
            ten("*a"),
            ten("*b"),
            ten("*c"),
            ten("*d")
        )
    };
    for n in 0..3 {
        std::fs::write(d.join(format!("part{n}.yaml")), bomb(n)).expect("write");
    }
    std::fs::write(d.join("one.yaml"), "name: b\ninclude: [part0.yaml]\nresources: {}\n").expect("write");
    let out = stackr(d, &["validate", "one.yaml"]);
    assert!(out.status.success(), "one include under the budget is fine: {}", text(&out.stderr));
    std::fs::write(d.join("three.yaml"), "name: b\ninclude: [part0.yaml, part1.yaml, part2.yaml]\nresources: {}\n")
        .expect("write");
    let out = stackr(d, &["validate", "three.yaml"]);
    let all = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("part2.yaml") && all.contains("with the stack's files before it"), "{all}");

    let mut chain = String::from("name: c\nvariables:\n  v0: xxxxxxxxxx\n");
    for i in 1..10 {
        chain.push_str(&format!("  v{i}: \"{}\"\n", format!("${{v{}}}", i - 1).repeat(10)));
    }
    chain.push_str("resources: {}\noutputs:\n  big: ${v9}\n");
    std::fs::write(d.join("chain.yaml"), chain).expect("write");
    let out = stackr(d, &["validate", "chain.yaml"]);
    let all = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("the value grows past 4 MiB"), "{all}");

    #[cfg(unix)]
    {
        for level in 0..=8 {
            std::fs::create_dir_all(d.join(format!("code/z{level}"))).expect("mkdir");
        }
        std::fs::write(d.join("code/z8/app.py"), "x = 1\n").expect("write");
        for level in 0..8 {
            for link in 0..6 {
                let target = format!("../z{}", level + 1);
                std::os::unix::fs::symlink(target, d.join(format!("code/z{level}/s{link}"))).expect("link");
            }
        }
        std::fs::write(
            d.join("fan.yaml"),
            "name: f\nregion: us-east-1\nresources:\n  fn:\n    type: aws:lambda:Function\n    properties: {name: f, runtime: python3.12, handler: app.handler, role: arn:aws:iam::1:role/r, code: code/z0}\n",
        )
        .expect("write");
        let out = stackr(d, &["validate", "fan.yaml"]);
        let all = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("holds more than 20000 files"), "{all}");
    }
}

#[cfg(unix)]
#[test]
fn a_link_inside_the_root_cannot_lead_a_code_tree_outside_it() {
    let outer = tempfile::tempdir().expect("tempdir");
    let project = outer.path().join("project");
    std::fs::create_dir_all(project.join("code")).expect("mkdir");
    std::fs::create_dir_all(project.join("other")).expect("mkdir");
    std::fs::write(project.join("code/app.py"), "x = 1\n").expect("write");
    std::fs::write(outer.path().join("outside.txt"), "marker-outside").expect("write");
    // code/more → other (inside the root), and other/leak → outside.txt (outside it).
    std::os::unix::fs::symlink("../other", project.join("code/more")).expect("link");
    std::os::unix::fs::symlink(outer.path().join("outside.txt"), project.join("other/leak")).expect("link");
    std::fs::write(
        project.join("stack.yaml"),
        "name: l\nregion: us-east-1\nresources:\n  fn:\n    type: aws:lambda:Function\n    properties: {name: f, runtime: python3.12, handler: app.handler, role: arn:aws:iam::1:role/r, code: code}\n",
    )
    .expect("write");
    let out = stackr(&project, &["validate", "stack.yaml"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("through a symbolic link, outside the project root"), "{all}");
}

#[test]
fn control_characters_a_stack_holds_are_escaped_in_plans_and_errors() {
    // ESC (a terminal escape), DEL and U+009B (an 8-bit CSI some terminals obey) in a key and in values.
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |properties: &str| {
        let stack = format!(
            "name: esc\nregion: us-east-1\nresources:\n  t:\n    type: aws:sns:Topic\n    properties: {properties}\n"
        );
        std::fs::write(dir.path().join("stack.yaml"), stack).expect("write");
    };
    let clean = |out: &Output| {
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(all.chars().all(|c| !c.is_control() || c == '\n'), "a control character was printed: {all:?}");
        all
    };
    write(r#"{"na\e[2Jme": x, displayName: "a\e[31m\x7f\x9b31mb"}"#);
    let all = clean(&stackr(dir.path(), &["validate", "stack.yaml"]));
    assert!(all.contains(r"`na\u{1b}[2Jme` is not a property of aws:sns:Topic"), "{all}");
    write(r#"{name: x, displayName: "a\e[31m\x7f\x9b31mb", tags: {"k\e]52;c;eA==\a": "v"}}"#);
    for format in ["text", "markdown", "json"] {
        let all = clean(&stackr(dir.path(), &["plan", "stack.yaml", "--refresh=false", "--format", format]));
        assert!(all.contains(r"a\u001b[31m\u007f\u009b31mb"), "{all}");
    }
}

#[test]
fn the_saved_plan_follows_its_json_schema() {
    let dir = workdir();
    let out = stackr(dir.path(), &["plan", "stacks/dev.yaml", "--refresh=false"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = dir.path().join(".stackr/plans/chatbot-dev.plan.json");
    let saved = std::fs::read_to_string(&plan).unwrap();
    // What the schema must be able to tell: pending values and sealed secrets are in this plan.
    assert!(saved.contains("\"@unknown\"") && saved.contains("\"@encrypted\""), "{saved}");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plan.schema.json");
    let check = "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator.check_schema(schema)\n\
                 jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))\n";
    let out = Command::new("python3").args(["-c", check]).arg(&schema).arg(&plan).output().expect("run python3");
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    // And the schema refuses what is not a plan.
    std::fs::write(dir.path().join("bad.json"), saved.replace("\"action\": \"create\"", "\"action\": \"explode\""))
        .unwrap();
    let out =
        Command::new("python3").args(["-c", check]).arg(&schema).arg(dir.path().join("bad.json")).output().unwrap();
    assert!(!out.status.success(), "the schema accepted an unknown action");
}
