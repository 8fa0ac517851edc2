//! The typed resource layer: a type says what it is (typed inputs) and makes its own AWS calls; [`Typed`] turns it
//! into the engine's [`Provider`] and does, once for every type, what they all need:
//!
//! - parsing the engine's value into the type's inputs, with errors that name the type and never quote a secret;
//! - "not found" on read is gone, on delete is done;
//! - tags: the declared ones and the create token sent with the create, stackr's own tags split off what AWS
//!   reports (never drift), and the add/remove calls of a tag change;
//! - the create protocol: the creating call reports the id; when a configuration call after it fails, the create
//!   reports the resource it made with the error ([`ProviderError::Incomplete`]), so it is recorded, never
//!   orphaned, and the next plan shows what is missing as an update;
//! - import by id, ARN or name, and find by create token (or, for types without tags, by name).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use stackr_engine::provider::{CallContext, Created, ErrorClass, Observed, Provider, ProviderError};
use stackr_engine::schema::ResourceSchema;
use stackr_engine::value::Value;

use crate::inputs::{parse, split_stackr_tags, tag_changes, tags_value};

fn is_not_found(error: &ProviderError) -> bool {
    error.class() == ErrorClass::NotFound
}

pub type Tags = BTreeMap<String, String>;

/// One resource as AWS reports it, in the user's form.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub id: String,
    /// The properties as a stack would write them, tags aside. A type keeps the prior's form of a value AWS
    /// reports differently but means the same (a key ARN for a key id).
    pub inputs: BTreeMap<String, Value>,
    pub outputs: Value,
    /// Every tag AWS reports, stackr's own included; `None` for types without tags.
    pub tags: Option<Tags>,
}

/// What a create call made: the id, and the outputs when its answer holds them (used when AWS does not show
/// the new resource to a read yet, as KMS and IAM may not for a moment).
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub id: String,
    pub outputs: Option<Value>,
}

impl From<String> for Made {
    fn from(id: String) -> Made {
        Made { id, outputs: None }
    }
}

/// An update: the inputs recorded, the inputs wanted, and the top-level properties that differ (tags aside).
pub struct Update<'a, I> {
    pub old: &'a I,
    pub new: &'a I,
    pub changed: &'a [String],
}

impl<I> Update<'_, I> {
    /// True when any of `properties` changed.
    pub fn any(&self, properties: &[&str]) -> bool {
        self.changed.iter().any(|c| properties.contains(&c.as_str()))
    }
}

/// One AWS resource type. Only `describe`, `create` and `delete` are required.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The inputs as the stack writes them (camelCase); `tags` need not be among them.
    type Inputs: DeserializeOwned + Send + Sync;

    /// Whether the creating call carries the tags (and the create token). When it cannot (S3's CreateBucket), the
    /// layer tags the new resource with [`Resource::tag`] as the first configuration call.
    const TAGGED_AT_CREATE: bool = true;

    /// The resource `id` as AWS has it now, `None` (or a not-found error) when it does not exist. `prior` holds
    /// the inputs last recorded (`Null` on import).
    async fn describe(&self, id: &str, prior: &Value) -> Result<Option<Live>, ProviderError>;

    /// The call that makes the resource; returns the id AWS assigned (or the name, where the name is the id)
    /// and, where its answer holds them, the outputs. `tags` are the declared tags and the create token.
    async fn create(&self, input: &Self::Inputs, tags: &Tags) -> Result<Made, ProviderError>;

    /// The calls that complete a create after the resource exists (rotation, TTL, retention, policies). A
    /// failure here leaves the resource recorded as made, and the next plan completes it.
    async fn configure(&self, _id: &str, _input: &Self::Inputs) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Applies in place the properties that `change` says changed, tags excepted. The default is for types whose
    /// every property forces replacement: the engine never asks, and it refuses.
    async fn update(&self, id: &str, _change: Update<'_, Self::Inputs>) -> Result<(), ProviderError> {
        Err(ProviderError::Invalid(format!("{id} cannot be updated in place; every change replaces it")))
    }

    /// Sets `tags` on the resource (`outputs` as last described: its ARN). Types with tags implement it and
    /// [`Resource::untag`].
    async fn tag(&self, _id: &str, _outputs: &Value, _tags: &Tags) -> Result<(), ProviderError> {
        Err(ProviderError::Other("this type has no tags".into()))
    }

    /// Removes the tags named `keys` from the resource.
    async fn untag(&self, _id: &str, _outputs: &Value, _keys: &[String]) -> Result<(), ProviderError> {
        Err(ProviderError::Other("this type has no tags".into()))
    }

    /// Deletes the resource; not found counts as done. `old` holds the recorded inputs when they still parse (a
    /// resource recorded by an older stackr, or imported, is deletable all the same).
    async fn delete(&self, id: &str, old: Option<&Self::Inputs>) -> Result<(), ProviderError>;

    /// The id of the resource that a create of `input` would have made, found by its name (or whatever else
    /// identifies it, or, for a type without names, by the create token `token` it was tagged with), `None` when
    /// there is none. Finds what an interrupted create made; the default finds nothing.
    async fn locate(&self, _input: &Self::Inputs, _token: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    /// The id to describe for what a user gives `stackr import`: an id, an ARN or a name. The default takes it
    /// as the id.
    async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
        Ok(Some(given.to_string()))
    }

    /// Puts desired inputs in canonical form before they are diffed (see [`Provider::normalize`]).
    fn normalize(&self, inputs: Value) -> Value {
        inputs
    }
}

