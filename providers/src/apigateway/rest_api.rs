//! `aws:apigateway:RestApi`: a REST API whose routes invoke Lambda functions, with CORS, a deployment and a
//! stage.
//!
//! Routes become resources (created along each path), methods and AWS_PROXY integrations. `cors` adds an
//! OPTIONS method with a MOCK integration on every routed resource, answering the Access-Control-Allow-*
//! headers. Any change to routes or CORS rebuilds the resources and methods with put calls (moto has no
//! UpdateMethod/UpdateIntegration, and put works on AWS too) and deploys again; name and description are
//! patched; throttling is a stage setting. REST API names are not unique, so creates are tagged with the
//! create token and found by it.

use stackr_engine::schema::{PropType, Property, ResourceSchema};

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
        .property(Property::string("stageName").default("api"))
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

#[cfg(feature = "aws")]
pub use calls::RestApiProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::{BTreeMap, HashMap};

    use async_trait::async_trait;
    use aws_sdk_apigateway::types::{
        EndpointConfiguration, EndpointType, IntegrationType, Op, PatchOperation, Resource,
    };
    use aws_sdk_apigateway::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;
    use tokio::sync::OnceCell;

    use crate::aws::{api_error, found, is_not_found, still_there};
    use crate::inputs::{outputs, parse, tag_changes, tags_value};
    use crate::TOKEN_TAG;

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct ApiInputs {
        name: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        routes: Vec<Route>,
        cors: Option<Cors>,
        #[serde(default = "default_stage")]
        stage_name: String,
        throttle: Option<Throttle>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    struct Route {
        path: String,
        method: String,
        function: String,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Cors {
        allow_origins: Vec<String>,
        allow_methods: Option<Vec<String>>,
        allow_headers: Option<Vec<String>>,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Throttle {
        rate_limit: f64,
        burst_limit: i32,
    }

    fn default_stage() -> String {
        "api".into()
    }

    const DEFAULT_HEADERS: &str = "Content-Type,X-Amz-Date,Authorization,X-Api-Key";

    pub struct RestApiProvider {
        schema: ResourceSchema,
        client: Client,
        sts: aws_sdk_sts::Client,
        region: String,
        account: OnceCell<String>,
    }

    fn patch(op: Op, path: &str, value: Option<String>) -> PatchOperation {
        PatchOperation::builder().op(op).path(path).set_value(value).build()
    }

    /// `/chat/{id}` → ["chat", "{id}"].
    fn segments(path: &str) -> Vec<&str> {
        path.split('/').filter(|s| !s.is_empty()).collect()
    }

    impl RestApiProvider {
        pub fn new(config: &aws_config::SdkConfig) -> RestApiProvider {
            RestApiProvider::with_client(Client::new(config), config)
        }

        /// A provider on a given API Gateway client (tests use mocked clients).
        pub fn with_client(client: Client, config: &aws_config::SdkConfig) -> RestApiProvider {
            RestApiProvider {
                schema: super::schema(),
                client,
                sts: aws_sdk_sts::Client::new(config),
                region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
                account: OnceCell::new(),
            }
        }

        async fn account(&self) -> Result<&str, ProviderError> {
            self.account
                .get_or_try_init(|| async {
                    let identity =
                        self.sts.get_caller_identity().send().await.map_err(|e| api_error("GetCallerIdentity", e))?;
                    Ok::<_, ProviderError>(identity.account().unwrap_or_default().to_string())
                })
                .await
                .map(String::as_str)
        }

        async fn outputs(
            &self,
            id: &str,
            root: Option<String>,
            stage: &str,
            deployment: Option<String>,
        ) -> Result<Value, ProviderError> {
            let account = self.account().await?;
            Ok(outputs([
                ("id", Some(id.to_string())),
                ("rootResourceId", root),
                ("url", Some(format!("https://{id}.execute-api.{}.amazonaws.com/{stage}", self.region))),
                ("executionArn", Some(format!("arn:aws:execute-api:{}:{account}:{id}", self.region))),
                ("deploymentId", deployment),
            ]))
        }

        async fn resources(&self, api: &str) -> Result<Vec<Resource>, ProviderError> {
            let mut all = Vec::new();
            let mut position: Option<String> = None;
            loop {
                let page = self
                    .client
                    .get_resources()
                    .rest_api_id(api)
                    .limit(500)
                    .set_position(position.clone())
                    .send()
                    .await
                    .map_err(|e| api_error("GetResources", e))?;
                all.extend(page.items().iter().cloned());
                match page.position() {
                    Some(p) if Some(p) != position.as_deref() && !page.items().is_empty() => {
                        position = Some(p.to_string())
                    }
                    _ => break,
                }
            }
            Ok(all)
        }

        /// Creates resources, methods and integrations for every route, and CORS preflights.
        async fn build_routes(&self, api: &str, input: &ApiInputs) -> Result<(), ProviderError> {
            let existing = self.resources(api).await?;
            let mut ids: BTreeMap<String, String> =
                existing.iter().filter_map(|r| Some((r.path()?.to_string(), r.id()?.to_string()))).collect();
            let mut routed: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for route in &input.routes {
                let mut path = String::new();
                let mut parent = ids
                    .get("/")
                    .cloned()
                    .ok_or_else(|| ProviderError::Other(format!("REST API {api} has no root resource")))?;
                for segment in segments(&route.path) {
                    path.push('/');
                    path.push_str(segment);
                    parent = match ids.get(&path) {
                        Some(id) => id.clone(),
                        None => {
                            let created = self
                                .client
                                .create_resource()
                                .rest_api_id(api)
                                .parent_id(&parent)
                                .path_part(segment)
                                .send()
                                .await
                                .map_err(|e| api_error("CreateResource", e))?;
                            let id = created.id().unwrap_or_default().to_string();
                            ids.insert(path.clone(), id.clone());
                            id
                        }
                    };
                }
                let resource = parent;
                let method = route.method.to_uppercase();
                self.client
                    .put_method()
                    .rest_api_id(api)
                    .resource_id(&resource)
                    .http_method(&method)
                    .authorization_type("NONE")
                    .send()
                    .await
                    .map_err(|e| api_error("PutMethod", e))?;
                let uri = format!(
                    "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{}/invocations",
                    self.region, route.function
                );
                self.client
                    .put_integration()
                    .rest_api_id(api)
                    .resource_id(&resource)
                    .http_method(&method)
                    .r#type(IntegrationType::AwsProxy)
                    .integration_http_method("POST")
                    .uri(uri)
                    .send()
                    .await
                    .map_err(|e| api_error("PutIntegration", e))?;
                routed.entry(resource).or_default().push(method);
            }
            if let Some(cors) = &input.cors {
                for (resource, methods) in &routed {
                    self.put_preflight(api, resource, cors, methods).await?;
                }
            }
            Ok(())
        }

        async fn put_preflight(
            &self,
            api: &str,
            resource: &str,
            cors: &Cors,
            methods: &[String],
        ) -> Result<(), ProviderError> {
            let allow_methods = cors.allow_methods.clone().unwrap_or_else(|| {
                let mut m: Vec<String> = methods.to_vec();
                m.push("OPTIONS".into());
                m
            });
            let headers =
                cors.allow_headers.as_ref().map(|h| h.join(",")).unwrap_or_else(|| DEFAULT_HEADERS.to_string());
            let names = ["Access-Control-Allow-Headers", "Access-Control-Allow-Methods", "Access-Control-Allow-Origin"];
            let values = [headers, allow_methods.join(","), cors.allow_origins.join(",")];
            self.client
                .put_method()
                .rest_api_id(api)
                .resource_id(resource)
                .http_method("OPTIONS")
                .authorization_type("NONE")
                .send()
                .await
                .map_err(|e| api_error("PutMethod", e))?;
            self.client
                .put_integration()
                .rest_api_id(api)
                .resource_id(resource)
                .http_method("OPTIONS")
                .r#type(IntegrationType::Mock)
                .set_request_templates(Some(HashMap::from([(
                    "application/json".to_string(),
                    "{\"statusCode\": 200}".to_string(),
                )])))
                .send()
                .await
                .map_err(|e| api_error("PutIntegration", e))?;
            let method_parameters: HashMap<String, bool> =
                names.iter().map(|n| (format!("method.response.header.{n}"), false)).collect();
            self.client
                .put_method_response()
                .rest_api_id(api)
                .resource_id(resource)
                .http_method("OPTIONS")
                .status_code("200")
                .set_response_parameters(Some(method_parameters))
                .set_response_models(Some(HashMap::from([("application/json".to_string(), "Empty".to_string())])))
                .send()
                .await
                .map_err(|e| api_error("PutMethodResponse", e))?;
            let integration_parameters: HashMap<String, String> = names
                .iter()
                .zip(values.iter())
                .map(|(n, v)| (format!("method.response.header.{n}"), format!("'{v}'")))
                .collect();
            self.client
                .put_integration_response()
                .rest_api_id(api)
                .resource_id(resource)
                .http_method("OPTIONS")
                .status_code("200")
                .set_response_parameters(Some(integration_parameters))
                .send()
                .await
                .map_err(|e| api_error("PutIntegrationResponse", e))?;
            Ok(())
        }

        /// Removes every route: the root's methods and every resource below it, deepest first (moto does not
        /// delete children with their parent; AWS accepts either order).
        async fn clear_routes(&self, api: &str) -> Result<(), ProviderError> {
            let mut resources = self.resources(api).await?;
            resources.sort_by_key(|r| std::cmp::Reverse(r.path().map(|p| segments(p).len()).unwrap_or(0)));
            for resource in &resources {
                let (Some(id), Some(path)) = (resource.id(), resource.path()) else { continue };
                if path == "/" {
                    for method in
                        resource.resource_methods().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
                    {
                        self.client
                            .delete_method()
                            .rest_api_id(api)
                            .resource_id(id)
                            .http_method(&method)
                            .send()
                            .await
                            .map_err(|e| api_error("DeleteMethod", e))?;
                    }
                } else {
                    match self.client.delete_resource().rest_api_id(api).resource_id(id).send().await {
                        Ok(_) => {}
                        Err(e) => {
                            let error = api_error("DeleteResource", e);
                            if !is_not_found(&error) {
                                return Err(error);
                            }
                        }
                    }
                }
            }
            Ok(())
        }

        async fn deploy(&self, api: &str, input: &ApiInputs) -> Result<String, ProviderError> {
            let deployment = self
                .client
                .create_deployment()
                .rest_api_id(api)
                .stage_name(&input.stage_name)
                .description("stackr")
                .send()
                .await
                .map_err(|e| api_error("CreateDeployment", e))?;
            let id = deployment.id().unwrap_or_default().to_string();
            // Re-point the stage explicitly: CreateDeployment does not move an existing stage everywhere.
            self.client
                .update_stage()
                .rest_api_id(api)
                .stage_name(&input.stage_name)
                .patch_operations(patch(Op::Replace, "/deploymentId", Some(id.clone())))
                .send()
                .await
                .map_err(|e| api_error("UpdateStage", e))?;
            self.set_throttle(api, input).await?;
            Ok(id)
        }

        async fn set_throttle(&self, api: &str, input: &ApiInputs) -> Result<(), ProviderError> {
            let Some(throttle) = &input.throttle else { return Ok(()) };
            self.client
                .update_stage()
                .rest_api_id(api)
                .stage_name(&input.stage_name)
                .patch_operations(patch(
                    Op::Replace,
                    "/*/*/throttling/rateLimit",
                    Some(throttle.rate_limit.to_string()),
                ))
                .patch_operations(patch(
                    Op::Replace,
                    "/*/*/throttling/burstLimit",
                    Some(throttle.burst_limit.to_string()),
                ))
                .send()
                .await
                .map_err(|e| api_error("UpdateStage", e))?;
            Ok(())
        }

        async fn observe(&self, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let api = match self.client.get_rest_api().rest_api_id(id).send().await {
                Ok(api) => api,
                Err(e) => {
                    let error = api_error("GetRestApi", e);
                    return if is_not_found(&error) { Ok(None) } else { Err(error) };
                }
            };
            let declared: Option<ApiInputs> = serde_json::from_value(prior.reveal().to_json()).ok();
            let resources = self.resources(id).await?;
            let root = resources.iter().find(|r| r.path() == Some("/")).and_then(|r| r.id()).map(str::to_string);
            let mut routes = Vec::new();
            let mut preflight: Option<(String, Vec<String>)> = None;
            for resource in &resources {
                let (Some(resource_id), Some(path)) = (resource.id(), resource.path()) else { continue };
                let mut methods: Vec<String> =
                    resource.resource_methods().map(|m| m.keys().cloned().collect()).unwrap_or_default();
                methods.sort();
                for method in methods {
                    if method == "OPTIONS" {
                        preflight.get_or_insert((resource_id.to_string(), Vec::new()));
                        continue;
                    }
                    // A method without its integration (a run stopped between the two calls) is a route to nothing:
                    // drift, which the next apply rebuilds, not an error that blocks every plan.
                    let integration = found(
                        self.client
                            .get_integration()
                            .rest_api_id(id)
                            .resource_id(resource_id)
                            .http_method(&method)
                            .send()
                            .await
                            .map_err(|e| api_error("GetIntegration", e)),
                    )?;
                    let function = integration
                        .as_ref()
                        .and_then(|i| i.uri())
                        .and_then(|u| u.split("/functions/").nth(1))
                        .map(|u| u.trim_end_matches("/invocations").to_string())
                        .unwrap_or_default();
                    routes.push(Route { path: path.to_string(), method, function });
                }
            }
            if let Some(d) = &declared {
                let order = |r: &Route| {
                    d.routes
                        .iter()
                        .position(|x| x.path == r.path && x.method.eq_ignore_ascii_case(&r.method))
                        .unwrap_or(usize::MAX)
                };
                routes.sort_by_key(order);
            }
            let cors = match preflight {
                Some((resource_id, _)) => {
                    // A preflight whose integration response was never written (a run stopped mid-way) allows no
                    // origin: drift, rebuilt by the next apply.
                    let response = found(
                        self.client
                            .get_integration_response()
                            .rest_api_id(id)
                            .resource_id(&resource_id)
                            .http_method("OPTIONS")
                            .status_code("200")
                            .send()
                            .await
                            .map_err(|e| api_error("GetIntegrationResponse", e)),
                    )?;
                    let parameters =
                        response.as_ref().and_then(|r| r.response_parameters()).cloned().unwrap_or_default();
                    let header = |name: &str| {
                        parameters
                            .get(&format!("method.response.header.{name}"))
                            .map(|v| v.trim_matches('\'').split(',').map(str::to_string).collect::<Vec<_>>())
                    };
                    let declared_cors = declared.as_ref().and_then(|d| d.cors.clone());
                    Some(Cors {
                        allow_origins: header("Access-Control-Allow-Origin").unwrap_or_default(),
                        allow_methods: declared_cors
                            .as_ref()
                            .and_then(|c| c.allow_methods.as_ref())
                            .and(header("Access-Control-Allow-Methods")),
                        allow_headers: declared_cors
                            .as_ref()
                            .and_then(|c| c.allow_headers.as_ref())
                            .and(header("Access-Control-Allow-Headers")),
                    })
                }
                None => None,
            };
            let stage_name = declared.as_ref().map(|d| d.stage_name.clone()).unwrap_or_else(default_stage);
            let stage = match self.client.get_stage().rest_api_id(id).stage_name(&stage_name).send().await {
                Ok(stage) => Some(stage),
                Err(e) => {
                    let error = api_error("GetStage", e);
                    if is_not_found(&error) {
                        None
                    } else {
                        return Err(error);
                    }
                }
            };
            let throttle = stage.as_ref().and_then(|s| s.method_settings()).and_then(|m| m.get("*/*")).and_then(|m| {
                (m.throttling_burst_limit() > 0 || m.throttling_rate_limit() > 0.0).then(|| Throttle {
                    rate_limit: m.throttling_rate_limit(),
                    burst_limit: m.throttling_burst_limit(),
                })
            });
            let mut tags: BTreeMap<String, String> =
                api.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
            tags.retain(|k, _| !k.starts_with("stackr:"));

            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(api.name().unwrap_or_default())),
                ("description".to_string(), Value::string(api.description().unwrap_or_default())),
                // Without routes there is no deployment and so no stage: nothing to compare.
                (
                    "stageName".to_string(),
                    Value::String(if stage.is_some() || routes.is_empty() {
                        stage_name.clone()
                    } else {
                        "(missing)".into()
                    }),
                ),
            ]);
            if !routes.is_empty() || declared.as_ref().is_some_and(|d| !d.routes.is_empty()) {
                inputs.insert(
                    "routes".into(),
                    Value::List(
                        routes
                            .iter()
                            .map(|r| {
                                Value::Map(BTreeMap::from([
                                    ("path".to_string(), Value::string(&r.path)),
                                    ("method".to_string(), Value::string(&r.method)),
                                    ("function".to_string(), Value::string(&r.function)),
                                ]))
                            })
                            .collect(),
                    ),
                );
            }
            if let Some(cors) = cors {
                let list = |v: &[String]| Value::List(v.iter().map(Value::string).collect());
                let mut map = BTreeMap::from([("allowOrigins".to_string(), list(&cors.allow_origins))]);
                if let Some(m) = &cors.allow_methods {
                    map.insert("allowMethods".into(), list(m));
                }
                if let Some(h) = &cors.allow_headers {
                    map.insert("allowHeaders".into(), list(h));
                }
                inputs.insert("cors".into(), Value::Map(map));
            }
            if let Some(t) = &throttle {
                let rate = serde_json::Number::from_f64(t.rate_limit).map(Value::Number).unwrap_or(Value::Null);
                inputs.insert(
                    "throttle".into(),
                    Value::Map(BTreeMap::from([
                        ("rateLimit".to_string(), rate),
                        ("burstLimit".to_string(), Value::from(i64::from(t.burst_limit))),
                    ])),
                );
            }
            if let Some(tags) = tags_value(tags) {
                inputs.insert("tags".into(), tags);
            }
            let deployment = stage.as_ref().and_then(|s| s.deployment_id()).map(str::to_string);
            Ok(Some(Observed {
                create_token: None,
                id: id.to_string(),
                inputs: Value::Map(inputs),
                outputs: self.outputs(id, root, &stage_name, deployment).await?,
            }))
        }
    }

    #[async_trait]
    impl Provider for RestApiProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: ApiInputs = parse(self.schema.type_name, inputs)?;
            let mut tags: HashMap<String, String> = input.tags.clone().into_iter().collect();
            if let Some(token) = &cx.create_token {
                tags.insert(TOKEN_TAG.to_string(), token.clone());
            }
            let created = self
                .client
                .create_rest_api()
                .name(&input.name)
                .description(&input.description)
                .endpoint_configuration(EndpointConfiguration::builder().types(EndpointType::Regional).build())
                .set_tags(Some(tags))
                // Not retried by the SDK: a retry after a lost answer would make a second API (names are not unique);
                // the engine looks it up by its create token first.
                .customize()
                .config_override(aws_sdk_apigateway::config::Config::builder().retry_config(crate::aws::no_retries()))
                .send()
                .await
                .map_err(|e| api_error("CreateRestApi", e))?;
            let id = created.id().unwrap_or_default().to_string();
            self.build_routes(&id, &input).await?;
            // An API without methods cannot be deployed; its stage comes with its first route.
            let deployment = if input.routes.is_empty() { None } else { Some(self.deploy(&id, &input).await?) };
            let root = created.root_resource_id().map(str::to_string);
            Ok(Created { id: id.clone(), outputs: self.outputs(&id, root, &input.stage_name, deployment).await? })
        }

        async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, prior).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            prior: &Value,
            desired: &Value,
            changed: &[String],
        ) -> Result<Value, ProviderError> {
            let old: ApiInputs = parse(self.schema.type_name, prior)?;
            let new: ApiInputs = parse(self.schema.type_name, desired)?;
            let changed = |p: &str| changed.iter().any(|c| c == p);
            if changed("name") || changed("description") {
                self.client
                    .update_rest_api()
                    .rest_api_id(id)
                    .patch_operations(patch(Op::Replace, "/name", Some(new.name.clone())))
                    .patch_operations(patch(Op::Replace, "/description", Some(new.description.clone())))
                    .send()
                    .await
                    .map_err(|e| api_error("UpdateRestApi", e))?;
            }
            if changed("routes") || changed("cors") {
                self.clear_routes(id).await?;
                self.build_routes(id, &new).await?;
            }
            if (changed("routes") || changed("cors") || changed("stageName")) && !new.routes.is_empty() {
                self.deploy(id, &new).await?;
                if old.stage_name != new.stage_name {
                    let _ = self.client.delete_stage().rest_api_id(id).stage_name(&old.stage_name).send().await;
                }
            } else if changed("throttle") {
                self.set_throttle(id, &new).await?;
            }
            if changed("tags") {
                let arn = format!("arn:aws:apigateway:{}::/restapis/{id}", self.region);
                let (set, remove) = tag_changes(&old.tags, &new.tags);
                if !set.is_empty() {
                    self.client
                        .tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(set.into_iter().collect()))
                        .send()
                        .await
                        .map_err(|e| api_error("TagResource", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_resource()
                        .resource_arn(&arn)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagResource", e))?;
                }
            }
            let observed = still_there(self.observe(id, desired).await?, "REST API", id)?;
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            match self.client.delete_rest_api().rest_api_id(id).send().await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let error = api_error("DeleteRestApi", e);
                    if is_not_found(&error) {
                        return Ok(());
                    }
                    // Some endpoints answer a delete of a missing API with a 5xx: it is gone if a read says so.
                    match self
                        .client
                        .get_rest_api()
                        .rest_api_id(id)
                        .send()
                        .await
                        .map_err(|e| api_error("GetRestApi", e))
                    {
                        Err(read) if is_not_found(&read) => Ok(()),
                        _ => Err(error),
                    }
                }
            }
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            // Every page: an account may hold more APIs than one page returns.
            let apis: Vec<_> = self
                .client
                .get_rest_apis()
                .limit(500)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| api_error("GetRestApis", e))?;
            let found =
                apis.iter().find(|a| a.tags().and_then(|t| t.get(TOKEN_TAG)).map(String::as_str) == Some(token));
            match found.and_then(|a| a.id()) {
                // Found by its token tag: say so, so that a failed create adopts it.
                Some(id) => {
                    Ok(self.observe(id, inputs).await?.map(|o| Observed { create_token: Some(token.to_string()), ..o }))
                }
                None => Ok(None),
            }
        }
    }
}
