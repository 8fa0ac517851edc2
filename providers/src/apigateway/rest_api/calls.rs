//! The REST API's AWS calls: the API, its routes and CORS preflights, deployments and the stage.

use std::collections::{BTreeMap, HashMap};

use crate::prelude::*;
use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType, Op, PatchOperation, Resource};
use aws_sdk_apigateway::Client;
use tokio::sync::OnceCell;

use super::{ApiInputs, Cors, DEFAULT_HEADERS};
use crate::aws::is_not_found;
use crate::resource;
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
                let identity = self.sts.get_caller_identity().send().await.call("GetCallerIdentity")?;
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
            let request = self.client.get_resources().rest_api_id(api).limit(500).set_position(position.clone());
            let page = request.send().await.call("GetResources")?;
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
                        let request = self.client.create_resource().rest_api_id(api).parent_id(&parent);
                        let created = request.path_part(segment).send().await.call("CreateResource")?;
                        let id = created.id().unwrap_or_default().to_string();
                        ids.insert(path.clone(), id.clone());
                        id
                    }
                };
            }
            let resource = parent;
            let method = route.method.to_uppercase();
            let request = self.client.put_method().rest_api_id(api).resource_id(&resource).http_method(&method);
            request.authorization_type("NONE").send().await.call("PutMethod")?;
            let uri = format!(
                "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{}/invocations",
                self.region, route.function
            );
            let request = self.client.put_integration().rest_api_id(api).resource_id(&resource).http_method(&method);
            let request = request.r#type(IntegrationType::AwsProxy).integration_http_method("POST").uri(uri);
            request.send().await.call("PutIntegration")?;
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
        let request = self.client.put_method().rest_api_id(api).resource_id(resource).http_method("OPTIONS");
        request.authorization_type("NONE").send().await.call("PutMethod")?;
        let template = HashMap::from([("application/json".to_string(), "{\"statusCode\": 200}".to_string())]);
        let request = self.client.put_integration().rest_api_id(api).resource_id(resource).http_method("OPTIONS");
        let request = request.r#type(IntegrationType::Mock).set_request_templates(Some(template));
        request.send().await.call("PutIntegration")?;
        let method_parameters: HashMap<String, bool> =
            names.iter().map(|n| (format!("method.response.header.{n}"), false)).collect();
        let models = HashMap::from([("application/json".to_string(), "Empty".to_string())]);
        let request = self.client.put_method_response().rest_api_id(api).resource_id(resource).http_method("OPTIONS");
        let request = request.status_code("200").set_response_parameters(Some(method_parameters));
        request.set_response_models(Some(models)).send().await.call("PutMethodResponse")?;
        let integration_parameters: HashMap<String, String> = names
            .iter()
            .zip(values.iter())
            .map(|(n, v)| (format!("method.response.header.{n}"), format!("'{v}'")))
            .collect();
        let request = self.client.put_integration_response().rest_api_id(api).resource_id(resource);
        let request =
            request.http_method("OPTIONS").status_code("200").set_response_parameters(Some(integration_parameters));
        request.send().await.call("PutIntegrationResponse").map(drop)
    }

    /// Removes every route: the root's methods and every resource below it, deepest first (moto does not
    /// delete children with their parent; AWS accepts either order).
    async fn clear_routes(&self, api: &str) -> Result<(), ProviderError> {
        let mut resources = self.resources(api).await?;
        resources.sort_by_key(|r| std::cmp::Reverse(r.path().map(|p| segments(p).len()).unwrap_or(0)));
        for resource in &resources {
            let (Some(id), Some(path)) = (resource.id(), resource.path()) else { continue };
            if path == "/" {
                for method in resource.resource_methods().into_iter().flat_map(|m| m.keys()) {
                    let request = self.client.delete_method().rest_api_id(api).resource_id(id).http_method(method);
                    request.send().await.call("DeleteMethod")?;
                }
            } else {
                let deleted = self.client.delete_resource().rest_api_id(api).resource_id(id).send().await;
                found(deleted.call("DeleteResource"))?;
            }
        }
        Ok(())
    }

    async fn deploy(&self, api: &str, input: &ApiInputs) -> Result<String, ProviderError> {
        let request = self.client.create_deployment().rest_api_id(api).stage_name(&input.stage_name);
        let deployment = request.description("stackr").send().await.call("CreateDeployment")?;
        let id = deployment.id().unwrap_or_default().to_string();
        // Re-point the stage explicitly: CreateDeployment does not move an existing stage everywhere.
        let request = self.client.update_stage().rest_api_id(api).stage_name(&input.stage_name);
        let request = request.patch_operations(patch(Op::Replace, "/deploymentId", Some(id.clone())));
        request.send().await.call("UpdateStage")?;
        self.set_throttle(api, input).await?;
        Ok(id)
    }

    async fn set_throttle(&self, api: &str, input: &ApiInputs) -> Result<(), ProviderError> {
        let Some(throttle) = &input.throttle else { return Ok(()) };
        let request = self.client.update_stage().rest_api_id(api).stage_name(&input.stage_name);
        let request = request
            .patch_operations(patch(Op::Replace, "/*/*/throttling/rateLimit", Some(throttle.rate_limit.to_string())))
            .patch_operations(patch(Op::Replace, "/*/*/throttling/burstLimit", Some(throttle.burst_limit.to_string())));
        request.send().await.call("UpdateStage").map(drop)
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
            .call("CreateRestApi")?;
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

    async fn update(&self, id: &str, change: Update<'_, ApiInputs>) -> Result<(), ProviderError> {
        let Update { old, new, .. } = change;
        if change.any(&["name", "description"]) {
            let request = self.client.update_rest_api().rest_api_id(id);
            let request = request.patch_operations(patch(Op::Replace, "/name", Some(new.name.clone())));
            let request = request.patch_operations(patch(Op::Replace, "/description", Some(new.description.clone())));
            request.send().await.call("UpdateRestApi")?;
        }
        if change.any(&["routes", "cors"]) {
            self.clear_routes(id).await?;
            self.build_routes(id, new).await?;
        }
        if (change.any(&["routes", "cors", "stageName"])) && !new.routes.is_empty() {
            self.deploy(id, new).await?;
            if old.stage_name != new.stage_name {
                let _ = self.client.delete_stage().rest_api_id(id).stage_name(&old.stage_name).send().await;
            }
        } else if change.any(&["throttle"]) {
            self.set_throttle(id, new).await?;
        }
        Ok(())
    }

    async fn tag(&self, id: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
        let arn = format!("arn:aws:apigateway:{}::/restapis/{id}", self.region);
        let request = self.client.tag_resource().resource_arn(&arn).set_tags(Some(set.clone().into_iter().collect()));
        request.send().await.call("TagResource").map(drop)
    }

    async fn untag(&self, id: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
        let arn = format!("arn:aws:apigateway:{}::/restapis/{id}", self.region);
        let request = self.client.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys.to_vec()));
        request.send().await.call("UntagResource").map(drop)
    }

    async fn delete(&self, id: &str, _: Option<&ApiInputs>) -> Result<(), ProviderError> {
        let Err(error) = self.client.delete_rest_api().rest_api_id(id).send().await.call("DeleteRestApi") else {
            return Ok(());
        };
        // Some endpoints answer a delete of a missing API with a 5xx: it is gone if a read says so.
        match self.client.get_rest_api().rest_api_id(id).send().await.call("GetRestApi") {
            Err(read) if is_not_found(&read) => Ok(()),
            _ => Err(error),
        }
    }

    /// REST API names are not unique: an interrupted create is found by its create-token tag, on every page
    /// (an account may hold more APIs than one page returns).
    async fn locate(&self, _: &ApiInputs, token: &str) -> Result<Option<String>, ProviderError> {
        let apis =
            self.client.get_rest_apis().limit(500).into_paginator().items().send().collect::<Result<Vec<_>, _>>().await;
        let apis = apis.call("GetRestApis")?;
        let found = apis.iter().find(|a| a.tags().and_then(|t| t.get(TOKEN_TAG)).map(String::as_str) == Some(token));
        Ok(found.and_then(|a| a.id()).map(str::to_string))
    }
}
