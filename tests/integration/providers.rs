//! Every provider, end to end through the receiver against the emulator: a request signed as the
//! provider signs it is accepted and queued once; the same delivery again is answered as a
//! duplicate and not queued again.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hookpost_cli::signing::provider_headers;
use hookpost_shared::aws::{DynamoClient, DynamoSources};
use hookpost_shared::clock::{SystemClock, rfc3339};
use hookpost_shared::envelope::Envelope;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{
    DigestEncoding, GenericHmac, HmacAlgorithm, Provider, SchemeOptions,
};
use hookpost_shared::source::{Source, SourceId};
use p256::ecdsa::signature::DigestSigner as _;
use sha2::{Digest as _, Sha256};

use crate::support::{self, Answer, ApiEvent, invoke};

/// A body every JSON provider can read its event type and delivery id from.
fn json_body(now: i64) -> Vec<u8> {
    serde_json::json!({
        "id": "evt_provider_1",
        "event_id": "Ev0001",
        "type": "invoice.paid",
        "topic": "conversation.user.created",
        "action": "create",
        "webhookTimestamp": now * 1000,
        "data": { "object": { "amount": 1200 } },
    })
    .to_string()
    .into_bytes()
}

/// The secret, options, body and signed headers a provider would use.
fn signed(provider: Provider, now: i64) -> (Secret, SchemeOptions, Vec<u8>, Vec<(String, String)>) {
    let mut options = SchemeOptions::default();
    let mut body = json_body(now);
    let secret = match provider {
        Provider::StandardWebhooks => SigningKey::generate().expect("rng").to_whsec(),
        Provider::Stripe => Secret::new("whsec_stripe_integration_secret"),
        _ => Secret::new("integration-secret"),
    };
    match provider {
        Provider::Twilio => {
            options.public_url = Some("https://hooks.example.com/webhooks/twilio".to_owned());
            body = b"AccountSid=AC1&MessageSid=SM1&MessageStatus=delivered".to_vec();
        }
        Provider::Slack => {
            body =
                br#"{"type":"event_callback","event_id":"Ev0001","event":{"type":"app_mention"}}"#
                    .to_vec();
        }
        Provider::Zoom => {
            body = br#"{"event":"meeting.started","event_ts":1,"payload":{"object":{"id":"1"}}}"#
                .to_vec();
        }
        Provider::Square => {
            options.public_url = Some("https://hooks.example.com/webhooks/square".to_owned());
        }
        Provider::GenericHmac => {
            options.generic = Some(GenericHmac {
                algorithm: HmacAlgorithm::Sha512,
                encoding: DigestEncoding::Base64,
                header: "x-acme-signature".to_owned(),
                prefix: Some("v1=".to_owned()),
                timestamp_header: Some("x-acme-timestamp".to_owned()),
                template: Some("{timestamp}:{body}".to_owned()),
                event_type_header: Some("x-acme-event".to_owned()),
                delivery_id_header: Some("x-acme-delivery".to_owned()),
            });
        }
        Provider::Sendgrid => {
            body = br#"[{"email":"a@example.com","event":"delivered","sg_event_id":"sg1","timestamp":1}]"#
                .to_vec();
            let key = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).expect("scalar");
            // SubjectPublicKeyInfo for an uncompressed P-256 point: the fixed DER prefix
            // (id-ecPublicKey, prime256v1, BIT STRING) followed by the point, as SendGrid shows it.
            let mut public =
                hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").expect("hex");
            public.extend_from_slice(key.verifying_key().to_encoded_point(false).as_bytes());
            let digest = Sha256::new()
                .chain_update(now.to_string().as_bytes())
                .chain_update(&body);
            let signature: p256::ecdsa::Signature = key.sign_digest(digest);
            let headers = vec![
                (
                    "x-twilio-email-event-webhook-signature".to_owned(),
                    BASE64.encode(signature.to_der().as_bytes()),
                ),
                (
                    "x-twilio-email-event-webhook-timestamp".to_owned(),
                    now.to_string(),
                ),
            ];
            return (Secret::new(BASE64.encode(&public)), options, body, headers);
        }
        Provider::Discord => {
            body = br#"{"id":"1180000000000000002","type":2,"data":{"name":"ping"}}"#.to_vec();
            let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
            let mut message = now.to_string().into_bytes();
            message.extend_from_slice(&body);
            let signature = ed25519_dalek::Signer::sign(&key, &message);
            let headers = vec![
                (
                    "x-signature-ed25519".to_owned(),
                    hex::encode(signature.to_bytes()),
                ),
                ("x-signature-timestamp".to_owned(), now.to_string()),
            ];
            return (
                Secret::new(hex::encode(key.verifying_key().as_bytes())),
                options,
                body,
                headers,
            );
        }
        _ => {}
    }
    let mut headers = provider_headers(provider, &secret, &body, Some("push"), now, &options)
        .unwrap_or_else(|e| panic!("{provider} signs: {e}"));
    if provider == Provider::GenericHmac {
        headers.push(("x-acme-delivery".to_owned(), "acme-1".to_owned()));
    }
    (secret, options, body, headers)
}

#[tokio::test]
async fn every_provider_signed_request_is_queued_once_and_its_redelivery_is_a_duplicate() {
    let r = support::resources().await;
    let receiver = support::receiver(&r.sdk, &r.names, Arc::new(SystemClock));
    let sources = DynamoSources::new(DynamoClient::new(&r.sdk), &r.names.sources_table);
    let now = support::now();
    let mut queued = 0;
    for &provider in Provider::ALL {
        let id = provider.name().to_owned();
        let (secret, options, body, headers) = signed(provider, now);
        sources
            .create(&Source {
                source_id: SourceId::parse(&id).expect("valid id"),
                provider,
                secrets: vec![secret],
                tolerance_seconds: None,
                options,
                created_at: rfc3339(std::time::SystemTime::now()),
            })
            .await
            .expect("PutItem");

        let request = ApiEvent::post(&id).headers(&headers).body(&body);
        let first = invoke(&receiver, request.event()).await;
        let (status, event_id) = accepted_event(&first);
        // Discord interactions must be answered with a deferred response, the event id in a header.
        let expected = if provider == Provider::Discord {
            200
        } else {
            202
        };
        assert_eq!(status, expected, "{provider}: {}", first.json());
        queued += 1;
        assert_eq!(
            support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
            queued,
            "{provider} is queued once"
        );

        let again = invoke(&receiver, request.event()).await;
        assert_eq!(again.status, 200, "{provider}: {}", again.json());
        if provider != Provider::Discord {
            assert_eq!(again.json()["duplicate"], true, "{provider}");
        }
        assert_eq!(
            accepted_event(&again).1,
            event_id,
            "{provider}: the original event id"
        );
        assert_eq!(
            support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
            queued,
            "{provider}'s redelivery is not queued again"
        );
    }
    let envelopes = support::drain(&r.sdk, &r.names.ingest_queue_url).await;
    let mut providers: Vec<_> = envelopes
        .iter()
        .map(|body| Envelope::decode(body).expect("envelope").provider.name())
        .collect();
    providers.sort_unstable();
    let mut all: Vec<_> = Provider::ALL.iter().map(|p| p.name()).collect();
    all.sort_unstable();
    assert_eq!(providers, all, "one envelope per provider");
}

/// The status and the event id an accepted request was answered with.
fn accepted_event(answer: &Answer) -> (u16, String) {
    let from_header = answer
        .headers
        .get(hookpost_receiver::EVENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_body = answer.json()["event_id"].as_str().map(str::to_owned);
    let event_id = from_header.or(from_body).unwrap_or_default();
    (answer.status, event_id)
}
