//! The stack language: files → a validated [`Stack`].
//!
//! `yaml` parses text into positioned nodes, `document` splits a file into its sections and builds
//! expressions, `expr` holds the expression language, `load` (a folder, one module per concern) follows includes, merges files and checks
//! names, config and references. Everything here is pure except reading the files and environment variables
//! the stack names.

pub mod confine;
pub(crate) mod credentials;
pub mod document;
pub mod expr;
pub mod load;
pub mod names;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::diagnostic::{Location, Pos};
use crate::value::Value;
use expr::Expr;

pub use load::{load, Environment, ProcessEnvironment};

/// A stack after every check: names resolved, config typed, references known to point somewhere.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub description: Option<String>,
    pub region: Option<String>,
    pub backend: Option<String>,
    pub secrets_provider: Option<String>,
    /// The stack file, then every included file, each with the SHA-256 of its bytes.
    pub files: Vec<SourceFile>,
    /// Every parameter's value; secret values are wrapped as secret.
    pub config: BTreeMap<String, Value>,
    pub variables: BTreeMap<String, Expr>,
    pub default_tags: Option<Expr>,
    pub resources: BTreeMap<String, Resource>,
    pub outputs: BTreeMap<String, Expr>,
    /// The project root every path the stack names stays inside (`None`: not confined).
    pub root: Option<std::path::PathBuf>,
    /// Directories outside the root the stack file's `allowPaths` lets it read (absolute); shown in every plan.
    pub allowed_paths: Vec<std::path::PathBuf>,
}

impl Stack {
    /// Where the stack may read files.
    pub fn confinement(&self) -> Option<confine::Confinement<'_>> {
        self.root.as_deref().map(|root| confine::Confinement { root, allowed: &self.allowed_paths })
    }
}

impl Stack {
    /// True when the stack holds any secret value: secret config, `fn::secret`, or a secret property set. Such a
    /// stack needs a secrets provider before anything is applied.
    pub fn has_secrets(&self, registry: &crate::provider::Registry) -> bool {
        if self.config.values().any(crate::value::Value::has_secret) {
            return true;
        }
        let secret_property = self.resources.values().any(|resource| {
            registry.schema(&resource.type_name).is_some_and(|schema| {
                schema.properties.iter().any(|p| p.secret && resource.properties.contains_key(p.name))
            })
        });
        let mut found = false;
        let mut visit = |call: &expr::Call| found |= matches!(call.function, expr::Function::Secret(_));
        self.variables.values().for_each(|e| e.for_each_call(&mut visit));
        self.outputs.values().for_each(|e| e.for_each_call(&mut visit));
        self.resources.values().flat_map(|r| r.properties.values()).for_each(|e| e.for_each_call(&mut visit));
        found || secret_property
    }

    /// True when any expression refers to `${stackr.<name>}`.
    pub fn uses_builtin(&self, name: &str) -> bool {
        let mut found = false;
        let mut visit = |r: &expr::Reference| {
            found |= r.root == "stackr" && r.attribute() == Some(name);
        };
        self.variables.values().for_each(|e| e.for_each_reference(&mut visit));
        self.outputs.values().for_each(|e| e.for_each_reference(&mut visit));
        self.resources.values().flat_map(|r| r.properties.values()).for_each(|e| e.for_each_reference(&mut visit));
        if let Some(tags) = &self.default_tags {
            tags.for_each_reference(&mut visit);
        }
        found
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub name: String,
    pub type_name: String,
    pub properties: BTreeMap<String, Expr>,
    pub options: ResourceOptions,
    /// Every resource this one needs first: references (directly or through variables) and `dependsOn`.
    pub dependencies: BTreeSet<String>,
    pub location: Location,
    /// Positions of property keys by path relative to `properties` (`ttl.enabled`), for diagnostics.
    pub positions: BTreeMap<String, Pos>,
}

impl Resource {
    /// The location of a property path, falling back to the resource's own.
    pub fn location_of(&self, property_path: &str) -> Location {
        let mut path = property_path;
        loop {
            if let Some(pos) = self.positions.get(path) {
                return Location { file: self.location.file.clone(), pos: *pos };
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => return self.location.clone(),
            }
        }
    }

    pub fn doc_path(&self, property_path: &str) -> String {
        if property_path.is_empty() {
            format!("resources.{}.properties", self.name)
        } else {
            format!("resources.{}.properties.{}", self.name, property_path)
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceOptions {
    /// Refuse any plan that deletes or replaces the resource.
    pub protect: bool,
    pub depends_on: Vec<String>,
    /// Property paths whose changes never cause an update.
    pub ignore_changes: Vec<String>,
    /// On delete, forget the resource but leave it in AWS.
    pub retain_on_delete: bool,
    /// Replace by deleting first, then creating.
    pub delete_before_replace: bool,
}

pub const OPTION_KEYS: &[&str] = &["protect", "dependsOn", "ignoreChanges", "retainOnDelete", "deleteBeforeReplace"];
pub const RESOURCE_KEYS: &[&str] = &["type", "properties", "options"];
pub const PARAMETER_KEYS: &[&str] = &["type", "default", "allowed", "description", "secret"];
pub const BUILTINS: &[&str] = &["stack", "region", "accountId"];
