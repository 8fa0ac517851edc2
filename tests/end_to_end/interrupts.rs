//! Ctrl-C and SIGKILL in the middle of an apply: what finished is kept and the next run converges.

use std::path::Path;
use std::process::Command;

use crate::support::{self, ok, stackr, status};

/// Starts `stackr apply` and sends it `signal` (`INT`, `KILL`) once it has started creating resources.
fn interrupted_apply(dir: &Path, signal: &str) -> (Option<i32>, String) {
    let child = support::command(dir)
        .args(["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run has started creating (its journal exists), then interrupt.
    let journal = dir.join(".stackr/interrupts.journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !journal.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    status(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_applies_keep_what_finished_and_the_next_run_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut yaml = String::from("name: interrupts\nregion: us-east-1\nresources:\n");
    for i in 0..80 {
        yaml.push_str(&format!("  logs{i:02}:\n    type: aws:cloudwatch:LogGroup\n    properties: {{name: /interrupts/{i:02}, retentionInDays: 7}}\n"));
    }
    std::fs::write(d.join("stack.yaml"), yaml).unwrap();
    let config = stackr_providers::moto::sdk_config().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let count = || async {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = logs
                .describe_log_groups()
                .log_group_name_prefix("/interrupts/")
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            names.extend(page.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let unique: std::collections::BTreeSet<_> = names.iter().cloned().collect();
        assert_eq!(unique.len(), names.len(), "no duplicates");
        names.len()
    };

    // One Ctrl-C: scheduling stops, the step in flight finishes, everything finished is saved.
    let (code, text) = interrupted_apply(d, "INT");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Interrupted: finishing the steps in flight"), "{text}");
    assert!(text.contains("Apply interrupted:"), "{text}");
    let recorded = ok(&stackr(d, &["state", "list", "stack.yaml"])).lines().count();
    let existing = count().await;
    assert!(recorded > 0 && recorded < 80, "some, not all, were created: {recorded}");
    assert_eq!(recorded, existing, "the state lists exactly what exists");
    assert!(!d.join(".stackr/interrupts.journal").exists(), "an orderly stop compacts the journal");

    // Killed outright (as a second Ctrl-C exits at once): the journal stays behind, and the next run replays it
    // and reconciles what was in flight instead of creating it again.
    let (code, _) = interrupted_apply(d, "KILL");
    assert_eq!(code, None, "killed by a signal");
    assert!(d.join(".stackr/interrupts.journal").exists(), "a killed run leaves its journal");
    let converged = ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(converged.contains("Apply complete:"), "{converged}");
    assert_eq!(count().await, 80, "every log group exists exactly once");
    assert_eq!(ok(&stackr(d, &["state", "list", "stack.yaml"])).lines().count(), 80);
    let plan = stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
}
