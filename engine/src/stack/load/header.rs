//! The stack file's header: `name`, `description`, `region`, `backend` and `secretsProvider`, each checked.

use crate::diagnostic::{Diagnostics, Pos};
use crate::stack::document::{FileScope, RawFile};

pub(super) struct Header {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) region: Option<String>,
    pub(super) backend: Option<String>,
    pub(super) secrets_provider: Option<String>,
}

/// Takes the header out of the stack file (included files have none).
pub(super) fn read(raw: &mut RawFile, scope: &FileScope, diags: &mut Diagnostics) -> Header {
    let name = match raw.name.take() {
        Some((name, pos)) => {
            if !crate::stack::names::is_stack_name(&name) {
                diags.push(
                    scope
                        .error(pos, "name", format!("invalid stack name {name:?}"))
                        .with_hint("use letters, digits, `-` and `_`; the name keys the state"),
                );
            }
            name
        }
        None => {
            diags.push(
                scope
                    .error(Pos { line: 1, col: 1 }, "name", "the stack has no `name`")
                    .with_hint("add `name: my-stack` at the top; it is the key under which state is stored"),
            );
            String::new()
        }
    };
    let backend = raw.backend.take();
    if let Some((url, pos)) = &backend {
        if !(url.starts_with("file://") || url.starts_with("s3://")) {
            diags.push(
                scope
                    .error(*pos, "backend", format!("unsupported backend {url:?}"))
                    .with_hint("use file://DIR or s3://BUCKET/PREFIX?region=R"),
            );
        }
    }
    let region = raw.region.take();
    if let Some((region, pos)) = &region {
        if !crate::stack::names::is_region(region) {
            diags.push(
                scope
                    .error(*pos, "region", format!("invalid region {}", crate::render::shown(&format!("{region:?}"))))
                    .with_hint("an AWS region: `us-east-1`, `eu-central-1`"),
            );
        }
    }
    if let Some(query_region) = backend.as_ref().and_then(|(url, _)| url.split_once("region=")).map(|(_, r)| r) {
        let region = query_region.split('&').next().unwrap_or_default();
        if !crate::stack::names::is_region(region) {
            if let Some((_, pos)) = &backend {
                diags.push(
                    scope
                        .error(
                            *pos,
                            "backend",
                            format!("invalid region {}", crate::render::shown(&format!("{region:?}"))),
                        )
                        .with_hint("s3://BUCKET/PREFIX?region=us-east-1"),
                );
            }
        }
    }
    let secrets_provider = raw.secrets_provider.take();
    if let Some((provider, pos)) = &secrets_provider {
        if provider != "passphrase" && !provider.starts_with("awskms://") {
            diags.push(
                scope
                    .error(*pos, "secretsProvider", format!("unknown secrets provider {provider:?}"))
                    .with_hint("use `passphrase` or `awskms://alias/NAME`"),
            );
        }
    }
    Header {
        name,
        description: raw.description.take(),
        region: region.map(|(r, _)| r),
        backend: backend.map(|(b, _)| b),
        secrets_provider: secrets_provider.map(|(s, _)| s),
    }
}
