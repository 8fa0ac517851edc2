//! Secrets: never printed or written in plaintext, KMS-encrypted state, fingerprints in saved plans, edited plans.

use crate::support::{self, ok, stackr, status};
use crate::{assert_unmarked_with, MARKERS};

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_never_appears_in_anything_stackr_prints_or_writes() {
    const SECRET: &str = "S3CR3T-canary-7f3a9c1e";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("code")).unwrap();
    std::fs::write(d.join("code/handler.py"), "def handler(e, c):\n    return 1\n").unwrap();
    let stack = |description: &str| {
        format!(
            "name: redaction\nregion: us-east-1\nparameters:\n  apiKey: {{type: string}}\nconfig:\n  apiKey: {{fromEnv: REDACTION_API_KEY, secret: true}}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {{name: redaction/api-key, description: {description}, secretString: \"${{apiKey}}\", recoveryWindowInDays: 0}}\n  role:\n    type: aws:iam:Role\n    properties:\n      name: redaction-fn\n      assumeRolePolicy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: \"sts:AssumeRole\"}}]}}\n  fn:\n    type: aws:lambda:Function\n    properties:\n      name: redaction-fn\n      runtime: python3.12\n      handler: handler.handler\n      role: ${{role.arn}}\n      code: code\n      environment: {{variables: {{API_KEY: \"${{apiKey}}\", TOKEN: {{fn::secret: \"{SECRET}-inline\"}}}}}}\noutputs:\n  key: ${{apiKey}}\n"
        )
    };
    std::fs::write(d.join("stack.yaml"), stack("first")).unwrap();
    // The passphrase and the AWS keys are secrets too, and a hostile stack may try to read them (the process's
    // environment holds them): recognisable markers, looked for everywhere below.
    let printed = std::cell::RefCell::new(String::new());
    let run_via = |endpoint: &str, args: &[&str]| {
        let mut command = support::command_via(d, endpoint);
        for (name, value) in MARKERS {
            command.env(name, value);
        }
        let out = command.env("REDACTION_API_KEY", SECRET).args(args).output().unwrap();
        printed.borrow_mut().push_str(&String::from_utf8_lossy(&out.stdout));
        printed.borrow_mut().push_str(&String::from_utf8_lossy(&out.stderr));
        out
    };
    let moto = stackr_providers::moto::moto().endpoint.clone();
    let run = |args: &[&str]| run_via(&moto, args);
    for format in ["text", "markdown", "json"] {
        run(&["plan", "stack.yaml", "--format", format]);
    }
    assert!(run(&["apply"]).status.success(), "{}", printed.borrow());
    std::fs::write(d.join("stack.yaml"), stack("second")).unwrap();
    assert!(run(&["apply", "stack.yaml", "--auto-approve"]).status.success(), "{}", printed.borrow());
    for args in [
        &["refresh", "stack.yaml"][..],
        &["output", "stack.yaml"],
        &["output", "stack.yaml", "--json"],
        &["output", "stack.yaml", "key"],
        &["state", "show", "stack.yaml", "secret"],
        &["state", "show", "stack.yaml", "fn"],
        &["validate", "stack.yaml"],
        &["plan", "stack.yaml", "--destroy", "--format", "json"],
    ] {
        run(args);
    }
    // An error that involves the secret's property: a wrong type for the config value.
    std::fs::write(d.join("stack.yaml"), stack("third").replace("{type: string}", "{type: integer}")).unwrap();
    run(&["plan", "stack.yaml"]);
    // A hostile stack reading the environment (which holds every marker) into a description: refused.
    std::fs::write(d.join("stack.yaml"), stack("{fn::readFile: /proc/self/environ}")).unwrap();
    run(&["validate", "stack.yaml"]);
    run(&["plan", "stack.yaml", "--format", "json"]);
    std::fs::write(d.join("stack.yaml"), stack("{fn::readFile: ../../../../../../../../proc/self/environ}")).unwrap();
    run(&["plan", "stack.yaml", "--format", "markdown"]);
    // Error paths: AWS unreachable, a wrong passphrase.
    std::fs::write(d.join("stack.yaml"), stack("third")).unwrap();
    run_via("http://127.0.0.1:9", &["plan", "stack.yaml"]);
    let wrong = support::command(d)
        .env("REDACTION_API_KEY", SECRET)
        .env("STACKR_PASSPHRASE", "not-the-passphrase")
        .args(["plan", "stack.yaml"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    printed.borrow_mut().push_str(&String::from_utf8_lossy(&wrong.stderr));
    std::fs::write(d.join("stack.yaml"), stack("third")).unwrap();
    assert!(run(&["destroy", "stack.yaml", "--auto-approve"]).status.success(), "{}", printed.borrow());

    let printed = printed.into_inner();
    assert!(printed.contains("(secret)"), "secrets are shown as (secret)");
    assert!(printed.contains("leads outside the project root") && printed.contains("is an absolute path"));
    assert_unmarked_with(&printed, d, &[SECRET]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_encrypted_state_needs_the_key_and_a_new_provider_re_encrypts() {
    let config = stackr_providers::moto::sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().description("stackr state key").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias().alias_name("alias/stackr-state-e2e").target_key_id(&key_id).send().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |provider: &str, description: &str| {
        format!("name: kmsstate\nregion: us-east-1\nsecretsProvider: {provider}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {{name: kmsstate/token, description: {description}, secretString: {{fn::secret: kms-canary-value}}, recoveryWindowInDays: 0}}\n")
    };
    let state = || std::fs::read_to_string(d.join(".stackr/kmsstate.state.json")).unwrap();
    std::fs::write(d.join("stack.yaml"), stack("passphrase", "first")).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(state().contains("\"provider\": \"passphrase\""));

    // A new provider: the next write re-encrypts with a KMS data key; the passphrase is no longer needed.
    std::fs::write(d.join("stack.yaml"), stack("awskms://alias/stackr-state-e2e", "second")).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    let written = state();
    assert!(
        written.contains("\"provider\": \"awskms://alias/stackr-state-e2e\"") && written.contains("\"encryptedKey\""),
        "{written}"
    );
    assert!(written.contains("@encrypted") && !written.contains("kms-canary-value"));
    // The data key is bound to this state: KMS decrypts it only with the context {stack, lineage}.
    let recorded: serde_json::Value = serde_json::from_str(&written).unwrap();
    let context = &recorded["secrets"]["keyContext"];
    assert_eq!(context["stack"], "kmsstate");
    assert_eq!(context["lineage"], recorded["lineage"]);
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(recorded["secrets"]["encryptedKey"].as_str().unwrap())
        .unwrap();
    let unbound = kms.decrypt().ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob.clone())).send().await;
    assert!(unbound.is_err(), "without its context the data key does not decrypt");
    let mut other = kms.decrypt().ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob.clone()));
    other = other.encryption_context("stack", "kmsstate").encryption_context("lineage", "another-state");
    assert!(other.send().await.is_err(), "nor with another state's lineage");
    let plan = support::command(d)
        .env_remove("STACKR_PASSPHRASE")
        .args(["plan", "stack.yaml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stderr));

    // Without KMS (an endpoint that does not answer), the state's secrets cannot be read.
    let unreachable = support::command_via(d, "http://127.0.0.1:9")
        .env_remove("STACKR_PASSPHRASE")
        .args(["plan", "stack.yaml"])
        .output()
        .unwrap();
    let (code, text) = status(&unreachable);
    assert_eq!(code, Some(1));
    assert!(text.contains("Decrypt failed"), "{text}");
    assert!(!text.contains("kms-canary-value"));
    ok(&stackr(d, &["destroy", "stack.yaml", "--auto-approve"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_plans_seal_their_secrets_under_the_secrets_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: fingerprint\nregion: us-east-1\nparameters:\n  apiKey: {type: string}\nconfig:\n  apiKey: {fromEnv: FINGERPRINT_KEY, secret: true}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {name: fingerprint/api-key, secretString: \"${apiKey}\", recoveryWindowInDays: 0}\n",
    )
    .unwrap();
    let run = |key: &str, args: &[&str]| {
        status(&support::command(d).env("FINGERPRINT_KEY", key).args(args).output().unwrap())
    };
    let saved = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join(".stackr/plans/fingerprint.plan.json")).unwrap()).unwrap()
    };

    // Without the passphrase (a review of a pull request) a new stack's plan is shown but not saved: its
    // secrets could not be sealed. An older saved plan at that path is removed, not left to be applied.
    std::fs::create_dir_all(d.join(".stackr/plans")).unwrap();
    std::fs::write(d.join(".stackr/plans/fingerprint.plan.json"), r#"{"formatVersion": 4, "stack": "fingerprint"}"#)
        .unwrap();
    let mut review = support::command(d);
    review.env("FINGERPRINT_KEY", "hunter2").env_remove("STACKR_PASSPHRASE");
    let (code, text) = status(&review.args(["plan", "stack.yaml", "--detailed-exitcode"]).output().unwrap());
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("Plan: 1 to create"), "{text}");
    assert!(text.contains("not saved") && text.contains("STACKR_PASSPHRASE"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!d.join(".stackr/plans/fingerprint.plan.json").exists());
    // A file that is not a saved plan is left alone.
    std::fs::write(d.join("notes.txt"), "mine").unwrap();
    let mut review = support::command(d);
    review.env("FINGERPRINT_KEY", "hunter2").env_remove("STACKR_PASSPHRASE");
    let (code, text) = status(&review.args(["plan", "stack.yaml", "-o", "notes.txt"]).output().unwrap());
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(std::fs::read_to_string(d.join("notes.txt")).unwrap(), "mine");

    // A new stack: the plan makes the secrets key and carries its record (salt and parameters), without the
    // check value, which would let anyone test passphrase guesses offline. The secret is in the plan only
    // sealed under that key, bound to its place, and the plan is authenticated under it.
    let (code, text) = run("hunter2", &["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    let plan = saved();
    let first_plan = plan.clone();
    assert_eq!(plan["formatVersion"], 4);
    assert_eq!(plan["secretsKey"]["source"], "new", "{plan}");
    let key: stackr_state::secrets::SecretsConfig =
        serde_json::from_value(plan["secretsKey"]["record"].clone()).unwrap();
    assert_eq!(key.provider, "passphrase");
    assert_eq!(key.check, "", "no check value in a plan");
    assert!(plan["mac"].is_string(), "{plan}");
    assert!(!std::fs::read_to_string(d.join(".stackr/plans/fingerprint.plan.json")).unwrap().contains("hunter2"));
    let mut inputs = plan["steps"][0]["inputs"].clone();
    assert!(inputs["secretString"]["@encrypted"].is_string(), "{inputs}");
    let codec = stackr_state::secrets::KeyCodec::open_unverified("end-to-end", &key).unwrap();
    stackr_state::secrets::unseal(&mut inputs, &codec, "plan.steps.secret.create").unwrap();
    assert_eq!(inputs["secretString"], serde_json::json!({"@secret": "hunter2"}));
    let other = stackr_state::secrets::KeyCodec::open_unverified("a guess", &key).unwrap();
    let mut guessed = plan["steps"][0]["inputs"].clone();
    assert!(stackr_state::secrets::unseal(&mut guessed, &other, "plan.steps.secret.create").is_err());

    // A record whose Argon2 parameters were edited (to exhaust memory or time) is refused before any derivation.
    let mut tampered = plan.clone();
    tampered["secretsKey"]["record"]["kdf"]["memoryKib"] = 4_294_967_295u64.into();
    std::fs::write(d.join("tampered.plan.json"), serde_json::to_vec(&tampered).unwrap()).unwrap();
    let (code, text) = run("hunter2", &["apply", "tampered.plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("cannot open the secrets key the plan was made with"), "{text}");
    assert!(text.contains("Argon2id parameters stackr does not use"), "{text}");
    // A wrong passphrase at apply does not authenticate the plan: refused, saying why it may be.
    let (code, text) = status(
        &support::command(d)
            .env("FINGERPRINT_KEY", "hunter2")
            .env("STACKR_PASSPHRASE", "another")
            .args(["apply"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("use the STACKR_PASSPHRASE the plan was made with"), "{text}");
    // A sealed value moved to another place, or any edit of an authenticated plan, is refused.
    let mut moved = plan.clone();
    moved["steps"][0]["inputs"]["description"] = plan["steps"][0]["inputs"]["secretString"].clone();
    std::fs::write(d.join("moved.plan.json"), serde_json::to_vec(&moved).unwrap()).unwrap();
    let (code, text) = run("hunter2", &["apply", "moved.plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("was changed after `stackr plan` wrote it"), "{text}");
    assert!(!d.join(".stackr/fingerprint.state.json").exists(), "a refused plan writes nothing");

    // The plan is the program: the secret it was made with is what apply sends, whatever the environment
    // says now (as a Terraform plan keeps its variables).
    let (code, text) = run("hunter3", &["apply"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("hunter"), "{text}");
    let config = stackr_providers::moto::sdk_config().await;
    let value = aws_sdk_secretsmanager::Client::new(&config)
        .get_secret_value()
        .secret_id("fingerprint/api-key")
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some("hunter2"));
    // The next plan seals under the key the state now records.
    let (code, text) = run("hunter3", &["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(saved()["secretsKey"], serde_json::json!({"source": "state"}));
    // A stack file that names another secrets provider (a pull request choosing a key it can open) does not
    // choose the key: a state that records one seals under it.
    let text_before_pr = std::fs::read_to_string(d.join("stack.yaml")).unwrap();
    std::fs::write(
        d.join("pr.yaml"),
        text_before_pr.replace("region: us-east-1\n", "region: us-east-1\nsecretsProvider: awskms://alias/theirs\n"),
    )
    .unwrap();
    let (code, text) = run("hunter3", &["plan", "pr.yaml", "--refresh=false", "-o", "pr.plan.json"]);
    assert_eq!(code, Some(0), "{text}");
    let pr: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("pr.plan.json")).unwrap()).unwrap();
    assert_eq!(pr["secretsKey"], serde_json::json!({"source": "state"}));
    // The change of provider is part of the plan, shown where reviewers read it.
    assert!(
        text.contains("~ secrets: the state's secrets will be re-encrypted from passphrase to awskms://alias/theirs"),
        "{text}"
    );
    assert!(text.contains("apply needs both keys"), "{text}");

    // An edit cannot make apply re-key the state, nor pass for a plan without secrets: a plan of a stack whose
    // state records a key is authenticated under that key, whatever it holds.
    let edits: [support::PlanEdit; 3] = [
        (
            "rekeyed",
            &|p| p["target"]["secretsProvider"] = "awskms://alias/theirs".into(),
            "was changed after `stackr plan` wrote it (its authentication does not match)",
        ),
        (
            "stripped",
            &|p| {
                let map = p.as_object_mut().unwrap();
                map.remove("mac");
                map.remove("secretsKey");
                p["steps"][0]["inputs"]["secretString"] = "chosen-by-the-editor".into();
            },
            "it is not authenticated, and every plan of a stack whose state records a secrets key is",
        ),
        (
            "newkey",
            &|p| p["secretsKey"] = first_plan["secretsKey"].clone(),
            "it names a new secrets key, and the stack's state records one",
        ),
    ];
    let serial = |d: &std::path::Path| {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(".stackr/fingerprint.state.json")).unwrap()).unwrap();
        (state["serial"].clone(), state["secrets"]["provider"].clone())
    };
    let before = serial(d);
    std::fs::write(
        d.join("stack.yaml"),
        text_before_pr.replace("fingerprint/api-key, ", "fingerprint/api-key, description: changed, "),
    )
    .unwrap();
    let (code, text) = run("hunter3", &["plan", "stack.yaml", "--refresh=false"]);
    assert_eq!(code, Some(0), "{text}");
    for (name, edit, expected) in edits {
        let mut plan = saved();
        edit(&mut plan);
        std::fs::write(d.join(format!("{name}.plan.json")), serde_json::to_vec(&plan).unwrap()).unwrap();
        let (code, text) = run("hunter3", &["apply", &format!("{name}.plan.json")]);
        assert_eq!(code, Some(1), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
    }
    assert_eq!(serial(d), before, "nothing was applied, the key is the state's");
    std::fs::write(d.join("stack.yaml"), &text_before_pr).unwrap();

    // A plan file of an older format is refused: plan again.
    let mut old = saved();
    old["formatVersion"] = 2.into();
    std::fs::write(d.join("old.plan.json"), serde_json::to_vec(&old).unwrap()).unwrap();
    let (code, text) = run("hunter3", &["apply", "old.plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("written by an older stackr (format version 2)") && text.contains("plan again"), "{text}");
    assert!(text.contains("hint: make a new plan: `stackr plan stack.yaml`"), "{text}");
    // A version that is not a number, and inputs edited without their hash, are refused as damaged.
    let mut odd = saved();
    odd["formatVersion"] = "3".into();
    std::fs::write(d.join("odd.plan.json"), serde_json::to_vec(&odd).unwrap()).unwrap();
    let (_, text) = run("hunter3", &["apply", "odd.plan.json"]);
    assert!(text.contains("`formatVersion` must be a whole number, not \"3\""), "{text}");
    let mut edited = saved();
    edited["inputs"]["stack:stack.yaml"] = "0".repeat(64).into();
    std::fs::write(d.join("edited.plan.json"), serde_json::to_vec(&edited).unwrap()).unwrap();
    let (_, text) = run("hunter3", &["apply", "edited.plan.json"]);
    assert!(text.contains("`inputsHash` does not match `inputs`"), "{text}");

    // Once the state holds sealed secrets, planning without the passphrase cannot even read it.
    let mut plan = support::command(d);
    plan.env("FINGERPRINT_KEY", "hunter3").env_remove("STACKR_PASSPHRASE");
    let (code, text) = status(&plan.args(["plan", "stack.yaml", "--refresh=false"]).output().unwrap());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("STACKR_PASSPHRASE"), "{text}");
    let (code, text) = run("hunter3", &["destroy", "stack.yaml", "--auto-approve"]);
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_kms_stack_with_secret_config_plans_and_applies_its_saved_plan() {
    let config = stackr_providers::moto::sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().description("stackr plan key").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias().alias_name("alias/stackr-plan-e2e").target_key_id(&key_id).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: kmsplan\nregion: us-east-1\nsecretsProvider: awskms://alias/stackr-plan-e2e\nparameters:\n  apiKey: {type: string}\nconfig:\n  apiKey: {fromEnv: KMSPLAN_KEY, secret: true}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {name: kmsplan/api-key, secretString: \"${apiKey}\", recoveryWindowInDays: 0}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        status(
            &support::command(d)
                .env("KMSPLAN_KEY", "kms-plan-canary")
                .env_remove("STACKR_PASSPHRASE")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let (code, text) = run(&["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/plans/kmsplan.plan.json")).unwrap()).unwrap();
    assert_eq!(plan["secretsKey"]["record"]["provider"], "awskms://alias/stackr-plan-e2e");
    assert!(plan["secretsKey"]["record"]["encryptedKey"].is_string(), "{plan}");
    // Apply opens the plan's data key (bound to the lineage it was planned with) and finds nothing moved.
    let (code, text) = run(&["apply"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Apply complete: 1 created"), "{text}");
    let (code, text) = run(&["destroy", "stack.yaml", "--auto-approve"]);
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_plan_file_applies_nothing_no_plan_showed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |display: &str| {
        format!("name: edited\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {{name: edited-topic, displayName: {display}}}\n  table:\n    type: aws:dynamodb:Table\n    properties: {{name: edited-table, hashKey: id, attributes: [{{name: id, type: S}}]}}\n")
    };
    std::fs::write(d.join("stack.yaml"), stack("one")).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    std::fs::write(d.join("stack.yaml"), stack("two")).unwrap();
    ok(&stackr(d, &["plan", "stack.yaml", "-o", "real.plan.json"]));
    let real: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("real.plan.json")).unwrap()).unwrap();
    let table_id = {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(".stackr/edited.state.json")).unwrap()).unwrap();
        state["resources"]["table"]["id"].as_str().unwrap().to_string()
    };
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut plan = real.clone();
        edit(&mut plan);
        let path = d.join(format!("{name}.plan.json"));
        std::fs::write(&path, serde_json::to_vec(&plan).unwrap()).unwrap();
        path.display().to_string()
    };
    let delete_table = serde_json::json!({"name": "table", "type": "aws:dynamodb:Table", "action": "delete",
        "dataLoss": false, "retain": false, "dependencies": [], "priorId": table_id});
    let topic_name_edit = |p: &mut serde_json::Value| p["steps"][0]["inputs"]["name"] = "renamed-topic".into();
    let cases: Vec<(String, &str)> = vec![
        (
            edited("retained", &|p| {
                let mut step = delete_table.clone();
                step["retain"] = true.into();
                p["steps"].as_array_mut().unwrap().push(step);
            }),
            "`table` is not retainOnDelete in the state, but the plan leaves it in AWS",
        ),
        (
            edited("twice", &|p| {
                let step = p["steps"][0].clone();
                p["steps"].as_array_mut().unwrap().push(step);
            }),
            "`topic` has more than one step",
        ),
        (edited("forcing", &topic_name_edit), "`topic` changes `name` in place, which forces a replacement"),
        (
            edited("unshaped", &|p| drop(p["steps"][0]["inputs"].as_object_mut().unwrap().remove("name"))),
            "`topic` lacks the required property `name`",
        ),
        (
            edited("ghost", &|p| p["steps"][0]["dependencies"] = serde_json::json!(["ghost"])),
            "`topic` waits for `ghost`, which is neither a step of the plan nor in the state",
        ),
        (
            edited("gone", &|p| p["gone"] = serde_json::json!([{"name": "table", "id": table_id}])),
            "the saved plan says `table` was deleted outside stackr, but it exists",
        ),
        (
            // A plan holding no secret is not authenticated (see docs/SECURITY.md): what it says is checked
            // against the state, and what would lose data still needs --allow-data-loss.
            edited("delete", &|p| p["steps"].as_array_mut().unwrap().push(delete_table.clone())),
            "the plan destroys data (table)",
        ),
        (
            edited("stranger", &|p| {
                let mut step = delete_table.clone();
                step["priorId"] = "some-other-table".into();
                p["steps"].as_array_mut().unwrap().push(step);
            }),
            "`table` is edited-table in the state, not some-other-table",
        ),
        (
            edited("loss", &|p| {
                p["destroy"] = true.into();
                p["steps"].as_array_mut().unwrap().push(delete_table.clone());
            }),
            "the plan destroys data (table)",
        ),
        (
            edited("type", &|p| p["steps"][0]["type"] = "aws:sqs:Queue".into()),
            "`topic` is a aws:sns:Topic in the state, but the plan says aws:sqs:Queue",
        ),
    ];
    for (path, expected) in cases {
        let (code, text) = status(&stackr(d, &["apply", &path]));
        assert_eq!(code, Some(1), "{path}: {text}");
        assert!(text.contains(expected), "{path}: {text}");
    }
    // Nothing of it happened: the table is still recorded, and exists.
    let (code, text) = status(&stackr(d, &["state", "list", "stack.yaml"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("table"), "{text}");
    let config = stackr_providers::moto::sdk_config().await;
    aws_sdk_dynamodb::Client::new(&config).describe_table().table_name("edited-table").send().await.unwrap();
    // The real plan still applies.
    ok(&stackr(d, &["apply", "real.plan.json"]));
    ok(&stackr(d, &["destroy", "stack.yaml", "--auto-approve"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn what_refresh_reads_back_of_a_secret_stays_secret() {
    const SECRET: &str = "REFRESHED-secret-3d9a";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = format!(
        "name: reread\nregion: us-east-1\nresources:\n  p:\n    type: aws:ssm:Parameter\n    properties: {{name: /reread/p, value: {SECRET}}}\n  q:\n    type: aws:sqs:Queue\n    properties: {{name: reread-q, tags: {{t: \"${{p.value}}\"}}}}\n  pol:\n    type: aws:iam:Policy\n    properties: {{name: reread-pol, description: \"x ${{p.value}}\", policy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Action: \"s3:GetObject\", Resource: \"arn:aws:s3:::${{p.value}}\"}}]}}}}\n"
    );
    std::fs::write(d.join("stack.yaml"), stack).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    let mut printed = ok(&stackr(d, &["refresh", "stack.yaml"]));
    printed += &ok(&stackr(d, &["plan", "stack.yaml"]));
    printed += &ok(&stackr(d, &["state", "show", "stack.yaml", "q"]));
    printed += &ok(&stackr(d, &["state", "show", "stack.yaml", "pol"]));
    assert!(printed.contains("(secret)"), "{printed}");
    assert!(!printed.contains(SECRET), "{printed}");
    let state = std::fs::read_to_string(d.join(".stackr/reread.state.json")).unwrap();
    assert!(!state.contains(SECRET), "the state holds the secret in clear after a refresh");
    let (code, _) = status(&stackr(d, &["destroy", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0));
}
