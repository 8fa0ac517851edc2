//! The lifecycle every resource type must pass, run for each type from one row of inputs (docs/PROVIDERS.md,
//! "Adding a resource type"): create, read back, a second plan with no changes, update in place, drift made
//! outside stackr found and corrected, replace, import by id, deleted outside stackr (gone: the plan creates it
//! again), and delete. The faults at each configuration call are `tests/reliability/create_protocol.rs`, one row
//! per call; the per-service files here check what each type sends to AWS in detail.

use std::future::Future;
use std::pin::Pin;

use aws_config::SdkConfig;
use stackr_engine::provider::CallContext;
use stackr_engine::schema::PropType;
use stackr_engine::value::Value;

use crate::support::{actions, Env};

type Call = fn(SdkConfig, String) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// One type's row: `it` with its properties as created, as updated in place and with a change that forces a
/// replacement, beside the resources it needs (`setup`, YAML under `resources:`).
struct Case {
    stack: &'static str,
    type_name: &'static str,
    setup: &'static str,
    /// Files the stack names (a function's code), relative to the stack's directory.
    files: &'static [(&'static str, &'static str)],
    create: &'static str,
    /// `None` for types whose every property forces replacement.
    update: Option<&'static str>,
    /// A change made outside stackr to the resource with this id, which the next plan must find as drift and
    /// correct in place.
    drift: Option<Call>,
    /// `None` for types where nothing forces replacement.
    replace: Option<&'static str>,
    /// Deletes the resource with this id outside stackr.
    remove: Call,
}

/// The stack's resources: `setup`, and `it` of `type_name` with `properties` (`None`: `it` removed). `TRUST`
/// stands for a role's trust policy.
fn row(type_name: &str, setup: &str, properties: Option<&str>) -> String {
    let it = properties.map(|p| format!("  it:\n    type: {type_name}\n    properties: {p}\n")).unwrap_or_default();
    let resources = format!("{setup}{it}");
    let resources = if resources.is_empty() { " {}\n".to_string() } else { format!("\n{resources}") };
    format!("resources:{resources}").replace("TRUST", TRUST)
}

/// The resource `id` as the provider reads it, with `it`'s recorded inputs as the prior.
async fn read(env: &Env, type_name: &str, id: &str) -> Option<stackr_engine::provider::Observed> {
    let provider = env.registry.provider(type_name).unwrap();
    let cx = CallContext { stack: env.name.clone(), resource: "it".into(), create_token: None, made: None };
    let prior = env.state.resources.get("it").map(|r| Value::from_json(&r.inputs)).unwrap_or(Value::Null);
    provider.read(&cx, id, &prior).await.unwrap()
}

