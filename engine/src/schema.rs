//! Resource schemas: what a resource type accepts and returns. Properties with their types, whether they are
//! required, their defaults, which force replacement, which are secret; computed outputs; whether the type
//! holds data (the data-loss guard); which property is its unique name (create-before-delete is impossible
//! while that name stays the same).

use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum PropType {
    String,
    Integer,
    Number,
    Boolean,
    List(Box<PropType>),
    /// A map with string keys and values of one type (tags, environment variables).
    Map(Box<PropType>),
    /// A nested object with its own properties.
    Object(Vec<Property>),
    /// A JSON document (policies, dashboard bodies): written as a YAML map or a JSON string, compared as a value.
    Json,
    /// A local file or directory whose content hash is what the plan compares (Lambda code).
    Asset,
}

impl PropType {
    pub fn describe(&self) -> String {
        match self {
            PropType::String => "a string".into(),
            PropType::Integer => "an integer".into(),
            PropType::Number => "a number".into(),
            PropType::Boolean => "a boolean".into(),
            PropType::List(inner) => format!("a list of {}", inner.describe_plural()),
            PropType::Map(inner) => format!("a map of {}", inner.describe_plural()),
            PropType::Object(_) => "a map".into(),
            PropType::Json => "a JSON document (a map, a list or a JSON string)".into(),
            PropType::Asset => "a path to a local file or directory".into(),
        }
    }

