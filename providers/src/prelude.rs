//! What a resource type's calls use, in one import: `use crate::prelude::*;`.

pub(crate) use async_trait::async_trait;
pub(crate) use stackr_engine::provider::ProviderError;
pub(crate) use stackr_engine::value::Value;

pub(crate) use crate::aws::{api_error, built, found, sdk_type, Call};
pub(crate) use crate::inputs::{outputs, prior_field};
pub(crate) use crate::resource::{output_str, Live, Made, Resource, Tags, Update};
