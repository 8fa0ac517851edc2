//! `aws:apigateway:RestApi`: a REST API whose routes invoke Lambda functions, with CORS, a deployment and a
//! stage.
//!
//! Routes become resources (created along each path), methods and AWS_PROXY integrations. `cors` adds an
//! OPTIONS method with a MOCK integration on every routed resource, answering the Access-Control-Allow-*
//! headers. Any change to routes or CORS rebuilds the resources and methods with put calls (moto has no
//! UpdateMethod/UpdateIntegration, and put works on AWS too) and deploys again; name and description are
//! patched; throttling is a stage setting. REST API names are not unique, so creates are tagged with the
//! create token and found by it.

use serde::Deserialize;
use stackr_engine::schema::{PropType, Property, ResourceSchema};

/// The stage a stack gets without naming one (the schema's default, and the inputs' fallback).
const DEFAULT_STAGE: &str = "api";

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:apigateway:RestApi", "A REST API (API Gateway v1) with Lambda routes and CORS")
        .property(Property::string("name").required())
        .property(Property::string("description").default(""))
        .property(Property::list(
            "routes",
            PropType::Object(vec![
                Property::string("path").required(),
                Property::string("method").required().allowed(HTTP_METHODS),
                Property::string("function").required().describe("ARN of the Lambda function"),
            ]),
        ))
        .property(Property::object(
            "cors",
            vec![
                Property::list("allowOrigins", PropType::String).required(),
                Property::list("allowMethods", PropType::String),
                Property::list("allowHeaders", PropType::String),
            ],
        ))
        .property(Property::string("stageName").default(DEFAULT_STAGE))
        .property(Property::object(
            "throttle",
            vec![Property::number("rateLimit").required(), Property::integer("burstLimit").required()],
        ))
        .property(Property::tags())
        .output("id", "The API's id")
        .output("rootResourceId", "The id of the `/` resource")
        .output("url", "The stage's invoke URL")
        .output("executionArn", "Prefix for permissions: arn:aws:execute-api:REGION:ACCOUNT:ID")
        .volatile_output("deploymentId", "The deployment the stage serves")
}
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct ApiInputs {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    routes: Vec<Route>,
    cors: Option<Cors>,
    #[serde(default = "default_stage")]
    stage_name: String,
    throttle: Option<Throttle>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Route {
    path: String,
    method: String,
    function: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    allow_origins: Vec<String>,
    allow_methods: Option<Vec<String>>,
    allow_headers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    rate_limit: f64,
    burst_limit: i32,
}

fn default_stage() -> String {
    DEFAULT_STAGE.into()
}

#[cfg(feature = "aws")]
const DEFAULT_HEADERS: &str = "Content-Type,X-Amz-Date,Authorization,X-Api-Key";
#[cfg(feature = "aws")]
mod calls;
#[cfg(feature = "aws")]
mod read;

#[cfg(feature = "aws")]
pub use calls::RestApi;
