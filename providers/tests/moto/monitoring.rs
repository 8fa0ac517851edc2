//! aws:sns:Topic, aws:sns:TopicSubscription, aws:cloudwatch:MetricAlarm and aws:cloudwatch:Dashboard
//! against moto (CloudWatch through the pinned awsQuery SDK).

use stackr_engine::provider::CallContext;
use stackr_engine::value::Value;

use crate::support::{actions, Env};

fn stack(display: &str, threshold: u32, title: &str, email: &str) -> String {
    format!(
        r#"defaultTags: {{Project: monitoring}}
resources:
  topic:
    type: aws:sns:Topic
    properties: {{name: mon-test-alerts, displayName: "{display}"}}
  email:
    type: aws:sns:TopicSubscription
    properties: {{topic: "${{topic.arn}}", protocol: email, endpoint: {email}}}
  alarm:
    type: aws:cloudwatch:MetricAlarm
    properties:
      name: mon-test-errors
      namespace: AWS/Lambda
      metricName: Errors
      dimensions: {{FunctionName: chat}}
      period: 300
      evaluationPeriods: 1
      threshold: {threshold}
      comparisonOperator: GreaterThanThreshold
      treatMissingData: notBreaching
      alarmActions: ["${{topic.arn}}"]
      okActions: ["${{topic.arn}}"]
  dashboard:
    type: aws:cloudwatch:Dashboard
    properties:
      dashboardName: mon-test
      dashboardBody:
        widgets:
          - type: metric
            x: 0
            y: 0
            width: 12
            height: 6
            properties:
              title: {title}
              region: us-east-1
              metrics: [[AWS/Lambda, Errors, FunctionName, chat]]
              annotations: {{horizontal: [{{label: threshold, value: {threshold}}}]}}
"#
    )
}

#[tokio::test]
async fn monitoring_lifecycle() {
    let mut env = Env::new("mon-lifecycle").await;
    let sns = aws_sdk_sns::Client::new(&env.config);
    let cw = aws_sdk_cloudwatch::Client::new(&env.config);
    let stack_v1 = env.stack(&stack("Alerts", 5, "Errors", "ops@example.com"));
    env.converge(&stack_v1).await;

    let topic_arn = env.id("topic");
    let attributes = sns.get_topic_attributes().topic_arn(&topic_arn).send().await.unwrap();
    assert_eq!(attributes.attributes().unwrap()["DisplayName"], "Alerts");
    let subscriptions = sns.list_subscriptions_by_topic().topic_arn(&topic_arn).send().await.unwrap();
    assert_eq!(subscriptions.subscriptions()[0].endpoint(), Some("ops@example.com"));
    assert!(env.state.resources["email"].outputs["pendingConfirmation"].is_boolean());
    let alarms = cw.describe_alarms().alarm_names("mon-test-errors").send().await.unwrap();
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!(alarm.threshold(), Some(5.0));
    assert_eq!(alarm.alarm_actions(), std::slice::from_ref(&topic_arn));
    assert_eq!(alarm.dimensions()[0].value(), Some("chat"));
    let dashboard = cw.get_dashboard().dashboard_name("mon-test").send().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(dashboard.dashboard_body().unwrap()).unwrap();
    assert_eq!(body["widgets"][0]["properties"]["title"], "Errors");
    assert_eq!(env.output("dashboard", "arn"), dashboard.dashboard_arn().unwrap());
    env.assert_no_changes(&stack_v1).await;

    // Updates in place: display name, threshold (alarm and dashboard body), dashboard title.
    let stack_v2 = env.stack(&stack("Chatbot alerts", 10, "Lambda errors", "ops@example.com"));
    let plan = env.converge(&stack_v2).await;
    assert_eq!(
        actions(&plan),
        [("dashboard".to_string(), "update"), ("topic".to_string(), "update"), ("alarm".to_string(), "update")]
    );
    let text = stackr_engine::render::text::render(&plan, stackr_engine::render::Style::PLAIN);
    let line =
        |sign: &str, content: &str| text.lines().any(|l| l.trim_start().starts_with(sign) && l.ends_with(content));
    assert!(
        line("-", "\"title\": \"Errors\"") && line("+", "\"title\": \"Lambda errors\""),
        "the dashboard body diffs line by line:\n{text}"
    );
    assert!(text.contains("~ threshold: 5 → 10"), "{text}");
    assert_eq!(
        cw.describe_alarms().alarm_names("mon-test-errors").send().await.unwrap().metric_alarms()[0].threshold(),
        Some(10.0)
    );
    env.assert_no_changes(&stack_v2).await;

    // Drift on the alarm and the dashboard, made with the SDK, is found and undone.
    let alarm = cw.describe_alarms().alarm_names("mon-test-errors").send().await.unwrap().metric_alarms()[0].clone();
    cw.put_metric_alarm()
        .alarm_name("mon-test-errors")
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .statistic(alarm.statistic().unwrap().clone())
        .period(300)
        .evaluation_periods(3)
        .threshold(10.0)
        .comparison_operator(alarm.comparison_operator().unwrap().clone())
        .send()
        .await
        .unwrap();
    cw.put_dashboard().dashboard_name("mon-test").dashboard_body(r#"{"widgets": []}"#).send().await.unwrap();
    let plan = env.plan(&stack_v2).await;
    let drifted: Vec<&str> = plan.drift.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(drifted, ["alarm", "dashboard"]);
    env.apply_plan(&plan).await;
    env.assert_no_changes(&stack_v2).await;

    // Replace: a new subscription endpoint.
    let stack_v3 = env.stack(&stack("Chatbot alerts", 10, "Lambda errors", "oncall@example.com"));
    let old_subscription = env.id("email");
    let plan = env.converge(&stack_v3).await;
    assert_eq!(actions(&plan), [("email".to_string(), "replace")]);
    assert_ne!(env.id("email"), old_subscription);

    // Import: the topic by name, the alarm by name, the dashboard by name.
    let cx = CallContext { stack: env.name.clone(), resource: "x".into(), create_token: None, made: None };
    for (type_name, id) in [
        ("aws:sns:Topic", "mon-test-alerts"),
        ("aws:cloudwatch:MetricAlarm", "mon-test-errors"),
        ("aws:cloudwatch:Dashboard", "mon-test"),
    ] {
        let provider = env.registry.provider(type_name).unwrap();
        assert!(provider.import(&cx, id).await.unwrap().is_some(), "{type_name} {id}");
    }

    // Delete.
    env.converge(&env.stack("resources: {}\n")).await;
    assert!(sns.get_topic_attributes().topic_arn(&topic_arn).send().await.is_err());
    assert!(cw.describe_alarms().alarm_names("mon-test-errors").send().await.unwrap().metric_alarms().is_empty());
    assert!(cw.get_dashboard().dashboard_name("mon-test").send().await.is_err());
    let dashboard = env.registry.provider("aws:cloudwatch:Dashboard").unwrap();
    assert!(dashboard.read(&cx, "mon-test", &Value::Null).await.unwrap().is_none());
}
