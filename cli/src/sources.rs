//! `hookpost sources`: one provider endpoint each; the URL to give the provider and its secret.

use clap::Subcommand;
use hookpost_operations::sources::{CreatedSource, NewSource, Rotate, Rotation, SourceView};
use hookpost_operations::{Operations, PageRequest};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;

use crate::output::{Output, or_dash, print_table, table};
use crate::rotation::RotationFields;
use crate::scheme::SchemeArgs;
use crate::{CliError, parse};

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Create a source and print the URL to give the provider, and its secret (once).
    #[command(
        after_help = "Example:\n  hookpost --local sources add github-main --provider github"
    )]
    Add {
        /// Source id: letters, digits, `-` and `_`; the last segment of the webhook URL.
        #[arg(value_parser = parse::source_id)]
        name: SourceId,
        #[arg(long)]
        provider: Provider,
        /// The provider's secret; a strong one is generated when omitted.
        #[arg(long, env = "HOOKPOST_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Timestamp tolerance in seconds (timestamped schemes).
        #[arg(long)]
        tolerance_seconds: Option<u64>,
        #[command(flatten)]
        scheme: Box<SchemeArgs>,
    },
    /// List sources (secrets are never shown).
    List,
    /// Show one source (its secret is never shown).
    Show {
        #[arg(value_parser = parse::source_id)]
        name: SourceId,
    },
    /// Add a new secret beside the current ones and print it (once); `--finish` retires all but
    /// the newest once the provider signs with it.
    #[command(
        after_help = "Example:\n  hookpost --local sources rotate-secret github-main\n  # paste the new secret into GitHub, then:\n  hookpost --local sources rotate-secret github-main --finish"
    )]
    RotateSecret {
        #[arg(value_parser = parse::source_id)]
        name: SourceId,
        /// The new secret, when the provider generates it; a strong one is generated otherwise.
        #[arg(
            long,
            env = "HOOKPOST_SECRET",
            hide_env_values = true,
            conflicts_with = "finish"
        )]
        secret: Option<String>,
        /// Retire every secret but the newest.
        #[arg(long)]
        finish: bool,
    },
    /// Delete a source.
    Remove {
        #[arg(value_parser = parse::source_id)]
        name: SourceId,
    },
}

pub async fn run(
    ops: &Operations,
    output: Output,
    command: SourcesCommand,
) -> Result<(), CliError> {
    match command {
        SourcesCommand::Add {
            name,
            provider,
            secret,
            tolerance_seconds,
            scheme,
        } => {
            let options = scheme.options(provider).map_err(CliError::Usage)?;
            let created = ops
                .add_source(NewSource {
                    source_id: name,
                    provider,
                    secret: secret.map(Secret::new),
                    tolerance_seconds,
                    options,
                })
                .await?;
            output.show(&created, print_created)
        }
        SourcesCommand::List => {
            let all = all_sources(ops).await?;
            output.show(&all, |all| print_sources(all))
        }
        SourcesCommand::Show { name } => {
            let one = [ops.get_source(&name).await?];
            output.show(&one, |one| print_sources(one))
        }
        SourcesCommand::RotateSecret {
            name,
            secret,
            finish,
        } => {
            let rotate = if finish {
                Rotate::Finish
            } else {
                Rotate::Add(secret.map(Secret::new))
            };
            let rotation = ops.rotate_source_secret(&name, rotate).await?;
            output.show(&SourceRotation::from(rotation), |r| r.print())
        }
        SourcesCommand::Remove { name } => {
            let removed = ops.remove_source(&name).await?;
            output.show(
                &serde_json::json!({ "source_id": removed.id, "removed": removed.removed }),
                |_| println!("removed {}", removed.id),
            )
        }
    }
}

/// Every source, page after page.
async fn all_sources(ops: &Operations) -> Result<Vec<SourceView>, CliError> {
    let mut all = Vec::new();
    let mut page = Some(PageRequest::first(hookpost_operations::page::MAX_LIMIT)?);
    while let Some(request) = page {
        let got = ops.list_sources(&request).await?;
        all.extend(got.items);
        page = request.next(got.next_cursor);
    }
    Ok(all)
}

fn print_created(created: &CreatedSource) {
    let s = &created.source;
    println!("source    {} ({})", s.source_id, s.provider);
    match &created.secret {
        Some(secret) => {
            println!("url       {}", or_dash(s.url.as_deref()));
            println!("secret    {}", secret.expose());
            println!("Give the provider this URL and secret; the secret is not shown again.");
        }
        None => println!(
            "Publish its events with POST /v1/sources/{}/events, signed with IAM (SigV4).",
            s.source_id
        ),
    }
}

fn print_sources(list: &[SourceView]) {
    let mut t = table([
        "SOURCE",
        "PROVIDER",
        "SECRETS",
        "TOLERANCE",
        "CREATED",
        "URL",
    ]);
    for s in list {
        t.add_row([
            s.source_id.clone(),
            s.provider.to_owned(),
            s.secrets.to_string(),
            if s.tolerance_seconds == 0 {
                "-".to_owned()
            } else {
                format!("{}s", s.tolerance_seconds)
            },
            s.created_at.clone(),
            or_dash(s.url.as_deref()),
        ]);
    }
    print_table(&t);
}

/// A rotation as `sources rotate-secret` reports it.
#[derive(Debug, serde::Serialize)]
struct SourceRotation {
    source_id: String,
    #[serde(flatten)]
    rotation: RotationFields,
}

impl From<Rotation> for SourceRotation {
    fn from(r: Rotation) -> Self {
        Self {
            source_id: r.id.clone(),
            rotation: r.into(),
        }
    }
}

impl SourceRotation {
    fn print(&self) {
        self.rotation.print(&self.source_id);
    }
}