async fn run(case: Case) {
    let mut env = Env::new(case.stack).await;
    for (path, contents) in case.files {
        env.write(path, contents);
    }
    let provider = env.registry.provider(case.type_name).unwrap();
    let cx = CallContext { stack: env.name.clone(), resource: "it".into(), create_token: None, made: None };
    // Create, read back, no changes.
    let mut stack = env.stack(&row(case.type_name, case.setup, Some(case.create)));
    let plan = env.converge(&stack).await;
    assert!(actions(&plan).contains(&("it".to_string(), "create")), "{:?}", actions(&plan));
    let id = env.id("it");
    let observed = read(&env, case.type_name, &id).await.expect("the new resource reads back");
    assert_eq!(observed.id, id);
    env.assert_no_changes(&stack).await;

    // Update in place.
    if let Some(update) = case.update {
        stack = env.stack(&row(case.type_name, case.setup, Some(update)));
        let plan = env.converge(&stack).await;
        assert_eq!(actions(&plan), [("it".to_string(), "update")]);
        assert_eq!(env.id("it"), id, "updated in place");
        env.assert_no_changes(&stack).await;
    }

    // Drift: found, shown, corrected.
    if let Some(drift) = case.drift {
        drift(env.config.clone(), id.clone()).await;
        let plan = env.plan(&stack).await;
        assert!(plan.drift.iter().any(|d| d.name == "it"), "the change made outside stackr is drift");
        assert_eq!(actions(&plan), [("it".to_string(), "update")]);
        env.apply_plan(&plan).await;
        env.assert_no_changes(&stack).await;
    }

    // Replace: a new resource, the old one gone.
    if let Some(replace) = case.replace {
        stack = env.stack(&row(case.type_name, case.setup, Some(replace)));
        let plan = env.converge(&stack).await;
        assert_eq!(actions(&plan), [("it".to_string(), "replace")]);
        // Where the id is the name (a table, a permission's statement), the new resource has the old one's id
        // (the name cannot hold two) and the empty plan below shows it is the new one.
        if env.id("it") != id {
            assert!(read(&env, case.type_name, &id).await.is_none(), "the replaced resource is gone");
        }
        env.assert_no_changes(&stack).await;
    }

    // Import by id: what AWS has, under the same id, its required properties as the stack has them (code
    // aside: AWS keeps a function's zip, not the directory it was made from).
    let current = env.id("it");
    let imported = provider.import(&cx, &current).await.unwrap().expect("import by id");
    assert_eq!(imported.id, current);
    let recorded = Value::from_json(&env.state.resources["it"].inputs);
    let schema = provider.schema();
    for property in schema.properties.iter().filter(|p| p.required && !matches!(p.ty, PropType::Asset)) {
        let field = |v: &Value| v.as_map().and_then(|m| m.get(property.name)).map(|v| v.reveal().to_json());
        assert_eq!(field(&imported.inputs), field(&recorded), "import reads `{}` back", property.name);
    }

    // Deleted outside stackr: gone, and the plan creates it again.
    (case.remove)(env.config.clone(), current.clone()).await;
    assert!(read(&env, case.type_name, &current).await.is_none(), "deleted outside stackr reads as gone");
    let plan = env.plan(&stack).await;
    assert_eq!(actions(&plan), [("it".to_string(), "create")]);
    env.apply_plan(&plan).await;
    env.assert_no_changes(&stack).await;

    // Delete: removed from the stack.
    let last = env.id("it");
    let stack = env.stack(&row(case.type_name, case.setup, None));
    let plan = env.converge(&stack).await;
    assert!(actions(&plan).contains(&("it".to_string(), "delete")), "{:?}", actions(&plan));
    assert!(read(&env, case.type_name, &last).await.is_none(), "deleted");
}

macro_rules! lifecycle {
    ($($test:ident: $case:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                run($case).await;
            }
        )*
    };
}

const TRUST: &str = r#"{Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]}"#;
const CODE: &[(&str, &str)] = &[("code/handler.py", "def handler(event, context):\n    return 1\n")];

