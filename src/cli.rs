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
    /// Apply the saved plan (no argument), a plan file, or plan-and-apply a stack file.
    Apply(ApplyArgs),
    /// Delete every resource of a stack.
    Destroy(DestroyArgs),
    /// Update the state from what really exists in AWS; changes no resource.
    Refresh { stack: PathBuf },
    /// Adopt an existing resource under a logical name of the stack.
    Import { stack: PathBuf, name: String, id: String },
    /// Print the stack's outputs.
    Output {
        stack: PathBuf,
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Inspect and repair state.
    #[command(subcommand)]
    State(StateCommand),
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

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan file (default: the one saved plan in .stackr/plans/) or a stack file (.yaml) to plan and apply.
    pub target: Option<PathBuf>,
    /// Do not ask for confirmation (stack files only).
    #[arg(long)]
    pub auto_approve: bool,
    /// Most provider calls in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub parallelism: usize,
    /// Allow deleting or replacing tables, keys, secrets and log groups.
    #[arg(long)]
    pub allow_data_loss: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    pub stack: PathBuf,
    #[arg(long)]
    pub auto_approve: bool,
    #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub parallelism: usize,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every resource in the state: name, type, physical id.
    List { stack: PathBuf },
    /// One resource as recorded (secrets redacted).
    Show { stack: PathBuf, name: String },
    /// Forget a resource (it stays in AWS).
    Rm { stack: PathBuf, name: String },
    /// Remove a stale lock.
    ///
    /// A local lock is removed only when its process is gone. An S3 lock is removed only once its lease ran out,
    /// unless `--force` (its holder's machine cannot be seen from here: be sure that run is gone).
    Unlock {
        stack: PathBuf,
        /// Remove an S3 lock whose lease is still current.
        #[arg(long)]
        force: bool,
    },
    /// Copy the state to another backend unchanged.
    Migrate {
        stack: PathBuf,
        #[arg(long)]
        to: String,
    },
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
