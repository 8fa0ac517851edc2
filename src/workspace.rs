//! Where a command finds things: the stack, its state backend, the registry of resource types, and the
//! `${stackr.*}` built-ins.

use std::path::{Path, PathBuf};

use anyhow::Context;
use stackr_engine::eval::Builtins;
use stackr_engine::plan::file::{PlanFile, Target};
use stackr_engine::provider::Registry;
use stackr_engine::stack::{self, ProcessEnvironment, Stack};

use crate::report::Failure;

/// The directory stackr keeps its files in, relative to the working directory.
pub const STACKR_DIR: &str = ".stackr";

/// Every schema, no implementations: enough for `validate` and `graph`.
pub fn registry() -> Registry {
    stackr_providers::catalog::registry()
}

/// What a command needs to reach a stack's state and AWS, from its stack file or from a saved plan (which
/// records it, so that apply needs no stack).
#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    /// The stack file as the user named it, for hints.
    pub shown: String,
    pub target: Target,
    /// The state store's URL, checked: file://DIR inside the project, or s3://BUCKET/PREFIX?region=R.
    pub backend: String,
    /// Whether the stack holds secret values (and so a run writing its state needs the secrets key).
    pub has_secrets: bool,
}

impl Site {
    pub fn of(stack: &Stack, registry: &Registry) -> Result<Site, Failure> {
        let url = stack.backend.clone().unwrap_or_else(|| format!("file://{STACKR_DIR}"));
        confined_backend(&url, stack.confinement())?;
        Ok(Site {
            name: stack.name.clone(),
            shown: stack.files.first().map(|f| f.path.display().to_string()).unwrap_or_else(|| "STACK.yaml".into()),
            target: Target {
                region: stack.region.clone(),
                backend: stack.backend.clone(),
                secrets_provider: stack.secrets_provider.clone(),
                allow_paths: stack.allowed_paths.clone(),
            },
            backend: url,
            has_secrets: stack.has_secrets(registry),
        })
    }

    /// The site a saved plan records: it was checked when planning.
    /// The site a saved plan records, held to the same rules as a stack's.
    pub fn of_plan(file: &PlanFile) -> Result<Site, Failure> {
        let url = file.target.backend.clone().unwrap_or_else(|| format!("file://{STACKR_DIR}"));
        let root = project_root()?;
        let allowed = &file.target.allow_paths;
        confined_backend(&url, Some(stackr_engine::stack::confine::Confinement { root: &root, allowed }))?;
        Ok(Site {
            name: file.stack.clone(),
            shown: file.stack_file.display().to_string(),
            target: file.target.clone(),
            backend: url,
            has_secrets: file.holds_secrets(),
        })
    }

    /// The secrets provider the stack names, or the default one.
    pub fn secrets_provider(&self) -> &str {
        self.target.secrets_provider.as_deref().unwrap_or(stackr_state::secrets::DEFAULT_PROVIDER)
    }

    /// The region the stack names, or the environment's.
    pub fn region(&self) -> Option<String> {
        region_or_env(self.target.region.clone())
    }
}

/// A local backend stays inside the project (or a directory `allowPaths` names): a stack in a pull request
/// must not point its state at another stack's (or any) directory outside it, which would be read and planned
/// against, nor a plan file at one to write.
fn confined_backend(
    url: &str,
    confined: Option<stackr_engine::stack::confine::Confinement<'_>>,
) -> Result<(), Failure> {
    let Some(dir) = url.strip_prefix("file://") else { return Ok(()) };
    stackr_engine::stack::confine::resolve(confined, Path::new(""), dir).map(drop).map_err(|message| {
        Failure::hint(
            anyhow::anyhow!("backend: {message}"),
            "a local backend is a directory inside the project (or one `allowPaths` names); a shared one is s3://BUCKET/PREFIX",
        )
    })
}

/// The region a stack names, else `AWS_REGION`, else `AWS_DEFAULT_REGION` (the SDK's chain may still find one
/// in a profile).
fn region_or_env(named: Option<String>) -> Option<String> {
    named.or_else(|| std::env::var("AWS_REGION").ok()).or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
}

/// Attaches the AWS providers (configured from the standard chain, the stack's region first) and returns the
/// built-ins. The account id is asked of STS only when the stack uses `${stackr.accountId}` and `online`.
pub fn connect(stack: &Stack, registry: &mut Registry, online: bool) -> Result<Builtins, Failure> {
    let runtime = runtime()?;
    let config = runtime.block_on(stackr_providers::aws::load_config(region_or_env(stack.region.clone())));
    stackr_providers::attach(registry, &config);
    let mut builtins = builtins(stack);
    if builtins.region.is_none() {
        builtins.region = config.region().map(|r| r.to_string());
    }
    if online && stack.uses_builtin("accountId") {
        let account = runtime.block_on(stackr_providers::aws::account_id(&config)).map_err(|e| {
            Failure::hint(e, "stackr asks STS who you are for ${stackr.accountId}; check your AWS credentials")
        })?;
        builtins.account_id = Some(account);
    }
    Ok(builtins)
}

/// Attaches the AWS providers for a saved plan's site and returns the region they act in.
pub fn connect_site(site: &Site, registry: &mut Registry) -> Result<Option<String>, Failure> {
    let runtime = runtime()?;
    let config = runtime.block_on(stackr_providers::aws::load_config(site.region()));
    stackr_providers::attach(registry, &config);
    Ok(site.target.region.clone().or_else(|| config.region().map(|r| r.to_string())))
}

pub fn load_stack(path: &Path, registry: &Registry) -> Result<Stack, Failure> {
    stack::load(path, registry, &ProcessEnvironment).map_err(Failure::Invalid)
}

/// The stack's state store: `backend:` in the stack (file://DIR or s3://BUCKET/PREFIX?region=R), or `.stackr/`
/// in the working directory.
pub fn store(site: &Site) -> Result<crate::store::Store, Failure> {
    crate::store::Store::from_url(&site.backend, &project_root()?)
}

/// The project root: the directory stackr runs in, where `.stackr/` lives and every path a stack names stays.
pub fn project_root() -> Result<PathBuf, Failure> {
    Ok(std::env::current_dir().context("cannot read the working directory (the project root)")?)
}

/// The process's one async runtime, which every AWS call (providers, the S3 state, KMS) runs on; built on
/// first use.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let built =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    Ok(RUNTIME.get_or_init(|| built))
}

pub fn builtins(stack: &Stack) -> Builtins {
    Builtins { stack: stack.name.clone(), region: region_or_env(stack.region.clone()), account_id: None }
}

/// How long reconcile waits for a create that an interrupted run may still have in flight before concluding it
/// never took effect: `STACKR_RECONCILE_SETTLE_MS`, or 2 s.
pub fn reconcile_settle() -> std::time::Duration {
    std::env::var("STACKR_RECONCILE_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis)
        .unwrap_or(stackr_engine::apply::reconcile::SETTLE)
}

/// `.stackr/plans/<stack>.plan.json` in the working directory.
pub fn default_plan_path(stack: &str) -> PathBuf {
    Path::new(STACKR_DIR).join("plans").join(format!("{stack}.plan.json"))
}
