//! The REST API's AWS calls: the API, its routes and CORS preflights, deployments and the stage.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType, Op, PatchOperation, Resource};
use aws_sdk_apigateway::Client;
use stackr_engine::provider::ProviderError;
use stackr_engine::value::Value;
use tokio::sync::OnceCell;

use super::{ApiInputs, Cors, DEFAULT_HEADERS};
use crate::aws::{api_error, is_not_found};
use crate::inputs::outputs;
use crate::resource::{self, Live, Made, Tags};
use crate::TOKEN_TAG;

pub struct RestApi {
    pub(super) client: Client,
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

impl RestApi {
    pub fn new(config: &aws_config::SdkConfig) -> RestApi {
        RestApi::with_client(Client::new(config), config)
    }

    /// On a given API Gateway client (tests use mocked clients).
    pub fn with_client(client: Client, config: &aws_config::SdkConfig) -> RestApi {
        RestApi {
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

    pub(super) async fn outputs(
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

    pub(super) async fn resources(&self, api: &str) -> Result<Vec<Resource>, ProviderError> {
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
                Some(p) if Some(p) != position.as_deref() && !page.items().is_empty() => position = Some(p.to_string()),
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
        let headers = cors.allow_headers.as_ref().map(|h| h.join(",")).unwrap_or_else(|| DEFAULT_HEADERS.to_string());
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
            .patch_operations(patch(Op::Replace, "/*/*/throttling/rateLimit", Some(throttle.rate_limit.to_string())))
            .patch_operations(patch(Op::Replace, "/*/*/throttling/burstLimit", Some(throttle.burst_limit.to_string())))
            .send()
            .await
            .map_err(|e| api_error("UpdateStage", e))?;
        Ok(())
    }
}

#[async_trait]
impl resource::Resource for RestApi {
    type Inputs = ApiInputs;

    async fn describe(&self, id: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
        self.live(id, prior).await
    }

    async fn create(&self, input: &ApiInputs, tags: &Tags) -> Result<Made, ProviderError> {
        let created = self
            .client
            .create_rest_api()
            .name(&input.name)
            .description(&input.description)
            .endpoint_configuration(EndpointConfiguration::builder().types(EndpointType::Regional).build())
            .set_tags(Some(tags.clone().into_iter().collect()))
            // Not retried by the SDK: a retry after a lost answer would make a second API (names are not unique);
            // the engine looks it up by its create token first.
            .customize()
            .config_override(aws_sdk_apigateway::config::Config::builder().retry_config(crate::aws::no_retries()))
            .send()
            .await
            .map_err(|e| api_error("CreateRestApi", e))?;
        Ok(created.id().unwrap_or_default().to_string().into())
    }

    /// The routes, their CORS preflights and, with routes, the deployment and its stage.
    async fn configure(&self, id: &str, input: &ApiInputs) -> Result<(), ProviderError> {
        self.build_routes(id, input).await?;
        // An API without methods cannot be deployed; its stage comes with its first route.
        if !input.routes.is_empty() {
            self.deploy(id, input).await?;
        }
        Ok(())
    }

    async fn update(
        &self,
        id: &str,
        old: &ApiInputs,
        new: &ApiInputs,
        changed: &[String],
    ) -> Result<(), ProviderError> {
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
            self.build_routes(id, new).await?;
        }
        if (changed("routes") || changed("cors") || changed("stageName")) && !new.routes.is_empty() {
            self.deploy(id, new).await?;
            if old.stage_name != new.stage_name {
                let _ = self.client.delete_stage().rest_api_id(id).stage_name(&old.stage_name).send().await;
            }
        } else if changed("throttle") {
            self.set_throttle(id, new).await?;
        }
        Ok(())
    }

    async fn retag(&self, id: &str, _: &Value, set: &Tags, remove: &[String]) -> Result<(), ProviderError> {
        let arn = format!("arn:aws:apigateway:{}::/restapis/{id}", self.region);
        if !set.is_empty() {
            let request =
                self.client.tag_resource().resource_arn(&arn).set_tags(Some(set.clone().into_iter().collect()));
            request.send().await.map_err(|e| api_error("TagResource", e))?;
        }
        if !remove.is_empty() {
            let request = self.client.untag_resource().resource_arn(&arn).set_tag_keys(Some(remove.to_vec()));
            request.send().await.map_err(|e| api_error("UntagResource", e))?;
        }
        Ok(())
    }

    async fn delete(&self, id: &str, _: Option<&ApiInputs>) -> Result<(), ProviderError> {
        let Err(error) =
            self.client.delete_rest_api().rest_api_id(id).send().await.map_err(|e| api_error("DeleteRestApi", e))
        else {
            return Ok(());
        };
        // Some endpoints answer a delete of a missing API with a 5xx: it is gone if a read says so.
        match self.client.get_rest_api().rest_api_id(id).send().await.map_err(|e| api_error("GetRestApi", e)) {
            Err(read) if is_not_found(&read) => Ok(()),
            _ => Err(error),
        }
    }

    /// REST API names are not unique: an interrupted create is found by its create-token tag, on every page
    /// (an account may hold more APIs than one page returns).
    async fn locate(&self, _: &ApiInputs, token: &str) -> Result<Option<String>, ProviderError> {
        let apis =
            self.client.get_rest_apis().limit(500).into_paginator().items().send().collect::<Result<Vec<_>, _>>().await;
        let apis = apis.map_err(|e| api_error("GetRestApis", e))?;
        let found = apis.iter().find(|a| a.tags().and_then(|t| t.get(TOKEN_TAG)).map(String::as_str) == Some(token));
        Ok(found.and_then(|a| a.id()).map(str::to_string))
    }
}
