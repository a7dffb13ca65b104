//! The flags that describe a scheme's options besides the secret (public URL, GitHub's legacy
//! SHA-1, a generic HMAC layout), shared by `sources add`, `sign`, `send` and `verify`.

use clap::{Args, ValueEnum};
use hookpost_shared::signature::{
    DigestEncoding, GenericHmac, HmacAlgorithm, OptionsError, Provider, SchemeOptions,
};

/// Options some schemes need besides the secret.
#[derive(Debug, Clone, Default, Args)]
pub struct SchemeArgs {
    /// The exact public URL configured at the provider (Twilio, Square).
    #[arg(long)]
    pub public_url: Option<String>,
    /// GitHub: also accept the legacy SHA-1 `X-Hub-Signature`.
    #[arg(long)]
    pub allow_sha1: bool,
    /// generic-hmac: the header carrying the signature.
    #[arg(long)]
    pub signature_header: Option<String>,
    /// generic-hmac: the HMAC algorithm.
    #[arg(long, value_enum)]
    pub algorithm: Option<Algorithm>,
    /// generic-hmac: how the digest is written.
    #[arg(long, value_enum)]
    pub encoding: Option<Encoding>,
    /// generic-hmac: text before the digest, e.g. `sha256=`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// generic-hmac: the header carrying a signed Unix timestamp.
    #[arg(long)]
    pub timestamp_header: Option<String>,
    /// generic-hmac: what is signed, with `{body}` and `{timestamp}`, e.g. `{timestamp}.{body}`.
    #[arg(long)]
    pub template: Option<String>,
    /// generic-hmac: the header naming the event type.
    #[arg(long)]
    pub event_type_header: Option<String>,
    /// generic-hmac: the header carrying the provider's delivery id.
    #[arg(long)]
    pub delivery_id_header: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    Hex,
    Base64,
}

impl SchemeArgs {
    /// The scheme options these flags describe, checked against the provider.
    pub fn options(&self, provider: Provider) -> Result<SchemeOptions, String> {
        let generic = match (&self.signature_header, self.algorithm, self.encoding) {
            (Some(header), Some(algorithm), Some(encoding)) => Some(GenericHmac {
                algorithm: match algorithm {
                    Algorithm::Sha1 => HmacAlgorithm::Sha1,
                    Algorithm::Sha256 => HmacAlgorithm::Sha256,
                    Algorithm::Sha512 => HmacAlgorithm::Sha512,
                },
                encoding: match encoding {
                    Encoding::Hex => DigestEncoding::Hex,
                    Encoding::Base64 => DigestEncoding::Base64,
                },
                header: header.to_ascii_lowercase(),
                prefix: self.prefix.clone(),
                timestamp_header: self
                    .timestamp_header
                    .as_deref()
                    .map(str::to_ascii_lowercase),
                template: self.template.clone(),
                event_type_header: self
                    .event_type_header
                    .as_deref()
                    .map(str::to_ascii_lowercase),
                delivery_id_header: self
                    .delivery_id_header
                    .as_deref()
                    .map(str::to_ascii_lowercase),
            }),
            (None, None, None) => None,
            _ => {
                return Err(
                    "generic-hmac needs --signature-header, --algorithm and --encoding together"
                        .to_owned(),
                );
            }
        };
        let options = SchemeOptions {
            public_url: self.public_url.clone(),
            allow_sha1: self.allow_sha1,
            generic,
        };
        provider.check_options(&options).map_err(|e| match e {
            OptionsError::NoPublicUrl(p) => format!(
                "{p} signs the URL it posts to: pass --public-url with the URL configured at {p}"
            ),
            OptionsError::NoLayout => {
                "generic-hmac needs --signature-header, --algorithm and --encoding".to_owned()
            }
            OptionsError::BadLayout(why) => format!("generic-hmac layout: {why}"),
            OptionsError::NotApplicable(why) => why.to_owned(),
        })?;
        Ok(options)
    }
}
