//! aws:lambda:Function, aws:lambda:Permission and aws:apigateway:RestApi against moto, in one stack with a
//! role and a table: API → function → role → table applied in one run from empty.

use stackr_engine::provider::CallContext;
use stackr_engine::value::Value;

use crate::support::{actions, Env};

fn stack(timeout: u32, origin: &str, rate: u32) -> String {
    format!(
        r#"defaultTags: {{Project: api-test}}
resources:
  table:
    type: aws:dynamodb:Table
    properties: {{name: api-test-items, hashKey: id, attributes: [{{name: id, type: S}}]}}
  role:
    type: aws:iam:Role
    properties:
      name: api-test-fn
      assumeRolePolicy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: "sts:AssumeRole"}}]}}
      inlinePolicies:
        - name: table
          policy: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: ["dynamodb:GetItem"], Resource: ["${{table.arn}}"]}}]}}
  fn:
    type: aws:lambda:Function
    properties:
      name: api-test-fn
      runtime: python3.12
      handler: handler.handler
      role: ${{role.arn}}
      code: code
      timeout: {timeout}
      environment: {{variables: {{TABLE: "${{table.name}}", TOKEN: {{fn::secret: not-for-plans}}}}}}
  api:
    type: aws:apigateway:RestApi
    properties:
      name: api-test
      routes:
        - {{path: /items, method: GET, function: "${{fn.arn}}"}}
        - {{path: "/items/{{id}}", method: POST, function: "${{fn.arn}}"}}
      cors: {{allowOrigins: ["{origin}"], allowHeaders: [Content-Type]}}
      stageName: test
      throttle: {{rateLimit: {rate}, burstLimit: 20}}
  invoke:
    type: aws:lambda:Permission
    properties:
      function: ${{fn.name}}
      principal: apigateway.amazonaws.com
      sourceArn: ${{api.executionArn}}/*/*/*
"#
    )
}

