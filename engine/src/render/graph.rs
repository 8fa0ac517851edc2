//! The dependency graph as Graphviz dot or a Mermaid flowchart: nodes sorted by name, edges from each
//! dependency to what needs it.

use std::fmt::Write;

use crate::graph::DependencyGraph;
use crate::stack::Stack;

pub fn dot(stack: &Stack, graph: &DependencyGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(&stack.name));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  node [shape=box];");
    for name in graph.names() {
        let type_name = stack.resources.get(name).map(|r| r.type_name.as_str()).unwrap_or("");
        let _ = writeln!(out, "  \"{}\" [label=\"{}\\n{}\"];", escape(name), escape(name), escape(type_name));
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(out, "  \"{}\" -> \"{}\";", escape(from), escape(to));
    }
    let _ = writeln!(out, "}}");
    out
}

pub fn mermaid(stack: &Stack, graph: &DependencyGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "flowchart LR");
    for name in graph.names() {
        let type_name = stack.resources.get(name).map(|r| r.type_name.as_str()).unwrap_or("");
        let _ = writeln!(out, "  {}[\"{}<br/>{}\"]", mermaid_id(name), name, type_name);
    }
    for (from, to) in graph.edges() {
        let _ = writeln!(out, "  {} --> {}", mermaid_id(from), mermaid_id(to));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Mermaid ids cannot hold `-`; names are letters, digits, `_` and `-`, so this stays unique.
fn mermaid_id(name: &str) -> String {
    name.replace('-', "__")
}
