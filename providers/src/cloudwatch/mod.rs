//! CloudWatch: dashboards and metric alarms.

pub mod alarm;
pub mod dashboard;
