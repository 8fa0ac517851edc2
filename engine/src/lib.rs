//! stackr-engine: everything between a stack file and AWS calls, with no AWS dependency.
//!
//! The path of a stack through the engine:
//!
//! ```text
//! stack.yaml ─stack::load─▶ Stack (validated: config typed, references checked)
//!            ─graph──────▶ DependencyGraph (deterministic order, cycles reported)
//! Stack + StateFile + Registry ─plan::plan (pure)─▶ Plan (every decision recorded)
//! Plan ─render─▶ text / markdown / JSON
//! ```
//!
//! - [`diagnostic`]: located problems, collected so a user fixes them in one pass.
//! - [`value`]: the value type, with secret and unknown markers.
//! - [`schema`]: what a resource type accepts and returns (each type declares its own, in the provider crate).
//! - [`provider`]: the trait AWS providers implement, and the registry of types; [`provider_error`]: provider
//!   errors and their classes (throttled, retryable, not found, access denied, invalid, conflict).
//! - [`eval`]: expressions → values; resource inputs conformed to schemas.
//! - [`plan`]: the planner and the plan model; [`render`] prints plans and graphs.

pub mod apply;
pub mod asset;
pub mod diagnostic;
pub mod diff;
pub mod eval;
pub mod graph;
pub mod plan;
pub mod provider;
pub mod provider_error;
pub mod render;
pub mod schema;
pub mod stack;
pub mod value;
