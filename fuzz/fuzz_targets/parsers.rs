//! The small parsers that read operator and subscriber input: source ids, event filters,
//! subscriber URLs, provider names, `whsec_` keys, retry schedules and `Retry-After`.
//! Input: a selector byte, then the text.

#![no_main]

use std::time::Duration;

use hookpost_shared::delivery::{RetrySchedule, classify_status, visibility_after};
use hookpost_shared::secret::SigningKey;
use hookpost_shared::signature::Provider;
use hookpost_shared::source::{MAX_SOURCE_ID_LEN, SourceId};
use hookpost_shared::subscription::{event_types_match, parse_event_filters, parse_target_url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 7 {
        0 => {
            if let Ok(id) = SourceId::parse(text) {
                // What parses is URL-, key- and log-safe, and round-trips.
                assert!(id.as_str().len() <= MAX_SOURCE_ID_LEN);
                assert!(
                    id.as_str()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                );
                assert_eq!(SourceId::parse(id.as_str()).as_ref(), Ok(&id));
            }
        }
        1 => {
            // `filters|event type`
            let (filters, event_type) = text.split_once('|').unwrap_or((text, ""));
            if let Ok(filters) = parse_event_filters(filters) {
                assert!(!filters.is_empty());
                let _ = event_types_match(&filters, Some(event_type));
                let _ = event_types_match(&filters, None);
            }
        }
        2 => {
            if let Ok(url) = parse_target_url(text) {
                assert!(matches!(url.scheme(), "http" | "https"));
                assert!(url.host().is_some() && url.username().is_empty());
            }
        }
        3 => {
            if let Ok(provider) = text.parse::<Provider>() {
                assert_eq!(provider.name().parse::<Provider>(), Ok(provider));
            }
        }
        4 => {
            if let Ok(key) = SigningKey::parse(text) {
                let again = SigningKey::parse(key.to_whsec().expose()).expect("round trip");
                assert_eq!(again.bytes(), key.bytes());
            }
            let _ = SigningKey::parse_lenient(text);
        }
        5 => {
            // `schedule|receive count|Retry-After`
            let mut parts = text.splitn(3, '|');
            let schedule = parts.next().unwrap_or_default();
            let count = parts
                .next()
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(1);
            let retry_after = parts.next();
            if let Ok(schedule) = schedule.parse::<RetrySchedule>() {
                let ra = retry_after.and_then(|v| v.trim().parse::<u64>().ok());
                for jitter in [0.0, 0.5, 0.999_999] {
                    let _ = visibility_after(
                        &schedule,
                        count,
                        Some(11),
                        ra.map(Duration::from_secs),
                        jitter,
                    );
                }
            }
        }
        _ => {
            let status = u16::from_le_bytes([rest.first().copied().unwrap_or(0), 0]) + 200;
            let _ = classify_status(status, Some(text));
        }
    }
});
