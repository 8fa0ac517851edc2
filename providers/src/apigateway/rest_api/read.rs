//! Reading a REST API back in the stack's form.

use std::collections::BTreeMap;

use crate::prelude::*;

use super::calls::RestApi;
use super::{default_stage, ApiInputs, Cors, Route, Throttle};

impl RestApi {
    /// The API as the stack would write it: its routes (resources, methods, integrations), CORS preflight,
    /// stage and throttling.
    pub(super) async fn live(&self, id: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
        let api = self.client.get_rest_api().rest_api_id(id).send().await;
        let api = api.call("GetRestApi")?;
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
                let request = self.client.get_integration().rest_api_id(id).resource_id(resource_id);
                let integration = found(request.http_method(&method).send().await.call("GetIntegration"))?;
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
                let request = self.client.get_integration_response().rest_api_id(id).resource_id(&resource_id);
                let request = request.http_method("OPTIONS").status_code("200");
                let response = found(request.send().await.call("GetIntegrationResponse"))?;
                let parameters = response.as_ref().and_then(|r| r.response_parameters()).cloned().unwrap_or_default();
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
        let stage = self.client.get_stage().rest_api_id(id).stage_name(&stage_name).send().await;
        let stage = found(stage.call("GetStage"))?;
        let throttle = stage.as_ref().and_then(|s| s.method_settings()).and_then(|m| m.get("*/*")).and_then(|m| {
            (m.throttling_burst_limit() > 0 || m.throttling_rate_limit() > 0.0)
                .then(|| Throttle { rate_limit: m.throttling_rate_limit(), burst_limit: m.throttling_burst_limit() })
        });
        let tags: BTreeMap<String, String> =
            api.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();

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
        let deployment = stage.as_ref().and_then(|s| s.deployment_id()).map(str::to_string);
        let outputs = self.outputs(id, root, &stage_name, deployment).await?;
        Ok(Some(Live { id: id.to_string(), inputs, outputs, tags: Some(tags) }))
    }
}
