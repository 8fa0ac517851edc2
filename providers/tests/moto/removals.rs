//! A property the stack drops is undone in AWS, and the next plan is empty (found by a hostile pass: the first
//! plan showed the removal, the call sent nothing, and AWS kept the old setting with no diff afterwards).

use crate::support::Env;

#[tokio::test(flavor = "multi_thread")]
async fn dropped_settings_are_undone_in_aws() {
    let mut env = Env::new("removals").await;
    env.write("code/handler.py", "def handler(event, context):\n    return 1\n");
    let setup = "  key:\n    type: aws:kms:Key\n    properties: {description: removals}\n  role:\n    type: aws:iam:Role\n    properties: {name: removals, assumeRolePolicy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: \"sts:AssumeRole\"}]}}\n  fn:\n    type: aws:lambda:Function\n    properties: {name: removals, runtime: python3.12, handler: handler.handler, role: \"${role.arn}\", code: code}\n  q:\n    type: aws:sqs:Queue\n    properties: {name: removals}\n";
    let with = "  b:\n    type: aws:s3:Bucket\n    properties: {bucketName: removals, versioning: {enabled: true}, notifications: {queues: [], topics: []}}\n  p:\n    type: aws:ssm:Parameter\n    properties: {name: /removals/p, type: SecureString, value: v, keyId: \"${key.arn}\"}\n  m:\n    type: aws:lambda:EventSourceMapping\n    properties: {eventSourceArn: \"${q.arn}\", functionName: \"${fn.name}\", batchSize: 5, maximumBatchingWindowInSeconds: 10}\n";
    let without = "  b:\n    type: aws:s3:Bucket\n    properties: {bucketName: removals}\n  p:\n    type: aws:ssm:Parameter\n    properties: {name: /removals/p, type: SecureString, value: v}\n  m:\n    type: aws:lambda:EventSourceMapping\n    properties: {eventSourceArn: \"${q.arn}\", functionName: \"${fn.name}\"}\n";
    let stack = env.stack(&format!("resources:\n{setup}{with}"));
    env.converge(&stack).await;
    env.assert_no_changes(&stack).await;
    let stack = env.stack(&format!("resources:\n{setup}{without}"));
    env.converge(&stack).await;
    env.assert_no_changes(&stack).await;

    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&env.config).force_path_style(true).build());
    let versioning = s3.get_bucket_versioning().bucket("removals").send().await.unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Suspended"), "a versioned bucket can only be suspended");
    let ssm = aws_sdk_ssm::Client::new(&env.config);
    let filter =
        aws_sdk_ssm::types::ParameterStringFilter::builder().key("Name").values("/removals/p").build().unwrap();
    let described = ssm.describe_parameters().parameter_filters(filter).send().await.unwrap();
    assert_eq!(described.parameters()[0].key_id(), Some("alias/aws/ssm"), "back to SSM's own key");
    let lambda = aws_sdk_lambda::Client::new(&env.config);
    let mapping = lambda.get_event_source_mapping().uuid(env.id("m")).send().await.unwrap();
    assert_eq!((mapping.batch_size(), mapping.maximum_batching_window_in_seconds()), (Some(10), Some(0)));
}
