//! YAML text → a tree of [`Node`]s that remember their line and column.
//!
//! Built from the parser's event stream with an explicit stack rather than recursion, so a hostile, deeply
//! nested document meets a depth limit and an error, never a stack overflow. Scalars are typed by the YAML 1.2
//! core schema (plain `true`, `12`, `null`; anything quoted is a string). Aliases are expanded under a budget of
//! nodes and of bytes, checked *before* an alias is copied, so a "billion laughs" document (or one that repeats a
//! large string through aliases) is refused in milliseconds instead of eating memory.

use std::collections::{BTreeMap, BTreeSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diagnostic::Pos;

/// Deepest nesting a stack file may have; real stacks stay under 15.
pub const MAX_DEPTH: usize = 128;
/// Most nodes the files of one stack may expand to together (aliases included).
pub const MAX_NODES: usize = 1_000_000;
/// Most bytes of keys and scalars the files of one stack may add through aliases (each file's own text is bounded by
/// `document::MAX_FILE_BYTES`).
pub const MAX_ALIAS_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; duplicates are refused while parsing.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Node {
    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a map",
        }
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

fn pos_of(span: &Span) -> Pos {
    Pos { line: u32::try_from(span.start.line()).unwrap_or(u32::MAX), col: col_of(span.start.col()) }
}

fn col_of(col: usize) -> u32 {
    u32::try_from(col.saturating_add(1)).unwrap_or(u32::MAX)
}

enum Frame {
    Seq { items: Vec<Node>, pos: Pos, anchor: usize },
    Map { entries: Vec<(Key, Node)>, keys: BTreeSet<String>, pending: Option<Key>, pos: Pos, anchor: usize },
}

/// Parses one YAML document. An empty document (only comments or whitespace) is `Ok(None)`.
/// What the files of one stack may expand to, together: each file's values and alias bytes count against what the
/// files before it left (an include of ten files each just under the limit is not ten times the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub nodes: usize,
    pub alias_bytes: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { nodes: MAX_NODES, alias_bytes: MAX_ALIAS_BYTES }
    }
}

pub fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    parse_within(source, &mut Budget::default())
}

/// Parses one file under what is left of its stack's `budget`, and takes what it used from it.
pub fn parse_within(source: &str, budget: &mut Budget) -> Result<Option<Node>, SyntaxError> {
    let (max_nodes, max_alias_bytes) = (budget.nodes, budget.alias_bytes);
    let parsed = parse_bounded(source, max_nodes, max_alias_bytes)?;
    if let Some((_, nodes, alias_bytes)) = &parsed {
        budget.nodes = budget.nodes.saturating_sub(*nodes);
        budget.alias_bytes = budget.alias_bytes.saturating_sub(*alias_bytes);
    }
    Ok(parsed.map(|(node, _, _)| node))
}

