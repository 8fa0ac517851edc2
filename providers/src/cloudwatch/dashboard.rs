//! `aws:cloudwatch:Dashboard`: a dashboard whose body is written as a YAML map (it may reference other
//! resources), stored as JSON, and compared as a JSON value. PutDashboard creates and updates.

use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:cloudwatch:Dashboard", "A CloudWatch dashboard")
        .property(Property::string("dashboardName").required().forces_replacement())
        .property(Property::json("dashboardBody").required().describe("A map, stored as JSON"))
        .output("arn", "The dashboard's ARN")
        .unique_name("dashboardName")
        .create_overwrites()
}

#[cfg(feature = "aws")]
pub use calls::DashboardProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use async_trait::async_trait;
    use aws_sdk_cloudwatch::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, found, gone_is_done};
    use crate::inputs::{document_text, document_value, outputs, parse};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DashboardInputs {
        dashboard_name: String,
        dashboard_body: serde_json::Value,
    }

    pub struct DashboardProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl DashboardProvider {
        pub fn new(config: &aws_config::SdkConfig) -> DashboardProvider {
            DashboardProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn put(&self, inputs: &Value) -> Result<String, ProviderError> {
            let input: DashboardInputs = parse(self.schema.type_name, inputs)?;
            let out = self
                .client
                .put_dashboard()
                .dashboard_name(&input.dashboard_name)
                .dashboard_body(document_text(&input.dashboard_body))
                .send()
                .await
                .map_err(|e| api_error("PutDashboard", e))?;
            if let Some(problem) = out.dashboard_validation_messages().first() {
                return Err(ProviderError::Invalid(format!(
                    "dashboard {}: {}",
                    input.dashboard_name,
                    problem.message().unwrap_or("invalid body")
                )));
            }
            Ok(input.dashboard_name)
        }

        async fn observe(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
            let Some(dashboard) = found(
                self.client.get_dashboard().dashboard_name(name).send().await.map_err(|e| api_error("GetDashboard", e)),
            )?
            else {
                return Ok(None);
            };
            let body = dashboard.dashboard_body().and_then(document_value).unwrap_or(Value::Null);
            Ok(Some(Observed {
                create_token: None,
                id: name.to_string(),
                inputs: Value::Map(
                    [("dashboardName".to_string(), Value::string(name)), ("dashboardBody".to_string(), body)].into(),
                ),
                outputs: outputs([("arn", dashboard.dashboard_arn().map(str::to_string))]),
            }))
        }
    }

    #[async_trait]
    impl Provider for DashboardProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, _: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let name = self.put(inputs).await?;
            let observed = self
                .observe(&name)
                .await?
                .ok_or_else(|| ProviderError::Other(format!("dashboard {name} not found after PutDashboard")))?;
            Ok(Created { id: name, outputs: observed.outputs })
        }

        async fn read(&self, _: &CallContext, id: &str, _: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            _: &Value,
            desired: &Value,
            _: &[String],
        ) -> Result<Value, ProviderError> {
            self.put(desired).await?;
            Ok(self.observe(id).await?.map(|o| o.outputs).unwrap_or(Value::Null))
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            gone_is_done(
                self.client
                    .delete_dashboards()
                    .dashboard_names(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("DeleteDashboards", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id.rsplit('/').next().unwrap_or(id)).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, _: &str) -> Result<Option<Observed>, ProviderError> {
            let input: DashboardInputs = parse(self.schema.type_name, inputs)?;
            self.observe(&input.dashboard_name).await
        }
    }
}