/// A [`Resource`] as the engine's [`Provider`].
pub struct Typed<R> {
    schema: ResourceSchema,
    resource: R,
}

impl<R: Resource> Typed<R> {
    pub fn new(schema: ResourceSchema, resource: R) -> Typed<R> {
        Typed { schema, resource }
    }

    fn parse(&self, inputs: &Value) -> Result<R::Inputs, ProviderError> {
        parse(self.schema.type_name, inputs)
    }

    /// The resource as the engine sees it: stackr's tags split off (the create token kept aside), the user's
    /// tags among the inputs when there are any.
    async fn observe(&self, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
        let live = match self.resource.describe(id, prior).await {
            Ok(Some(live)) => live,
            Ok(None) => return Ok(None),
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut inputs = live.inputs;
        let mut create_token = None;
        if let Some(mut tags) = live.tags {
            // What AWS reports is what counts, whatever a type copied from the prior.
            inputs.remove("tags");
            create_token = split_stackr_tags(&mut tags);
            if let Some(tags) = tags_value(tags) {
                inputs.insert("tags".into(), tags);
            }
        }
        Ok(Some(Observed { id: live.id, inputs: Value::Map(inputs), outputs: live.outputs, create_token }))
    }

    /// A new resource read back, a few times over two seconds while AWS does not show it yet.
    async fn read_back(&self, id: &str, inputs: &Value) -> Result<Option<Observed>, ProviderError> {
        for delay in [250, 750, 1000] {
            if let Some(observed) = self.observe(id, inputs).await? {
                return Ok(Some(observed));
            }
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        self.observe(id, inputs).await
    }

    /// The inputs with the properties that default to the logical name filled in (a permission's statement id),
    /// for inputs recorded before the stack evaluation wrote that default out.
    fn with_logical_defaults(&self, cx: &CallContext, inputs: &Value) -> Value {
        let mut inputs = inputs.clone();
        if let (Some(property), Value::Map(map)) = (self.schema.defaults_to_logical_name, &mut inputs) {
            map.entry(property.to_string()).or_insert_with(|| Value::string(&cx.resource));
        }
        inputs
    }

    /// What an update or create reads back: the resource must exist.
    async fn present(&self, id: &str, inputs: &Value, during: &str) -> Result<Observed, ProviderError> {
        self.observe(id, inputs)
            .await?
            .ok_or_else(|| ProviderError::Other(format!("{} {id} was not found {during}", self.schema.type_name)))
    }
}

/// A text output (`arn`) of a resource's outputs; empty when absent.
pub fn output_str<'a>(outputs: &'a Value, name: &str) -> &'a str {
    outputs.as_map().and_then(|m| m.get(name)).and_then(Value::as_str).unwrap_or_default()
}

/// The declared tags of an engine value (`tags: {k: v}`), secrets revealed.
fn declared_tags(inputs: &Value) -> Tags {
    let Some(Value::Map(tags)) = inputs.as_map().and_then(|m| m.get("tags")) else { return Tags::new() };
    tags.iter()
        .filter_map(|(k, v)| {
            let v = v.reveal();
            v.as_str().map(|s| (k.clone(), s.to_string()))
        })
        .collect()
}

#[async_trait]
impl<R: Resource> Provider for Typed<R> {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn normalize(&self, inputs: Value) -> Value {
        self.resource.normalize(inputs)
    }