#[tokio::test]
async fn api_function_role_and_table_in_one_run() {
    let mut env = Env::new("api-lifecycle").await;
    env.write("code/handler.py", "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n");
    let lambda = aws_sdk_lambda::Client::new(&env.config);
    let apigw = aws_sdk_apigateway::Client::new(&env.config);

    let stack = env.stack(&stack(10, "https://example.com", 50));
    let plan = env.converge(&stack).await;
    assert_eq!(plan.summary().create, 5);

    // The function, read back through the SDK.
    let function = lambda.get_function().function_name("api-test-fn").send().await.unwrap();
    let config = function.configuration().unwrap();
    assert_eq!(config.role(), Some(env.output("role", "arn").as_str()));
    assert_eq!(config.timeout(), Some(10));
    assert_eq!(config.environment().unwrap().variables().unwrap()["TABLE"], "api-test-items");
    assert_eq!(config.code_sha256(), Some(env.output("fn", "codeSha256").as_str()));
    let zip = stackr_providers::lambda::package::zip(&env.dir.path().join("code")).unwrap();
    use base64::Engine as _;
    use sha2::Digest as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&zip));
    assert_eq!(config.code_sha256(), Some(expected.as_str()), "CodeSha256 is the hash of the deterministic zip");

    // The permission, in the function's policy.
    let policy = lambda.get_policy().function_name("api-test-fn").send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Sid"], "invoke");
    assert_eq!(
        policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("{}/*/*/*", env.output("api", "executionArn"))
    );

    // The API: routes, integrations, CORS preflight, stage throttling.
    let api_id = env.id("api");
    let resources = apigw.get_resources().rest_api_id(&api_id).send().await.unwrap();
    let mut paths: Vec<&str> = resources.items().iter().filter_map(|r| r.path()).collect();
    paths.sort();
    assert_eq!(paths, ["/", "/items", "/items/{id}"]);
    let items = resources.items().iter().find(|r| r.path() == Some("/items")).unwrap();
    let integration = apigw
        .get_integration()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("GET")
        .send()
        .await
        .unwrap();
    assert!(integration.uri().unwrap().contains(&env.output("fn", "arn")));
    let preflight = apigw
        .get_integration_response()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("OPTIONS")
        .status_code("200")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.response_parameters().unwrap()["method.response.header.Access-Control-Allow-Origin"],
        "'https://example.com'"
    );
    let stage = apigw.get_stage().rest_api_id(&api_id).stage_name("test").send().await.unwrap();
    assert_eq!(stage.method_settings().unwrap()["*/*"].throttling_rate_limit(), 50.0);
    assert_eq!(env.output("api", "url"), format!("https://{api_id}.execute-api.us-east-1.amazonaws.com/test"));
    env.assert_no_changes(&stack).await;

    // Re-packaging an unchanged tree: no change. A changed byte: exactly one update, of the function.
    env.write("code/handler.py", "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n");
    env.assert_no_changes(&env.stack(&self::stack(10, "https://example.com", 50))).await;
    env.write("code/handler.py", "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok!'}\n");
    let stack = env.stack(&self::stack(10, "https://example.com", 50));
    let plan = env.plan(&stack).await;
    assert_eq!(actions(&plan), [("fn".to_string(), "update")]);
    assert_eq!(plan.changes[0].diff.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(), ["code"]);
    env.apply_plan(&plan).await;
    let after = lambda.get_function().function_name("api-test-fn").send().await.unwrap();
    assert_ne!(after.configuration().unwrap().code_sha256(), Some(expected.as_str()));
    env.assert_no_changes(&stack).await;

    // Configuration and API updates: timeout, CORS origin, throttling.
    let stack = env.stack(&self::stack(30, "https://app.example.com", 80));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("fn".to_string(), "update"), ("api".to_string(), "update")]);
    assert_eq!(
        lambda.get_function_configuration().function_name("api-test-fn").send().await.unwrap().timeout(),
        Some(30)
    );
    let resources = apigw.get_resources().rest_api_id(&api_id).send().await.unwrap();
    let items = resources.items().iter().find(|r| r.path() == Some("/items")).unwrap();
    let preflight = apigw
        .get_integration_response()
        .rest_api_id(&api_id)
        .resource_id(items.id().unwrap())
        .http_method("OPTIONS")
        .status_code("200")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.response_parameters().unwrap()["method.response.header.Access-Control-Allow-Origin"],
        "'https://app.example.com'"
    );
    env.assert_no_changes(&stack).await;

    // Drift: a timeout changed by hand.
    lambda.update_function_configuration().function_name("api-test-fn").timeout(99).send().await.unwrap();
    let plan = env.plan(&stack).await;
    assert_eq!(plan.drift[0].diff[0].path, "timeout");
    env.apply_plan(&plan).await;
    env.assert_no_changes(&stack).await;

    // Import: the function by name, the API by id.
    let cx = CallContext { stack: env.name.clone(), resource: "x".into(), create_token: None, made: None };
    let function = env.registry.provider("aws:lambda:Function").unwrap();
    let imported = function.import(&cx, "api-test-fn").await.unwrap().unwrap();
    assert_eq!(imported.id, "api-test-fn");
    // What import reads lacks the code (AWS keeps a zip, not the directory): an update from it still runs.
    let mut desired = Value::from_json(&env.state.resources["fn"].inputs);
    if let Value::Map(map) = &mut desired {
        map.insert("timeout".into(), Value::from(12));
    }
    function.update(&cx, "api-test-fn", &imported.inputs, &desired, &["timeout".to_string()]).await.unwrap();
    let configuration = lambda.get_function_configuration().function_name("api-test-fn").send().await.unwrap();
    assert_eq!(configuration.timeout(), Some(12));
    let api = env.registry.provider("aws:apigateway:RestApi").unwrap();
    assert_eq!(api.import(&cx, &api_id).await.unwrap().unwrap().id, api_id);

    // Delete everything.
    env.converge(&env.stack("resources: {}\n")).await;
    assert!(lambda.get_function().function_name("api-test-fn").send().await.is_err());
    assert!(api.read(&cx, &api_id, &Value::Null).await.unwrap().is_none());
    assert!(env.state.resources.is_empty());
}

#[tokio::test]
async fn an_interrupted_api_create_is_found_by_its_token() {
    let env = Env::new("api-find").await;
    let provider = env.registry.provider("aws:apigateway:RestApi").unwrap();
    let token = stackr_engine::apply::new_token().unwrap();
    let cx =
        CallContext { stack: env.name.clone(), resource: "api".into(), create_token: Some(token.clone()), made: None };
    let inputs = Value::from_json(&serde_json::json!({"name": "same-name", "stageName": "api"}));
    let created = provider.create(&cx, &inputs).await.unwrap();
    let other = CallContext { create_token: Some(stackr_engine::apply::new_token().unwrap()), ..cx.clone() };
    provider.create(&other, &inputs).await.unwrap();
    assert_eq!(
        provider.find(&cx, &inputs, &token).await.unwrap().unwrap().id,
        created.id,
        "found by token, not by its shared name"
    );
}
