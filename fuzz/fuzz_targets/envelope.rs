//! The envelope decoder on arbitrary queue messages: never panics, and what it accepts
//! re-encodes to an envelope that decodes to the same value.

#![no_main]

use hookpost_shared::envelope::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(envelope) = Envelope::decode(message) else {
        return;
    };
    let _ = envelope.body.bytes();
    let again = Envelope::decode(&envelope.encode()).expect("an encoded envelope decodes");
    assert_eq!(again, envelope);
});
