//! `aws:cloudwatch:Dashboard`: a dashboard whose body is written as a YAML map (it may reference other
//! resources), stored as JSON, and compared as a JSON value. PutDashboard creates and updates.

use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct DashboardInputs {
    dashboard_name: String,
    dashboard_body: serde_json::Value,
}

#[cfg(feature = "aws")]
pub use calls::Dashboard;

#[cfg(feature = "aws")]
mod calls {
    use crate::prelude::*;
    use aws_sdk_cloudwatch::Client;

    use super::DashboardInputs;
    use crate::inputs::{document_text, document_value};

    sdk_type!(Dashboard, Client);

    impl Dashboard {
        async fn put(&self, input: &DashboardInputs) -> Result<(), ProviderError> {
            let request = self.client.put_dashboard().dashboard_name(&input.dashboard_name);
            let request = request.dashboard_body(document_text(&input.dashboard_body));
            let out = request.send().await.call("PutDashboard")?;
            match out.dashboard_validation_messages().first() {
                Some(problem) => Err(ProviderError::Invalid(format!(
                    "dashboard {}: {}",
                    input.dashboard_name,
                    problem.message().unwrap_or("invalid body")
                ))),
                None => Ok(()),
            }
        }
    }

    #[async_trait]
    impl Resource for Dashboard {
        type Inputs = DashboardInputs;

        async fn describe(&self, name: &str, _: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.get_dashboard().dashboard_name(name).send().await;
            let dashboard = out.call("GetDashboard")?;
            let body = dashboard.dashboard_body().and_then(document_value).unwrap_or(Value::Null);
            Ok(Some(Live {
                id: name.to_string(),
                inputs: [("dashboardName".to_string(), Value::string(name)), ("dashboardBody".to_string(), body)]
                    .into(),
                outputs: outputs([("arn", dashboard.dashboard_arn().map(str::to_string))]),
                tags: None,
            }))
        }

        async fn create(&self, input: &DashboardInputs, _: &Tags) -> Result<Made, ProviderError> {
            self.put(input).await?;
            Ok(input.dashboard_name.clone().into())
        }

        async fn update(&self, _: &str, change: Update<'_, DashboardInputs>) -> Result<(), ProviderError> {
            self.put(change.new).await
        }

        async fn delete(&self, name: &str, _: Option<&DashboardInputs>) -> Result<(), ProviderError> {
            let request = self.client.delete_dashboards().dashboard_names(name);
            request.send().await.call("DeleteDashboards").map(drop)
        }

        async fn locate(&self, input: &DashboardInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.dashboard_name.clone()))
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            // A dashboard ARN ends in `dashboard/NAME`.
            Ok(Some(given.rsplit('/').next().unwrap_or(given).to_string()))
        }
    }
}