    async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
        let inputs = &self.with_logical_defaults(cx, inputs);
        let input = self.parse(inputs)?;
        let mut tags = declared_tags(inputs);
        if let (true, Some(token)) = (self.schema.has_tags(), &cx.create_token) {
            tags.insert(crate::TOKEN_TAG.to_string(), token.clone());
        }
        let Made { id, outputs: answered } = self.resource.create(&input, &tags).await?;
        // From here on the resource exists: whatever fails is reported with it, so that it is recorded.
        let incomplete = |outputs: Option<Value>, cause: ProviderError| ProviderError::Incomplete {
            created: Box::new(Created { id: id.clone(), outputs: outputs.unwrap_or(Value::Null) }),
            cause: Box::new(cause),
        };
        // Recorded (journaled) before the calls that complete it.
        if let Some(recorder) = &cx.made {
            if let Err(why) = recorder.0.made(&id).await {
                return Err(incomplete(answered, ProviderError::Other(format!("cannot record {id}: {why}"))));
            }
        }
        // A type whose creating call cannot carry tags is tagged as the first configuration call.
        let configured = async {
            if !R::TAGGED_AT_CREATE && !tags.is_empty() {
                self.resource.tag(&id, answered.as_ref().unwrap_or(&Value::Null), &tags).await?;
            }
            self.resource.configure(&id, &input).await
        };
        if let Err(cause) = configured.await {
            let outputs = self.observe(&id, inputs).await.ok().flatten().map(|o| o.outputs).or(answered);
            return Err(incomplete(outputs, cause));
        }
        match self.read_back(&id, inputs).await {
            Ok(Some(observed)) => Ok(Created { id, outputs: observed.outputs }),
            // Not readable yet: the create's own answer says what it made.
            other => match (answered, other) {
                (Some(outputs), _) => Ok(Created { id, outputs }),
                (None, Err(cause)) => Err(incomplete(None, cause)),
                (None, _) => {
                    let cause = format!("{} {id} was made but a read does not show it yet", self.schema.type_name);
                    Err(incomplete(None, ProviderError::Other(cause)))
                }
            },
        }
    }

    async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
        self.observe(id, prior).await
    }

    async fn update(
        &self,
        _: &CallContext,
        id: &str,
        prior: &Value,
        desired: &Value,
        changed: &[String],
    ) -> Result<Value, ProviderError> {
        // What AWS cannot report (a function's code directory) is missing from a prior read back or imported:
        // the desired value stands in for it, so that such a prior still parses.
        let old = self.parse(&filled_in(prior, desired))?;
        let new = self.parse(desired)?;
        let others: Vec<String> = changed.iter().filter(|c| *c != "tags").cloned().collect();
        if !others.is_empty() {
            self.resource.update(id, Update { old: &old, new: &new, changed: &others }).await?;
        }
        if changed.iter().any(|c| c == "tags") {
            let live = self.present(id, desired, "during the update").await?;
            let (set, remove) = tag_changes(&declared_tags(prior), &declared_tags(desired));
            if !set.is_empty() {
                self.resource.tag(id, &live.outputs, &set).await?;
            }
            if !remove.is_empty() {
                self.resource.untag(id, &live.outputs, &remove).await?;
            }
        }
        Ok(self.present(id, desired, "after the update").await?.outputs)
    }

    async fn delete(&self, _: &CallContext, id: &str, prior: &Value) -> Result<(), ProviderError> {
        let old = self.parse(prior).ok();
        match self.resource.delete(id, old.as_ref()).await {
            Err(error) if is_not_found(&error) => Ok(()),
            other => other,
        }
    }

    async fn import(&self, _: &CallContext, given: &str) -> Result<Option<Observed>, ProviderError> {
        match self.resource.import_id(given).await? {
            Some(id) => self.observe(&id, &Value::Null).await,
            None => Ok(None),
        }
    }

    async fn find(&self, cx: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
        let inputs = &self.with_logical_defaults(cx, inputs);
        let input = self.parse(inputs)?;
        let Some(id) = self.resource.locate(&input, token).await? else { return Ok(None) };
        let found = self.observe(&id, inputs).await?;
        // A type with tags knows what this create made: only a resource carrying its token. Without tags, the
        // engine decides (the name was free before the create, and the resource must be exactly as asked).
        if self.schema.has_tags() {
            return Ok(found.filter(|o| o.create_token.as_deref() == Some(token)));
        }
        Ok(found)
    }
}

/// `prior` with the top-level properties it lacks taken from `desired`.
fn filled_in(prior: &Value, desired: &Value) -> Value {
    match (prior, desired) {
        (Value::Map(prior), Value::Map(desired)) => {
            let mut filled = desired.clone();
            filled.extend(prior.iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Map(filled)
        }
        _ => prior.clone(),
    }
}
