//! Error and retry paths that moto cannot produce, against SDK clients mocked with aws-smithy-mocks: throttling
//! retried with backoff, not-found meaning gone, a non-retryable error reported once with its operation and code,
//! a new role that Lambda cannot assume yet, a table that is still CREATING, a secret already marked for deletion.

use std::time::Duration;

use aws_smithy_mocks::{mock, mock_client, RuleMode};
use stackr_engine::provider::{CallContext, Provider, ProviderError};
use stackr_engine::value::Value;

use crate::resource::Typed;

fn cx() -> CallContext {
    CallContext { stack: "s".into(), resource: "r".into(), create_token: Some("stackr-token".into()), made: None }
}

fn json(value: serde_json::Value) -> Value {
    Value::from_json(&value)
}

/// Error metadata as the SDK fills it from a real response (builders leave it empty).
fn meta(code: &str, message: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder().code(code).message(message).build()
}

fn throttled() -> Option<String> {
    Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string())
}

#[tokio::test]
async fn create_key_is_never_retried_by_the_sdk() {
    // A retry after a lost answer would make a second key: one attempt, and the error says it may be retried,
    // for the engine to look the key up by its create token first (apply/create.rs).
    let create = mock!(aws_sdk_kms::Client::create_key).sequence().http_status(400, throttled()).times(3).build();
    let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&create], |b| b.retry_config(
        aws_sdk_kms::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
    ));
    let provider = Typed::new(crate::kms::key::schema(), crate::kms::key::Key::with_client(client));
    let error = provider.create(&cx(), &json(serde_json::json!({"description": "d"}))).await.unwrap_err();
    assert_eq!(error.to_string(), "CreateKey failed: ThrottlingException: Rate exceeded");
    assert_eq!(error.class(), stackr_engine::provider::ErrorClass::Throttled, "{error:?}");
    assert_eq!(create.num_calls(), 1, "the SDK did not retry it");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    use aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesOutput;
    use aws_sdk_sns::operation::list_tags_for_resource::ListTagsForResourceOutput;
    let attributes = mock!(aws_sdk_sns::Client::get_topic_attributes)
        .sequence()
        .http_status(400, Some("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>".to_string()))
        .times(2)
        .output(|| {
            GetTopicAttributesOutput::builder()
                .attributes("TopicArn", "arn:aws:sns:us-east-1:1:t")
                .build()
        })
        .build();
    let tags =
        mock!(aws_sdk_sns::Client::list_tags_for_resource).then_output(|| ListTagsForResourceOutput::builder().build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&attributes, &tags], |b| b.retry_config(
        aws_sdk_sns::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
    ));
    let provider = Typed::new(crate::sns::topic::schema(), crate::sns::topic::Topic::with_client(client));
    let observed = provider.read(&cx(), "arn:aws:sns:us-east-1:1:t", &Value::Null).await.unwrap();
    assert!(observed.is_some());
    assert_eq!(attributes.num_calls(), 3, "two throttled attempts, then success");
}

#[tokio::test]
async fn not_found_on_read_means_gone() {
    use aws_sdk_kms::operation::describe_key::DescribeKeyError;
    use aws_sdk_kms::types::error::NotFoundException;
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_error(|| {
        let message = "Key 'x' does not exist";
        DescribeKeyError::NotFoundException(
            NotFoundException::builder().message(message).meta(meta("NotFoundException", message)).build(),
        )
    });
    let client = mock_client!(aws_sdk_kms, [&describe]);
    let provider = Typed::new(crate::kms::key::schema(), crate::kms::key::Key::with_client(client));
    assert_eq!(provider.read(&cx(), "x", &Value::Null).await.unwrap(), None);
}

#[tokio::test]
async fn a_non_retryable_error_is_reported_once_with_operation_and_code() {
    let delete = mock!(aws_sdk_dynamodb::Client::delete_table).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"User: x is not authorized to perform: dynamodb:DeleteTable"}"#,
            ),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, [&delete]);
    let provider = Typed::new(crate::dynamodb::table::schema(), crate::dynamodb::table::Table::with_client(client));
    let error = provider.delete(&cx(), "t", &Value::Null).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "DeleteTable failed: AccessDeniedException: User: x is not authorized to perform: dynamodb:DeleteTable"
    );
    assert!(matches!(error, ProviderError::Api { retryable: false, .. }));
    assert_eq!(delete.num_calls(), 1);
}

