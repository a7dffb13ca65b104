//! Which deployment a command talks to: the local stack (`--local`), a CloudFormation stack's
//! outputs (`--stack NAME` / `HOOKPOST_STACK`), or the `HOOKPOST_*` variables — as an
//! [`Operations`] handle on it.

use aws_config::SdkConfig;
use hookpost_local::LocalState;
use hookpost_operations::Operations;
use hookpost_shared::aws::destinations::{DESTINATIONS_VARIABLE, arn_list};
use hookpost_shared::config::ConfigError;
use hookpost_shared::deployment::StackNames;

use crate::CliError;
use crate::cli::Global;

/// A resolved deployment.
#[derive(Debug)]
pub struct Target {
    pub ops: Operations,
    /// The receiver's base URL (`…/webhooks/`), when known.
    pub receiver_url: Option<String>,
}

impl Target {
    pub async fn resolve(global: &Global) -> Result<Self, CliError> {
        let parts = resolve_parts(global).await?;
        Ok(Self {
            ops: Operations::new(&parts.sdk, parts.names, parts.receiver_url.clone())
                .with_destinations(parts.destinations),
            receiver_url: parts.receiver_url,
        })
    }
}

/// What a deployment is, wherever it was read from.
struct Parts {
    sdk: SdkConfig,
    names: StackNames,
    receiver_url: Option<String>,
    /// The ARNs subscriptions may target (`DestinationArns`).
    destinations: Vec<String>,
}

async fn resolve_parts(global: &Global) -> Result<Parts, CliError> {
    if global.local {
        let state = LocalState::load(&LocalState::path()).map_err(CliError::Failed)?;
        let sdk = hookpost_local::emulator::sdk_config_for(&state.endpoints(), &state.region).await;
        return Ok(Parts {
            sdk,
            names: state.names,
            receiver_url: Some(state.receiver_url),
            destinations: state.destinations,
        });
    }
    let sdk = sdk_config(global).await;
    if let Some(stack) = global.stack.as_deref().filter(|s| !s.is_empty()) {
        let deployed = crate::cloudformation::describe(&sdk, stack)
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        return Ok(Parts {
            sdk,
            names: deployed.names,
            receiver_url: Some(deployed.webhook_base_url),
            destinations: deployed.destinations,
        });
    }
    let names = names_from(|name| std::env::var(name).ok())?;
    Ok(Parts {
        sdk,
        names,
        receiver_url: std::env::var("HOOKPOST_RECEIVER_URL").ok(),
        destinations: std::env::var(DESTINATIONS_VARIABLE)
            .map(|v| arn_list(&v))
            .unwrap_or_default(),
    })
}

/// The deployment named by the `HOOKPOST_*` variables; the first missing one is named.
fn names_from(var: impl Fn(&str) -> Option<String>) -> Result<StackNames, CliError> {
    StackNames::from_lookup(var).map_err(|e| {
        let name = match e {
            ConfigError::Missing { name } | ConfigError::Invalid { name, .. } => name,
        };
        CliError::Usage(format!(
            "{name} is not set: pass --stack NAME (the deployed CloudFormation stack), \
             --local for the local stack, or export the stack's outputs as the HOOKPOST_* \
             variables (docs/deploying.md, \"Using the CLI\")"
        ))
    })
}

/// The SDK configuration of the environment, with `--region` and `--profile` applied.
async fn sdk_config(global: &Global) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &global.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_missing_variable_is_named() {
        let err = names_from(|name| (name != "HOOKPOST_EVENTS_TABLE").then(|| "x".to_owned()))
            .expect_err("one is missing");
        assert!(
            err.to_string()
                .starts_with("HOOKPOST_EVENTS_TABLE is not set"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn all_eight_variables_name_a_deployment() {
        let names = names_from(|name| Some(name.to_lowercase())).expect("complete");
        assert_eq!(names.events_table, "hookpost_events_table");
        assert_eq!(
            names.dead_letter_queue_url,
            "hookpost_dead_letter_queue_url"
        );
    }
}