/// The document, with how many values it holds and how many bytes its aliases added.
fn parse_bounded(
    source: &str,
    max_nodes: usize,
    max_alias_bytes: usize,
) -> Result<Option<(Node, usize, usize)>, SyntaxError> {
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchor with what expanding it costs: its nodes and its bytes.
    let mut anchors: BTreeMap<usize, (Node, usize, usize)> = BTreeMap::new();
    let mut alias_bytes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| scan_error(source, &e))?;
        let pos = pos_of(&span);
        let complete = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        pos,
                        message: "a stack file holds one YAML document; found a second `---` document".into(),
                        hint: Some("split the documents into separate files and use `include:`".into()),
                    });
                }
                None
            }
            Event::Alias(id) => {
                let (node, count, bytes) = anchors.get(&id).ok_or_else(|| SyntaxError {
                    pos,
                    message: "alias refers to an unknown anchor".into(),
                    hint: None,
                })?;
                // Checked before the copy is made: the budget bounds memory, not just the count afterwards.
                nodes = nodes.saturating_add(*count);
                alias_bytes = alias_bytes.saturating_add(*bytes);
                if alias_bytes > max_alias_bytes {
                    return Err(SyntaxError {
                        pos,
                        message: format!(
                            "aliases expand the document by more than {} MiB (with the stack's files before it)",
                            MAX_ALIAS_BYTES >> 20
                        ),
                        hint: Some("aliases that repeat large values many times are refused".into()),
                    });
                }
                if nodes > max_nodes {
                    return Err(too_many_nodes(pos));
                }
                Some((node.clone(), 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string =
                    tag.as_ref().is_some_and(|t| t.suffix == "str" || t.suffix == "tag:yaml.org,2002:str");
                let kind = if style == ScalarStyle::Plain && !forced_string {
                    plain_scalar(&text)
                } else {
                    NodeKind::Str(text.into_owned())
                };
                Some((Node { kind, pos }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                push_frame(&mut stack, Frame::Seq { items: Vec::new(), pos, anchor }, pos)?;
                None
            }
            Event::MappingStart(anchor, _) => {
                push_frame(
                    &mut stack,
                    Frame::Map { entries: Vec::new(), keys: BTreeSet::new(), pending: None, pos, anchor },
                    pos,
                )?;
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, pos, anchor }) => Some((Node { kind: NodeKind::Seq(items), pos }, anchor)),
                _ => return Err(internal(pos)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { entries, pos, anchor, .. }) => {
                    Some((Node { kind: NodeKind::Map(entries), pos }, anchor))
                }
                _ => return Err(internal(pos)),
            },
        };

        let Some((node, anchor)) = complete else { continue };
        nodes += 1;
        if nodes > max_nodes {
            return Err(too_many_nodes(pos));
        }
        if anchor > 0 {
            let (count, bytes) = measure(&node);
            anchors.insert(anchor, (node.clone(), count, bytes));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, keys, pending, .. }) => match pending.take() {
                None => {
                    let name = match node.kind {
                        NodeKind::Str(s) => s,
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Bool(b) => b.to_string(),
                        NodeKind::Float(f) => f.to_string(),
                        NodeKind::Null => "null".to_string(),
                        NodeKind::Seq(_) | NodeKind::Map(_) => {
                            return Err(SyntaxError {
                                pos: node.pos,
                                message: "map keys must be plain names, not lists or maps".into(),
                                hint: None,
                            })
                        }
                    };
                    if !keys.insert(name.clone()) {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: format!("duplicate key `{name}`"),
                            hint: Some("each key may appear once in a map".into()),
                        });
                    }
                    *pending = Some(Key { name, pos: node.pos });
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(root.map(|node| (node, nodes, alias_bytes)))
}

fn push_frame(stack: &mut Vec<Frame>, frame: Frame, pos: Pos) -> Result<(), SyntaxError> {
    if stack.len() >= MAX_DEPTH {
        return Err(SyntaxError {
            pos,
            message: format!("the document nests deeper than {MAX_DEPTH} levels"),
            hint: None,
        });
    }
    stack.push(frame);
    Ok(())
}

fn too_many_nodes(pos: Pos) -> SyntaxError {
    SyntaxError {
        pos,
        message: format!("the document expands to more than {MAX_NODES} values (with the stack's files before it)"),
        hint: Some("aliases that expand exponentially are refused".into()),
    }
}

/// A node's size: how many nodes, and how many bytes of keys and scalars.
fn measure(node: &Node) -> (usize, usize) {
    let (mut count, mut bytes) = (0usize, 0usize);
    let mut pending = vec![node];
    while let Some(n) = pending.pop() {
        count += 1;
        match &n.kind {
            NodeKind::Seq(items) => pending.extend(items.iter()),
            NodeKind::Map(entries) => {
                bytes = bytes.saturating_add(entries.iter().map(|(k, _)| k.name.len()).sum::<usize>());
                pending.extend(entries.iter().map(|(_, v)| v));
            }
            NodeKind::Str(s) => bytes = bytes.saturating_add(s.len()),
            _ => bytes = bytes.saturating_add(8),
        }
    }
    (count, bytes)
}

fn internal(pos: Pos) -> SyntaxError {
    SyntaxError { pos, message: "unbalanced YAML structure".into(), hint: None }
}