/// GetFunction's answer for a function `f` that exists.
fn function_f() -> aws_sdk_lambda::operation::get_function::GetFunctionOutput {
    aws_sdk_lambda::operation::get_function::GetFunctionOutput::builder()
        .configuration(
            aws_sdk_lambda::types::FunctionConfiguration::builder()
                .function_name("f")
                .function_arn("arn:aws:lambda:us-east-1:1:function:f")
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_new_role_not_yet_assumable_is_retried_then_the_function_is_waited_for() {
    use aws_sdk_lambda::operation::create_function::{CreateFunctionError, CreateFunctionOutput};
    use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
    use aws_sdk_lambda::types::error::InvalidParameterValueException;
    use aws_sdk_lambda::types::State;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("handler.py"), "def handler(e, c):\n    return 1\n").unwrap();
    let create = mock!(aws_sdk_lambda::Client::create_function)
        .sequence()
        .error(|| {
            let message = "The role defined for the function cannot be assumed by Lambda.";
            CreateFunctionError::InvalidParameterValueException(
                InvalidParameterValueException::builder()
                    .message(message)
                    .meta(meta("InvalidParameterValueException", message))
                    .build(),
            )
        })
        .output(|| {
            CreateFunctionOutput::builder()
                .function_arn("arn:aws:lambda:us-east-1:1:function:f")
                .code_sha256("abc")
                .version("$LATEST")
                .build()
        })
        .build();
    let ready = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .sequence()
        .output(|| GetFunctionConfigurationOutput::builder().state(State::Pending).build())
        .output(|| GetFunctionConfigurationOutput::builder().state(State::Active).build())
        .build();
    // Read back once created.
    let read = mock!(aws_sdk_lambda::Client::get_function).then_output(function_f);
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&create, &ready, &read]);
    let function = crate::lambda::function::Function::with_client(client, "us-east-1".into());
    let provider = Typed::new(crate::lambda::function::schema(), function);
    let inputs = json(serde_json::json!({
        "name": "f", "runtime": "python3.12", "handler": "handler.handler", "role": "arn:aws:iam::1:role/new",
        "code": {"path": dir.path().to_string_lossy(), "sha256": "x"}
    }));
    let created = provider.create(&cx(), &inputs).await.unwrap();
    assert_eq!(created.id, "f");
    assert_eq!((create.num_calls(), ready.num_calls()), (2, 2), "retried once, then waited until Active");
}

