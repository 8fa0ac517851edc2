//! The dependency graph of a stack's resources, on petgraph.
//!
//! An edge `a → b` means `b` needs `a` first (it refers to `a` or lists it in `dependsOn`). The order is
//! Kahn's algorithm with ready nodes taken by name, so the same stack always gives the same order; deletes run
//! in the reverse order. A cycle is reported with its members in order, starting from the smallest name.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: {}", .members.join(" → "))]
pub struct CycleError {
    /// The resources of the cycle in order; the first is repeated at the end.
    pub members: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DependencyGraph {
    graph: DiGraph<String, ()>,
    index: BTreeMap<String, NodeIndex>,
}

impl DependencyGraph {
    /// Builds the graph from each node's dependencies. Dependencies on names that are not nodes are ignored
    /// (the loader has already reported them).
    pub fn new<'a>(nodes: impl IntoIterator<Item = (&'a str, &'a BTreeSet<String>)>) -> DependencyGraph {
        let nodes: BTreeMap<&str, &BTreeSet<String>> = nodes.into_iter().collect();
        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        let mut index = BTreeMap::new();
        // Nodes are added in name order, so index order is name order.
        for name in nodes.keys() {
            index.insert((*name).to_string(), graph.add_node((*name).to_string()));
        }
        for (name, dependencies) in &nodes {
            let to = index[*name];
            for dependency in dependencies.iter() {
                if let Some(&from) = index.get(dependency) {
                    graph.add_edge(from, to, ());
                }
            }
        }
        DependencyGraph { graph, index }
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Names in dependency order (dependencies first; ties by name), or the first cycle found.
    pub fn order(&self) -> Result<Vec<String>, CycleError> {
        let mut in_degree: Vec<usize> =
            self.graph.node_indices().map(|n| self.graph.neighbors_directed(n, Direction::Incoming).count()).collect();
        let mut ready: BinaryHeap<Reverse<NodeIndex>> =
            self.graph.node_indices().filter(|n| in_degree[n.index()] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some(Reverse(node)) = ready.pop() {
            order.push(self.graph[node].clone());
            for next in self.graph.neighbors_directed(node, Direction::Outgoing) {
                in_degree[next.index()] -= 1;
                if in_degree[next.index()] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        if order.len() == self.graph.node_count() {
            return Ok(order);
        }
        let remaining: BTreeSet<NodeIndex> = self.graph.node_indices().filter(|n| in_degree[n.index()] > 0).collect();
        Err(self.cycle_among(&remaining))
    }

    /// Finds a cycle among nodes left over by Kahn's algorithm: from the smallest-named node, the shortest path
    /// back to itself.
    fn cycle_among(&self, remaining: &BTreeSet<NodeIndex>) -> CycleError {
        for &start in remaining {
            let mut previous: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
            let mut queue = VecDeque::from([start]);
            let mut seen = BTreeSet::from([start]);
            while let Some(node) = queue.pop_front() {
                let mut successors: Vec<NodeIndex> = self
                    .graph
                    .neighbors_directed(node, Direction::Outgoing)
                    .filter(|n| remaining.contains(n))
                    .collect();
                successors.sort();
                for next in successors {
                    if next == start {
                        let mut path = vec![node];
                        let mut current = node;
                        while current != start {
                            current = previous[&current];
                            path.push(current);
                        }
                        path.reverse();
                        let mut members: Vec<String> = path.iter().map(|n| self.graph[*n].clone()).collect();
                        members.push(self.graph[start].clone());
                        return CycleError { members };
                    }
                    if seen.insert(next) {
                        previous.insert(next, node);
                        queue.push_back(next);
                    }
                }
            }
        }
        CycleError { members: remaining.iter().map(|n| self.graph[*n].clone()).collect() }
    }

    /// Every node that `names` depend on, directly or not, plus `names` themselves.
    pub fn with_dependencies<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut result = BTreeSet::new();
        let mut pending: Vec<NodeIndex> = names.into_iter().filter_map(|n| self.index.get(n).copied()).collect();
        while let Some(node) = pending.pop() {
            if result.insert(self.graph[node].clone()) {
                pending.extend(self.graph.neighbors_directed(node, Direction::Incoming));
            }
        }
        result
    }

    /// Every edge as (dependency, dependent), sorted.
    pub fn edges(&self) -> Vec<(&str, &str)> {
        let mut edges: Vec<(&str, &str)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[a].as_str(), self.graph[b].as_str()))
            .collect();
        edges.sort();
        edges
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: &[(&str, &[&str])]) -> DependencyGraph {
        let owned: Vec<(String, BTreeSet<String>)> =
            spec.iter().map(|(n, deps)| (n.to_string(), deps.iter().map(|d| d.to_string()).collect())).collect();
        DependencyGraph::new(owned.iter().map(|(n, d)| (n.as_str(), d)))
    }

    #[test]
    fn orders_dependencies_first_and_breaks_ties_by_name() {
        let g =
            graph(&[("fn", &["role", "table"]), ("table", &["key"]), ("role", &[]), ("key", &[]), ("api", &["fn"])]);
        assert_eq!(g.order(), Ok(vec!["key".into(), "role".into(), "table".into(), "fn".into(), "api".into()]));
    }

    #[test]
    fn reports_cycle_members_in_order() {
        let g = graph(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        assert_eq!(g.order(), Err(CycleError { members: vec!["a".into(), "b".into(), "c".into(), "a".into()] }));
        assert_eq!(g.order().unwrap_err().to_string(), "dependency cycle: a → b → c → a");
    }

    #[test]
    fn collects_transitive_dependencies() {
        let g = graph(&[("api", &["fn"]), ("fn", &["role"]), ("role", &[]), ("other", &[])]);
        let got: Vec<String> = g.with_dependencies(["api"]).into_iter().collect();
        assert_eq!(got, vec!["api", "fn", "role"]);
    }
}
