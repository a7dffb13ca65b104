//! `hookpost sign`, `send` and `verify`: a body signed the way a provider signs it, posted to the
//! receiver, or checked the way the receiver checks it.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use hookpost_shared::clock::unix_seconds;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Check, Inbound, Provider, TimePolicy};
use hookpost_shared::source::SourceId;
use serde::Serialize;

use crate::output::Output;
use crate::scheme::SchemeArgs;
use crate::signing::{Headers, provider_headers};
use crate::{CliError, parse};

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Provider scheme: github, stripe, slack, shopify, standard-webhooks (alias svix), twilio,
    /// twitch, zoom, square, linear, intercom, gitlab, sendgrid, discord, generic-hmac.
    #[arg(long)]
    pub provider: Provider,
    /// The source's secret, as the provider shows it.
    #[arg(long, env = "HOOKPOST_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The body to sign.
    #[arg(long)]
    pub data_file: PathBuf,
    /// Event type, for providers that send it in a header (GitHub's X-GitHub-Event).
    #[arg(long)]
    pub event: Option<String>,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The source id the event is sent to.
    #[arg(long, value_parser = parse::source_id)]
    pub source: SourceId,
    /// The receiver's base URL (`…/webhooks/`); with --local, the local stack's.
    #[arg(long)]
    pub url: Option<String>,
    #[command(flatten)]
    pub sign: SignArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Provider scheme (see `hookpost sources add --help` for the list).
    #[arg(long)]
    pub provider: Provider,
    /// The secret or public key, as the provider's dashboard shows it.
    #[arg(long, env = "HOOKPOST_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The full URL the provider posted to (Twilio and Square sign it).
    #[arg(long, value_parser = url::Url::parse)]
    pub url: Option<url::Url>,
    /// Check timestamps against this instant (Unix seconds) instead of now.
    #[arg(long)]
    pub now: Option<i64>,
    /// Timestamp tolerance in seconds (default: the provider's).
    #[arg(long)]
    pub tolerance: Option<u64>,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_parser = request_header)]
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The exact request body.
    #[arg(long)]
    pub body_file: PathBuf,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

/// A request header exactly as a provider sent it (`Name: value`).
fn request_header(text: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: write headers as `Name: value`"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} is not printable"))?;
    Ok((name, value))
}

/// The body of `--data-file` and the headers the provider would send with it now.
fn signed_body(args: &SignArgs) -> Result<(Vec<u8>, Headers), CliError> {
    let body = std::fs::read(&args.data_file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.data_file.display())))?;
    let options = args
        .scheme
        .options(args.provider)
        .map_err(CliError::Usage)?;
    let headers = provider_headers(
        args.provider,
        &Secret::new(args.secret.clone()),
        &body,
        args.event.as_deref(),
        unix_seconds(SystemTime::now()),
        &options,
    )
    .map_err(CliError::Usage)?;
    Ok((body, headers))
}

pub fn sign(output: Output, args: &SignArgs) -> Result<(), CliError> {
    let (_, headers) = signed_body(args)?;
    #[derive(Serialize)]
    struct Signed {
        headers: std::collections::BTreeMap<String, String>,
    }
    let signed = Signed {
        headers: headers.iter().cloned().collect(),
    };
    output.show(&signed, |_| {
        for (name, value) in &headers {
            println!("{name}: {value}");
        }
    })
}

/// What the receiver answered a `send`.
#[derive(Debug, Serialize)]
struct Sent {
    status: u16,
    /// The answer's JSON, or its text when it is not JSON.
    response: serde_json::Value,
}

/// Posts a signed body to `{base}/{source}`; `base` is the receiver's base URL.
pub async fn send(output: Output, base: &str, args: &SendArgs) -> Result<(), CliError> {
    let (body, headers) = signed_body(&args.sign)?;
    let target = format!("{}/{}", base.trim_end_matches('/'), args.source);
    let client = reqwest::Client::new();
    let mut request = client.post(&target).body(body);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CliError::Failed(format!("posting to {target}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let sent = Sent {
        status,
        response: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.clone())),
    };
    output.show(&sent, |_| println!("{status} {text}"))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(CliError::Failed(format!("the receiver answered {status}")))
    }
}

/// A verification's verdict.
#[derive(Debug, Serialize)]
struct Verdict {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// `hookpost verify`: the receiver's own check, on a request given as flags and a body file.
pub fn verify(output: Output, args: &VerifyArgs) -> Result<(), CliError> {
    let body = std::fs::read(&args.body_file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.body_file.display())))?;
    let mut scheme = args.scheme.clone();
    let mut query = None;
    if let Some(url) = &args.url {
        query = url.query().map(str::to_owned);
        let mut base = url.clone();
        base.set_query(None);
        scheme.public_url.get_or_insert_with(|| base.to_string());
    }
    let options = scheme.options(args.provider).map_err(CliError::Usage)?;
    let mut headers = http::HeaderMap::new();
    for (name, value) in &args.headers {
        headers.append(name.clone(), value.clone());
    }
    let secrets = [Secret::new(args.secret.clone())];
    let tolerance = args
        .tolerance
        .map(std::time::Duration::from_secs)
        .unwrap_or_else(|| args.provider.default_tolerance());
    let check = Check {
        secrets: &secrets,
        policy: TimePolicy {
            now: args.now.unwrap_or_else(|| unix_seconds(SystemTime::now())),
            tolerance,
        },
        options: &options,
    };
    let inbound = Inbound {
        headers: &headers,
        body: &body,
        query: query.as_deref(),
    };
    let result = args.provider.verify(&check, &inbound);
    let verdict = match &result {
        Ok(()) => {
            let meta = args.provider.describe(&check, &inbound);
            Verdict {
                valid: true,
                event_type: meta.event_type,
                delivery_id: meta.delivery_id,
                code: None,
                message: None,
            }
        }
        Err(e) => Verdict {
            valid: false,
            event_type: None,
            delivery_id: None,
            code: Some(e.code()),
            message: Some(e.to_string()),
        },
    };
    output.show(&verdict, |v| match (&result, v) {
        (Ok(()), v) => println!(
            "valid ({} event {}, delivery {})",
            args.provider,
            v.event_type.as_deref().unwrap_or("-"),
            v.delivery_id.as_deref().unwrap_or("-")
        ),
        (Err(e), _) => println!("invalid: {}: {e}", e.code()),
    })?;
    result.map_err(|e| CliError::Invalid(e.code().to_owned()))
}