#[tokio::test]
async fn a_table_is_waited_for_until_active() {
    use aws_sdk_dynamodb::operation::create_table::CreateTableOutput;
    use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::describe_time_to_live::DescribeTimeToLiveOutput;
    use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
    use aws_sdk_dynamodb::types::{
        ContinuousBackupsDescription, ContinuousBackupsStatus, TableDescription, TableStatus,
    };
    let table = |status: TableStatus| {
        DescribeTableOutput::builder()
            .table(
                TableDescription::builder()
                    .table_name("t")
                    .table_arn("arn:aws:dynamodb:us-east-1:1:table/t")
                    .table_status(status)
                    .build(),
            )
            .build()
    };
    let create = mock!(aws_sdk_dynamodb::Client::create_table).then_output(|| CreateTableOutput::builder().build());
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .sequence()
        .output(move || table(TableStatus::Creating))
        .times(2)
        .output(move || table(TableStatus::Active))
        .repeatedly()
        .build();
    let ttl = mock!(aws_sdk_dynamodb::Client::describe_time_to_live)
        .then_output(|| DescribeTimeToLiveOutput::builder().build());
    let backups = mock!(aws_sdk_dynamodb::Client::describe_continuous_backups).then_output(|| {
        DescribeContinuousBackupsOutput::builder()
            .continuous_backups_description(
                ContinuousBackupsDescription::builder()
                    .continuous_backups_status(ContinuousBackupsStatus::Disabled)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
        .then_output(|| ListTagsOfResourceOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&create, &describe, &ttl, &backups, &tags]);
    let provider = Typed::new(crate::dynamodb::table::schema(), crate::dynamodb::table::Table::with_client(client));
    let inputs = json(serde_json::json!({"name": "t", "hashKey": "id", "attributes": [{"name": "id", "type": "S"}]}));
    let created = provider.create(&cx(), &inputs).await.unwrap();
    assert_eq!(created.id, "t");
    assert!(describe.num_calls() >= 3, "polled through CREATING: {} calls", describe.num_calls());
}

#[tokio::test]
async fn deleting_a_secret_already_marked_for_deletion_succeeds() {
    use aws_sdk_secretsmanager::operation::delete_secret::DeleteSecretError;
    use aws_sdk_secretsmanager::types::error::InvalidRequestException;
    let delete = mock!(aws_sdk_secretsmanager::Client::delete_secret).then_error(|| {
        let message = "You can't perform this operation on the secret because it was marked for deletion.";
        DeleteSecretError::InvalidRequestException(
            InvalidRequestException::builder().message(message).meta(meta("InvalidRequestException", message)).build(),
        )
    });
    let client = mock_client!(aws_sdk_secretsmanager, [&delete]);
    let provider =
        Typed::new(crate::secretsmanager::secret::schema(), crate::secretsmanager::secret::Secret::with_client(client));
    provider.delete(&cx(), "arn:s", &json(serde_json::json!({"name": "s"}))).await.unwrap();
}

#[tokio::test]
async fn finding_an_interrupted_rest_api_reads_every_page() {
    use aws_sdk_apigateway::operation::get_rest_api::GetRestApiError;
    use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
    use aws_sdk_apigateway::types::error::NotFoundException;
    use aws_sdk_apigateway::types::RestApi;
    // An account with more APIs than one page: the one this create made is on the second page.
    let pages = mock!(aws_sdk_apigateway::Client::get_rest_apis)
        .sequence()
        .output(|| {
            GetRestApisOutput::builder()
                .items(RestApi::builder().id("other").name("other").build())
                .position("page-2")
                .build()
        })
        .output(|| {
            GetRestApisOutput::builder()
                .items(RestApi::builder().id("ours").name("api").tags(crate::TOKEN_TAG, "stackr-token").build())
                .build()
        })
        .build();
    let observe = mock!(aws_sdk_apigateway::Client::get_rest_api).then_error(|| {
        GetRestApiError::NotFoundException(
            NotFoundException::builder().message("gone").meta(meta("NotFoundException", "gone")).build(),
        )
    });
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, [&pages, &observe]);
    let config = aws_config::SdkConfig::builder().region(aws_config::Region::new("us-east-1")).build();
    let api = crate::apigateway::rest_api::RestApi::with_client(client, &config);
    let provider = Typed::new(crate::apigateway::rest_api::schema(), api);
    let inputs = json(serde_json::json!({"name": "api", "stageName": "v1"}));
    let _ = provider.find(&cx(), &inputs, "stackr-token").await;
    assert_eq!(pages.num_calls(), 2, "both pages read");
    assert_eq!(observe.num_calls(), 1, "the API on the second page was found and read");
}

/// moto ignores a change of tracing or architectures in place; AWS takes them in UpdateFunctionConfiguration and
/// UpdateFunctionCode, which is what is sent.
#[tokio::test]
async fn tracing_and_architectures_change_in_place() {
    use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
    use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput;
    use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput;
    use aws_sdk_lambda::types::{Architecture, State, TracingMode};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("handler.py"), "def handler(e, c):\n    return 1\n").unwrap();
    let code = mock!(aws_sdk_lambda::Client::update_function_code)
        .match_requests(|r| r.architectures() == [Architecture::Arm64])
        .then_output(|| UpdateFunctionCodeOutput::builder().build());
    let configuration = mock!(aws_sdk_lambda::Client::update_function_configuration)
        .match_requests(|r| r.tracing_config().and_then(|t| t.mode()) == Some(&TracingMode::Active))
        .then_output(|| UpdateFunctionConfigurationOutput::builder().build());
    let ready = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .then_output(|| GetFunctionConfigurationOutput::builder().state(State::Active).build());
    let read = mock!(aws_sdk_lambda::Client::get_function).then_output(function_f);
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&code, &configuration, &ready, &read]);
    let function = crate::lambda::function::Function::with_client(client, "us-east-1".into());
    let provider = Typed::new(crate::lambda::function::schema(), function);
    let function = |tracing: &str, architecture: &str| {
        json(serde_json::json!({
            "name": "f", "runtime": "python3.12", "handler": "handler.handler", "role": "arn:aws:iam::1:role/r",
            "code": {"path": dir.path().to_string_lossy(), "sha256": "x"},
            "tracing": tracing, "architectures": [architecture]
        }))
    };
    let changed = ["tracing".to_string(), "architectures".to_string()];
    let before = function("PassThrough", "x86_64");
    provider.update(&cx(), "f", &before, &function("Active", "arm64"), &changed).await.unwrap();
    assert_eq!((code.num_calls(), configuration.num_calls()), (1, 1), "both sent, with the new values");
}

/// `x` and `/x` have one ARN (`…:parameter/x`). moto takes them for one parameter; AWS keeps both. Importing by
/// that ARN when both exist is refused, naming both, rather than guessing.
#[tokio::test]
async fn a_parameter_arn_naming_two_parameters_is_refused() {
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    let both = mock!(aws_sdk_ssm::Client::get_parameter).then_output(|| {
        GetParameterOutput::builder().parameter(Parameter::builder().name("x").value("v").build()).build()
    });
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&both]);
    let provider = Typed::new(crate::ssm::parameter::schema(), crate::ssm::parameter::Parameter::with_client(client));
    let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/x";
    let error = provider.import(&cx(), arn).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("is the ARN of both `/x` and `x`: import by name"), "{error}");
}
