//! Shared by the end-to-end test binaries: running the real `stackr` binary against the shared moto server.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod faults;
pub mod proxy;

use std::path::Path;
use std::process::{Command, Output};

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An edit of a saved plan's JSON for a test: its name, the edit, and what apply must say of the result.
pub type PlanEdit<'a> = (&'a str, &'a dyn Fn(&mut serde_json::Value), &'a str);

pub fn stackr(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().unwrap()
}

pub fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stackr failed:\n{stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn status(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A `stackr` command with moto's endpoint, dummy credentials and a passphrase in its environment.
pub fn command(dir: &Path) -> Command {
    command_via(dir, &stackr_providers::moto::moto().endpoint)
}

/// A `stackr` command talking to `endpoint` (moto, or a proxy in front of it).
pub fn command_via(dir: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stackr"));
    command
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("STACKR_PASSPHRASE", "end-to-end")
        .env_remove("AWS_PROFILE");
    command
}