fn scan_error(source: &str, error: &saphyr_parser::ScanError) -> SyntaxError {
    let marker = error.marker();
    let pos = Pos { line: u32::try_from(marker.line()).unwrap_or(u32::MAX), col: col_of(marker.col()) };
    let line_text = source.lines().nth(marker.line().saturating_sub(1)).unwrap_or("");
    let hint = if line_text.contains('\t') {
        Some("YAML does not allow tabs for indentation; indent with spaces".to_string())
    } else {
        None
    };
    SyntaxError { pos, message: format!("invalid YAML: {}", error.info()), hint }
}

/// The YAML 1.2 core schema for plain scalars.
fn plain_scalar(text: &str) -> NodeKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return NodeKind::Int(i);
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeKind::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return NodeKind::Int(i);
        }
    }
    let looks_numeric = digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                return NodeKind::Float(f);
            }
        }
    }
    NodeKind::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> NodeKind {
        match parse(src) {
            Ok(Some(node)) => node.kind,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn types_plain_scalars_by_core_schema() {
        let NodeKind::Map(entries) = kinds("a: 1\nb: true\nc: '1'\nd: ~\ne: 1.5\nf: hello\n") else {
            panic!("not a map")
        };
        let kinds: Vec<_> = entries.into_iter().map(|(_, v)| v.kind).collect();
        assert_eq!(
            kinds,
            vec![
                NodeKind::Int(1),
                NodeKind::Bool(true),
                NodeKind::Str("1".into()),
                NodeKind::Null,
                NodeKind::Float(1.5),
                NodeKind::Str("hello".into())
            ]
        );
    }

    #[test]
    fn remembers_positions() {
        let Ok(Some(node)) = parse("name: x\nresources:\n  a:\n    type: t\n") else { panic!() };
        let NodeKind::Map(entries) = node.kind else { panic!() };
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        let NodeKind::Map(inner) = &entries[1].1.kind else { panic!() };
        assert_eq!(inner[0].0.pos, Pos { line: 3, col: 3 });
    }

    #[test]
    fn refuses_duplicate_keys() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(err.message.contains("duplicate key `a`"));
    }

    #[test]
    fn refuses_deep_nesting_without_overflow() {
        // Flow style meets the scanner's own limit, block style this module's; both are errors, not crashes.
        let flow = "[".repeat(100_000);
        let err = parse(&flow).unwrap_err();
        assert!(err.message.contains("recursion limit") || err.message.contains("nests deeper"), "{}", err.message);
        let mut block = String::new();
        for depth in 0..(MAX_DEPTH + 10) {
            block.push_str(&" ".repeat(depth));
            block.push_str("a:\n");
        }
        let err = parse(&block).unwrap_err();
        assert!(err.message.contains("nests deeper"), "{}", err.message);
    }

    #[test]
    fn hints_at_tabs() {
        let err = parse("a:\n\tb: 1\n").unwrap_err();
        assert!(err.hint.unwrap_or_default().contains("tabs"));
    }

    #[test]
    fn empty_document_is_none() {
        assert_eq!(parse("# only a comment\n"), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn expands_aliases_under_a_budget() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            src.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = parse(&src).unwrap_err();
        assert!(err.message.contains("expands"), "{}", err.message);
    }

    /// The bomb of the issue: a 100 KB string repeated through aliases (few nodes, many bytes).
    #[test]
    fn refuses_a_large_string_repeated_through_aliases_quickly() {
        let big = "x".repeat(100 * 1024);
        let mut src = format!("s: &s \"{big}\"\nl0: &l0 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n");
        for i in 1..8 {
            let p = i - 1;
            src.push_str(&format!(
                "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
            ));
        }
        // Refused when the budget would be exceeded, before the copy that exceeds it: memory stays bounded by the
        // budget (the unbounded version of this document took 4 GB in 5 s).
        let err = parse(&src).unwrap_err();
        assert!(err.message.contains("aliases expand the document by more than 16 MiB"), "{}", err.message);
    }

    #[test]
    fn modest_aliases_still_work() {
        let Ok(Some(node)) = parse("base: &b {runtime: python3.12, memorySize: 256}\nf1: *b\nf2: *b\n") else {
            panic!()
        };
        let NodeKind::Map(entries) = node.kind else { panic!() };
        assert_eq!(entries.len(), 3);
    }
}