lifecycle! {
    kms_key: Case {
        stack: "lc-key", type_name: "aws:kms:Key", setup: "", files: &[],
        create: "{description: one, deletionWindowInDays: 7, tags: {Owner: a, Team: x}}",
        update: Some("{description: two, deletionWindowInDays: 7, enableKeyRotation: true, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let kms = aws_sdk_kms::Client::new(&c);
            kms.update_key_description().key_id(id).description("by hand").send().await.unwrap();
        })),
        replace: Some("{description: two, deletionWindowInDays: 7, keyUsage: GENERATE_VERIFY_MAC, keySpec: HMAC_256, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            let kms = aws_sdk_kms::Client::new(&c);
            kms.schedule_key_deletion().key_id(id).pending_window_in_days(7).send().await.unwrap();
        }),
    };
    kms_alias: Case {
        stack: "lc-alias", type_name: "aws:kms:Alias", files: &[],
        setup: "  k1:\n    type: aws:kms:Key\n    properties: {description: k1}\n  k2:\n    type: aws:kms:Key\n    properties: {description: k2}\n",
        create: "{name: alias/lc-one, targetKeyId: \"${k1.keyId}\"}",
        update: Some("{name: alias/lc-one, targetKeyId: \"${k2.keyId}\"}"),
        drift: Some(|c, id| Box::pin(async move {
            let kms = aws_sdk_kms::Client::new(&c);
            let key = kms.create_key().description("lc elsewhere").send().await.unwrap();
            let key = key.key_metadata().unwrap().key_id().to_string();
            kms.update_alias().alias_name(id).target_key_id(key).send().await.unwrap();
        })),
        replace: Some("{name: alias/lc-two, targetKeyId: \"${k2.keyId}\"}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_kms::Client::new(&c).delete_alias().alias_name(id).send().await.unwrap();
        }),
    };
    secret: Case {
        stack: "lc-secret", type_name: "aws:secretsmanager:Secret", setup: "", files: &[],
        create: "{name: lc/one, description: one, secretString: {fn::secret: v1}, recoveryWindowInDays: 0, tags: {Owner: a, Team: x}}",
        update: Some("{name: lc/one, description: two, secretString: {fn::secret: v2}, recoveryWindowInDays: 0, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let sm = aws_sdk_secretsmanager::Client::new(&c);
            sm.update_secret().secret_id(id).description("by hand").send().await.unwrap();
        })),
        replace: Some("{name: lc/two, description: two, secretString: {fn::secret: v2}, recoveryWindowInDays: 0, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            let sm = aws_sdk_secretsmanager::Client::new(&c);
            sm.delete_secret().secret_id(id).force_delete_without_recovery(true).send().await.unwrap();
        }),
    };
    table: Case {
        stack: "lc-table", type_name: "aws:dynamodb:Table", setup: "", files: &[],
        create: "{name: lc-one, hashKey: id, attributes: [{name: id, type: S}], tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, hashKey: id, attributes: [{name: id, type: S}], ttl: {attributeName: expires}, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let ddb = aws_sdk_dynamodb::Client::new(&c);
            ddb.update_table().table_name(id).deletion_protection_enabled(true).send().await.unwrap();
        })),
        replace: Some("{name: lc-one, hashKey: pk, attributes: [{name: pk, type: S}], ttl: {attributeName: expires}, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_dynamodb::Client::new(&c).delete_table().table_name(id).send().await.unwrap();
        }),
    };
    role: Case {
        stack: "lc-role", type_name: "aws:iam:Role", setup: "", files: &[],
        create: "{name: lc-one, assumeRolePolicy: TRUST, description: one, tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, assumeRolePolicy: TRUST, description: two, maxSessionDuration: 7200, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            aws_sdk_iam::Client::new(&c).update_role().role_name(id).description("by hand").send().await.unwrap();
        })),
        replace: Some("{name: lc-two, assumeRolePolicy: TRUST, description: two, maxSessionDuration: 7200, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_iam::Client::new(&c).delete_role().role_name(id).send().await.unwrap();
        }),
    };
    events_rule: Case {
        stack: "lc-rule", type_name: "aws:events:Rule", files: &[],
        setup: "  q:\n    type: aws:sqs:Queue\n    properties: {name: lc-rule-target}\n  t:\n    type: aws:sns:Topic\n    properties: {name: lc-rule-topic}\n",
        create: "{name: lc-one, scheduleExpression: \"rate(5 minutes)\", targets: [{id: q, arn: \"${q.arn}\"}], tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, description: two, scheduleExpression: \"rate(10 minutes)\", targets: [{id: t, arn: \"${t.arn}\", input: {kind: tick}}], tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let events = aws_sdk_eventbridge::Client::new(&c);
            let name = id.split_once('|').unwrap().1;
            events.disable_rule().name(name).send().await.unwrap();
        })),
        replace: Some("{name: lc-two, description: two, eventPattern: {source: [orders]}, targets: [{id: t, arn: \"${t.arn}\"}], tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            let events = aws_sdk_eventbridge::Client::new(&c);
            let name = id.split_once('|').unwrap().1.to_string();
            let targets = events.list_targets_by_rule().rule(&name).send().await.unwrap();
            let ids: Vec<String> = targets.targets().iter().map(|t| t.id().to_string()).collect();
            if !ids.is_empty() {
                events.remove_targets().rule(&name).set_ids(Some(ids)).send().await.unwrap();
            }
            events.delete_rule().name(name).send().await.unwrap();
        }),
    };
    policy: Case {
        stack: "lc-policy", type_name: "aws:iam:Policy", setup: "", files: &[],
        create: "{name: lc-one, description: one, policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"sqs:SendMessage\", Resource: \"*\"}]}, tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, description: one, policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: [\"sqs:SendMessage\", \"sqs:ReceiveMessage\"], Resource: \"*\"}]}, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
            let iam = aws_sdk_iam::Client::new(&c);
            let request = iam.create_policy_version().policy_arn(id).policy_document(document).set_as_default(true);
            request.send().await.unwrap();
        })),
        replace: Some("{name: lc-one, description: two, policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: [\"sqs:SendMessage\", \"sqs:ReceiveMessage\"], Resource: \"*\"}]}, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            let iam = aws_sdk_iam::Client::new(&c);
            let versions = iam.list_policy_versions().policy_arn(&id).send().await.unwrap();
            for version in versions.versions().iter().filter(|v| !v.is_default_version()) {
                let request = iam.delete_policy_version().policy_arn(&id);
                request.version_id(version.version_id().unwrap()).send().await.unwrap();
            }
            iam.delete_policy().policy_arn(id).send().await.unwrap();
        }),
    };
    log_group: Case {
        stack: "lc-logs", type_name: "aws:cloudwatch:LogGroup", setup: "", files: &[],
        create: "{name: /lc/one, retentionInDays: 7, tags: {Owner: a, Team: x}}",
        update: Some("{name: /lc/one, retentionInDays: 14, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let logs = aws_sdk_cloudwatchlogs::Client::new(&c);
            logs.put_retention_policy().log_group_name(id).retention_in_days(30).send().await.unwrap();
        })),
        replace: Some("{name: /lc/two, retentionInDays: 14, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_cloudwatchlogs::Client::new(&c).delete_log_group().log_group_name(id).send().await.unwrap();
        }),
    };
    function: Case {
        stack: "lc-function", type_name: "aws:lambda:Function", files: CODE,
        setup: "  role:\n    type: aws:iam:Role\n    properties: {name: lc-function, assumeRolePolicy: TRUST}\n",
        create: "{name: lc-one, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code, tracing: Active, architectures: [arm64], reservedConcurrency: 5, tags: {Owner: a, Team: x}}",
        // moto keeps the tracing mode and architectures a function was created with (UpdateFunctionConfiguration
        // and UpdateFunctionCode ignore them): changing them is tested with mocked clients (src/mocked.rs).
        update: Some("{name: lc-one, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code, timeout: 5, environment: {variables: {A: b}}, tracing: Active, architectures: [arm64], tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let lambda = aws_sdk_lambda::Client::new(&c);
            lambda.update_function_configuration().function_name(id).timeout(9).send().await.unwrap();
        })),
        replace: Some("{name: lc-two, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code, timeout: 5, environment: {variables: {A: b}}, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_lambda::Client::new(&c).delete_function().function_name(id).send().await.unwrap();
        }),
    };
    event_source_mapping: Case {
        stack: "lc-mapping", type_name: "aws:lambda:EventSourceMapping", files: CODE,
        setup: "  role:\n    type: aws:iam:Role\n    properties: {name: lc-mapping, assumeRolePolicy: TRUST}\n  fn:\n    type: aws:lambda:Function\n    properties: {name: lc-mapping, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code}\n  q1:\n    type: aws:sqs:Queue\n    properties: {name: lc-mapping-1}\n  q2:\n    type: aws:sqs:Queue\n    properties: {name: lc-mapping-2}\n",
        create: "{eventSourceArn: \"${q1.arn}\", functionName: \"${fn.name}\", batchSize: 5}",
        update: Some("{eventSourceArn: \"${q1.arn}\", functionName: \"${fn.name}\", batchSize: 8, maximumBatchingWindowInSeconds: 2, filterCriteria: {filters: [{pattern: {body: {kind: [order]}}}]}}"),
        drift: Some(|c, id| Box::pin(async move {
            let lambda = aws_sdk_lambda::Client::new(&c);
            lambda.update_event_source_mapping().uuid(id).batch_size(3).send().await.unwrap();
        })),
        replace: Some("{eventSourceArn: \"${q2.arn}\", functionName: \"${fn.name}\", batchSize: 8, maximumBatchingWindowInSeconds: 2, filterCriteria: {filters: [{pattern: {body: {kind: [order]}}}]}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_lambda::Client::new(&c).delete_event_source_mapping().uuid(id).send().await.unwrap();
        }),
    };
    permission: Case {
        stack: "lc-permission", type_name: "aws:lambda:Permission", files: CODE,
        setup: "  role:\n    type: aws:iam:Role\n    properties: {name: lc-permission, assumeRolePolicy: TRUST}\n  fn:\n    type: aws:lambda:Function\n    properties: {name: lc-permission, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code}\n",
        create: "{function: \"${fn.name}\", principal: apigateway.amazonaws.com}",
        update: None,
        drift: None,
        replace: Some("{function: \"${fn.name}\", principal: events.amazonaws.com}"),
        remove: |c, id| Box::pin(async move {
            let (function, sid) = id.rsplit_once('|').unwrap();
            let lambda = aws_sdk_lambda::Client::new(&c);
            lambda.remove_permission().function_name(function).statement_id(sid).send().await.unwrap();
        }),
    };
    // moto cannot tag a REST API after its create (a 404 for an ARN with `/` in it): the tags stay as created.
    rest_api: Case {
        stack: "lc-api", type_name: "aws:apigateway:RestApi", files: CODE,
        setup: "  role:\n    type: aws:iam:Role\n    properties: {name: lc-api, assumeRolePolicy: TRUST}\n  fn:\n    type: aws:lambda:Function\n    properties: {name: lc-api, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code}\n",
        create: "{name: lc-one, description: one, routes: [{path: /a, method: GET, function: \"${fn.arn}\"}], tags: {Owner: a}}",
        update: Some("{name: lc-one, description: two, routes: [{path: /a, method: GET, function: \"${fn.arn}\"}, {path: /b, method: POST, function: \"${fn.arn}\"}], cors: {allowOrigins: [\"https://example.com\"]}, tags: {Owner: a}}"),
        drift: Some(|c, id| Box::pin(async move {
            use aws_sdk_apigateway::types::{Op, PatchOperation};
            let patch = PatchOperation::builder().op(Op::Replace).path("/description").value("by hand").build();
            let apigw = aws_sdk_apigateway::Client::new(&c);
            apigw.update_rest_api().rest_api_id(id).patch_operations(patch).send().await.unwrap();
        })),
        replace: None,
        remove: |c, id| Box::pin(async move {
            aws_sdk_apigateway::Client::new(&c).delete_rest_api().rest_api_id(id).send().await.unwrap();
        }),
    };
    dashboard: Case {
        stack: "lc-dashboard", type_name: "aws:cloudwatch:Dashboard", setup: "", files: &[],
        create: "{dashboardName: lc-one, dashboardBody: {widgets: []}}",
        update: Some("{dashboardName: lc-one, dashboardBody: {widgets: [{type: text, x: 0, y: 0, width: 6, height: 2, properties: {markdown: hello}}]}}"),
        drift: Some(|c, id| Box::pin(async move {
            let cw = aws_sdk_cloudwatch::Client::new(&c);
            cw.put_dashboard().dashboard_name(id).dashboard_body(r#"{"widgets":[]}"#).send().await.unwrap();
        })),
        replace: Some("{dashboardName: lc-two, dashboardBody: {widgets: []}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_cloudwatch::Client::new(&c).delete_dashboards().dashboard_names(id).send().await.unwrap();
        }),
    };
    alarm: Case {
        stack: "lc-alarm", type_name: "aws:cloudwatch:MetricAlarm", setup: "", files: &[],
        create: "{name: lc-one, namespace: AWS/Lambda, metricName: Errors, period: 60, evaluationPeriods: 1, threshold: 1, comparisonOperator: GreaterThanOrEqualToThreshold, tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, namespace: AWS/Lambda, metricName: Errors, period: 60, evaluationPeriods: 2, threshold: 3, comparisonOperator: GreaterThanOrEqualToThreshold, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
            let cw = aws_sdk_cloudwatch::Client::new(&c);
            let request = cw.put_metric_alarm().alarm_name(id).namespace("AWS/Lambda").metric_name("Errors");
            let request = request.statistic(Statistic::Sum).period(60).evaluation_periods(2).threshold(9.0);
            let request = request.comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold);
            request.send().await.unwrap();
        })),
        replace: Some("{name: lc-two, namespace: AWS/Lambda, metricName: Errors, period: 60, evaluationPeriods: 2, threshold: 3, comparisonOperator: GreaterThanOrEqualToThreshold, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_cloudwatch::Client::new(&c).delete_alarms().alarm_names(id).send().await.unwrap();
        }),
    };
    bucket: Case {
        stack: "lc-bucket", type_name: "aws:s3:Bucket", files: &[],
        setup: "  q:\n    type: aws:sqs:Queue\n    properties: {name: lc-bucket-events}\n",
        create: "{bucketName: lc-bucket-one, versioning: {enabled: true}, tags: {Owner: a, Team: x}}",
        update: Some("{bucketName: lc-bucket-one, versioning: {enabled: true}, serverSideEncryption: {algorithm: AES256}, publicAccessBlock: {}, lifecycleRules: [{id: old, expirationDays: 30, noncurrentVersionExpirationDays: 7, transitions: [{days: 10, storageClass: STANDARD_IA}]}], corsRules: [{allowedMethods: [GET], allowedOrigins: [\"https://example.com\"], maxAgeSeconds: 60}], policy: {Version: \"2012-10-17\", Statement: [{Effect: Deny, Principal: \"*\", Action: \"s3:*\", Resource: \"arn:aws:s3:::lc-bucket-one/*\", Condition: {Bool: {\"aws:SecureTransport\": \"false\"}}}]}, notifications: {queues: [{queueArn: \"${q.arn}\", events: [\"s3:ObjectCreated:*\"], filterPrefix: uploads/}]}, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
            let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&c).force_path_style(true).build());
            let suspended = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
            s3.put_bucket_versioning().bucket(id).versioning_configuration(suspended).send().await.unwrap();
        })),
        replace: Some("{bucketName: lc-bucket-two, versioning: {enabled: true}, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&c).force_path_style(true).build());
            s3.delete_bucket().bucket(id).send().await.unwrap();
        }),
    };
    topic: Case {
        stack: "lc-topic", type_name: "aws:sns:Topic", setup: "", files: &[],
        create: "{name: lc-one, displayName: one, tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, displayName: two, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let sns = aws_sdk_sns::Client::new(&c);
            let request = sns.set_topic_attributes().topic_arn(id).attribute_name("DisplayName");
            request.attribute_value("by hand").send().await.unwrap();
        })),
        replace: Some("{name: lc-two, displayName: two, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_sns::Client::new(&c).delete_topic().topic_arn(id).send().await.unwrap();
        }),
    };
    queue: Case {
        stack: "lc-queue", type_name: "aws:sqs:Queue", files: &[],
        setup: "  dlq:\n    type: aws:sqs:Queue\n    properties: {name: lc-dead-letters}\n",
        create: "{name: lc-one, visibilityTimeout: 30, tags: {Owner: a, Team: x}}",
        update: Some("{name: lc-one, visibilityTimeout: 60, delaySeconds: 5, redrivePolicy: {deadLetterTargetArn: \"${dlq.arn}\", maxReceiveCount: 3}, policy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {Service: sns.amazonaws.com}, Action: \"sqs:SendMessage\", Resource: \"*\"}]}, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            use aws_sdk_sqs::types::QueueAttributeName;
            let sqs = aws_sdk_sqs::Client::new(&c);
            let request = sqs.set_queue_attributes().queue_url(id).attributes(QueueAttributeName::VisibilityTimeout, "99");
            request.send().await.unwrap();
        })),
        replace: Some("{name: lc-two.fifo, fifoQueue: true, contentBasedDeduplication: true, visibilityTimeout: 60, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_sqs::Client::new(&c).delete_queue().queue_url(id).send().await.unwrap();
        }),
    };
    parameter: Case {
        stack: "lc-parameter", type_name: "aws:ssm:Parameter", setup: "", files: &[],
        create: "{name: /lc/one, value: first, description: one, tags: {Owner: a, Team: x}}",
        update: Some("{name: /lc/one, value: second, description: two, tags: {Owner: b}}"),
        drift: Some(|c, id| Box::pin(async move {
            let ssm = aws_sdk_ssm::Client::new(&c);
            ssm.put_parameter().name(id).value("by hand").overwrite(true).send().await.unwrap();
        })),
        replace: Some("{name: /lc/one, type: SecureString, value: second, description: two, tags: {Owner: b}}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_ssm::Client::new(&c).delete_parameter().name(id).send().await.unwrap();
        }),
    };
    topic_policy: Case {
        stack: "lc-topic-policy", type_name: "aws:sns:TopicPolicy", files: &[],
        setup: "  topic:\n    type: aws:sns:Topic\n    properties: {name: lc-policed}\n  other:\n    type: aws:sns:Topic\n    properties: {name: lc-policed-too}\n",
        create: "{topic: \"${topic.arn}\", policy: {Version: \"2012-10-17\", Statement: [{Sid: events, Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: \"sns:Publish\", Resource: \"${topic.arn}\"}]}}",
        update: Some("{topic: \"${topic.arn}\", policy: {Version: \"2012-10-17\", Statement: [{Sid: alarms, Effect: Allow, Principal: {Service: cloudwatch.amazonaws.com}, Action: \"sns:Publish\", Resource: \"${topic.arn}\"}]}}"),
        drift: Some(|c, id| Box::pin(async move {
            let sns = aws_sdk_sns::Client::new(&c);
            let policy = format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"hand\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"sns:Publish\",\"Resource\":\"{id}\"}}]}}");
            sns.set_topic_attributes().topic_arn(id).attribute_name("Policy").attribute_value(policy).send().await.unwrap();
        })),
        replace: Some("{topic: \"${other.arn}\", policy: {Version: \"2012-10-17\", Statement: [{Sid: alarms, Effect: Allow, Principal: {Service: cloudwatch.amazonaws.com}, Action: \"sns:Publish\", Resource: \"${other.arn}\"}]}}"),
        remove: |c, id| Box::pin(async move {
            // What deleting it does: the topic's own default policy back.
            let sns = aws_sdk_sns::Client::new(&c);
            let account = id.split(':').nth(4).unwrap().to_string();
            let policy = serde_json::json!({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": id, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}]});
            sns.set_topic_attributes().topic_arn(&id).attribute_name("Policy").attribute_value(policy.to_string()).send().await.unwrap();
        }),
    };
    subscription: Case {
        stack: "lc-subscription", type_name: "aws:sns:TopicSubscription", files: &[],
        setup: "  topic:\n    type: aws:sns:Topic\n    properties: {name: lc-subscribed}\n",
        create: "{topic: \"${topic.arn}\", protocol: email, endpoint: one@example.com}",
        update: None,
        drift: None,
        replace: Some("{topic: \"${topic.arn}\", protocol: email, endpoint: two@example.com}"),
        remove: |c, id| Box::pin(async move {
            aws_sdk_sns::Client::new(&c).unsubscribe().subscription_arn(id).send().await.unwrap();
        }),
    };
}
