//! Command-line arguments (clap derive only; no behaviour here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "stackr", version, about = "Declarative infrastructure for serverless backends on AWS")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse a stack, check it against the resource schemas, resolve references and check the graph.
    Validate { stack: PathBuf },
    /// Show what apply would change, and save the plan.
    Plan(PlanArgs),
    /// Print the dependency graph.
    Graph {
        stack: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    pub stack: PathBuf,
    /// Where to save the plan (default: .stackr/plans/<stack>.plan.json).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Read every resource from AWS first and show drift (`--refresh=false` to skip).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub refresh: bool,
    /// Plan only these resources and what they depend on.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Exit 2 when the plan has changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the deletion of every resource in the state.
    #[arg(long)]
    pub destroy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}
