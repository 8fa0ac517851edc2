//! API Gateway (REST APIs, v1).

pub mod rest_api;