    fn describe_plural(&self) -> String {
        match self {
            PropType::String => "strings".into(),
            PropType::Integer => "integers".into(),
            PropType::Number => "numbers".into(),
            PropType::Boolean => "booleans".into(),
            PropType::Object(_) => "maps".into(),
            other => other.describe(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: &'static str,
    pub ty: PropType,
    pub required: bool,
    pub default: Option<Value>,
    pub forces_replacement: bool,
    pub secret: bool,
    /// The only values accepted, when the property is an enumeration.
    pub allowed: &'static [&'static str],
    /// Inclusive range for integers.
    pub range: Option<(i64, i64)>,
    pub description: &'static str,
}

impl Property {
    fn new(name: &'static str, ty: PropType) -> Property {
        Property {
            name,
            ty,
            required: false,
            default: None,
            forces_replacement: false,
            secret: false,
            allowed: &[],
            range: None,
            description: "",
        }
    }
    pub fn string(name: &'static str) -> Property {
        Property::new(name, PropType::String)
    }
    pub fn integer(name: &'static str) -> Property {
        Property::new(name, PropType::Integer)
    }
    pub fn number(name: &'static str) -> Property {
        Property::new(name, PropType::Number)
    }
    pub fn boolean(name: &'static str) -> Property {
        Property::new(name, PropType::Boolean)
    }
    pub fn json(name: &'static str) -> Property {
        Property::new(name, PropType::Json)
    }
    pub fn asset(name: &'static str) -> Property {
        Property::new(name, PropType::Asset)
    }
    pub fn list(name: &'static str, item: PropType) -> Property {
        Property::new(name, PropType::List(Box::new(item)))
    }
    pub fn string_map(name: &'static str) -> Property {
        Property::new(name, PropType::Map(Box::new(PropType::String)))
    }
    pub fn object(name: &'static str, fields: Vec<Property>) -> Property {
        Property::new(name, PropType::Object(fields))
    }
    /// `tags`: a map of strings, merged with the stack's `defaultTags`, updated in place.
    pub fn tags() -> Property {
        Property::string_map("tags").describe("Tags; the stack's defaultTags are merged in, the resource's own win")
    }
    pub fn required(mut self) -> Property {
        self.required = true;
        self
    }
    pub fn default(mut self, value: impl Into<Value>) -> Property {
        self.default = Some(value.into());
        self
    }
    pub fn forces_replacement(mut self) -> Property {
        self.forces_replacement = true;
        self
    }
    pub fn secret(mut self) -> Property {
        self.secret = true;
        self
    }
    pub fn allowed(mut self, values: &'static [&'static str]) -> Property {
        self.allowed = values;
        self
    }
    pub fn range(mut self, min: i64, max: i64) -> Property {
        self.range = Some((min, max));
        self
    }
    pub fn describe(mut self, text: &'static str) -> Property {
        self.description = text;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub name: &'static str,
    /// True when an update may change it (a Lambda version, a code hash): unknown in a plan that updates.
    pub changes_on_update: bool,
    pub description: &'static str,
}

#[derive(Debug, Clone)]
pub struct ResourceSchema {
    pub type_name: &'static str,
    pub description: &'static str,
    pub properties: Vec<Property>,
    pub outputs: Vec<Output>,
    /// Deleting or replacing it destroys data: needs `--allow-data-loss`.
    pub holds_data: bool,
    /// The property AWS keeps unique; while it stays the same a replacement must delete first.
    pub name_property: Option<&'static str>,
    /// Its create call takes over a resource of the same name instead of failing (PutMetricAlarm, PutDashboard,
    /// CreateTopic): a create first checks that the name is free, so stackr never adopts what it did not make.
    pub create_overwrites: bool,
    /// The properties that together name one AWS resource when the type has no unique name (a subscription is its
    /// topic, protocol and endpoint). Empty: the name property alone.
    pub identity: &'static [&'static str],
    /// AWS compares its names without regard to case (IAM): `Orders` and `orders` are one resource.
    pub names_ignore_case: bool,
    /// A property that, when not given, is the resource's logical name (a permission's statement id).
    pub defaults_to_logical_name: Option<&'static str>,
    /// What a type requires of its properties together (a FIFO queue's name ends in `.fifo`): problems as
    /// (property path, message), found by `validate` and `plan` before anything is sent.
    pub rules: Option<Rules>,
}

/// A type's checks across properties, given its inputs (defaults filled in; a value not known yet is
/// `Unknown`, and a rule that needs it says nothing).
pub type Rules = fn(&Value) -> Vec<(String, String)>;

impl ResourceSchema {
    pub fn new(type_name: &'static str, description: &'static str) -> ResourceSchema {
        ResourceSchema {
            type_name,
            description,
            properties: Vec::new(),
            outputs: Vec::new(),
            holds_data: false,
            name_property: None,
            create_overwrites: false,
            identity: &[],
            names_ignore_case: false,
            defaults_to_logical_name: None,
            rules: None,
        }
    }
    pub fn rules(mut self, rules: Rules) -> ResourceSchema {
        self.rules = Some(rules);
        self
    }
    pub fn property(mut self, property: Property) -> ResourceSchema {
        self.properties.push(property);
        self
    }
    pub fn output(mut self, name: &'static str, description: &'static str) -> ResourceSchema {
        self.outputs.push(Output { name, changes_on_update: false, description });
        self
    }
    pub fn volatile_output(mut self, name: &'static str, description: &'static str) -> ResourceSchema {
        self.outputs.push(Output { name, changes_on_update: true, description });
        self
    }
    pub fn holds_data(mut self) -> ResourceSchema {
        self.holds_data = true;
        self
    }
    pub fn unique_name(mut self, property: &'static str) -> ResourceSchema {
        self.name_property = Some(property);
        self
    }
    pub fn create_overwrites(mut self) -> ResourceSchema {
        self.create_overwrites = true;
        self
    }
    pub fn identified_by(mut self, properties: &'static [&'static str]) -> ResourceSchema {
        self.identity = properties;
        self
    }
    pub fn names_ignore_case(mut self) -> ResourceSchema {
        self.names_ignore_case = true;
        self
    }
    pub fn defaults_to_logical_name(mut self, property: &'static str) -> ResourceSchema {
        self.defaults_to_logical_name = Some(property);
        self
    }

    /// The properties whose values name one AWS resource of this type (see [`ResourceSchema::identity`]).
    pub fn identity_properties(&self) -> Vec<&'static str> {
        if self.identity.is_empty() {
            self.name_property.into_iter().collect()
        } else {
            self.identity.to_vec()
        }
    }

    pub fn find_property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn has_tags(&self) -> bool {
        self.find_property("tags").is_some()
    }

    /// Names that `${resource.NAME}` may refer to: `id`, every property and every output.
    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once("id").chain(self.properties.iter().map(|p| p.name)).chain(self.outputs.iter().map(|o| o.name))
    }
}

/// Finds a nested property by a dotted path (`ttl.attributeName`).
pub fn property_at<'a>(properties: &'a [Property], path: &[&str]) -> Option<&'a Property> {
    let (first, rest) = path.split_first()?;
    let property = properties.iter().find(|p| p.name == *first)?;
    if rest.is_empty() {
        return Some(property);
    }
    match &property.ty {
        PropType::Object(fields) => property_at(fields, rest),
        PropType::List(inner) => match inner.as_ref() {
            PropType::Object(fields) => property_at(fields, rest),
            _ => None,
        },
        _ => None,
    }
}
