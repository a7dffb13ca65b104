//! Public keys decoded once per process, not once per request.
//!
//! Discord's and SendGrid's sources hold a public key as text (hex, base64 DER). Decoding it is
//! not free: an Ed25519 key is a compressed point that takes a field square root to decompress,
//! a P-256 SubjectPublicKeyInfo is DER to walk and a point to check on the curve. A warm function
//! serves the same few sources over and over, so each scheme keeps the keys it decoded, by their
//! text. These are public keys: nothing here is secret, and a key that fails to decode is never
//! kept (its error comes back on every request, as before).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::VerifyError;

/// Past this many keys the cache starts over. A function serves a handful of sources; the bound
/// only stops a stream of distinct keys (one source rotated many times) from growing it forever.
const CAPACITY: usize = 64;

/// The keys one scheme decoded, by their text.
pub(super) struct ParsedKeys<K>(Mutex<Option<HashMap<String, K>>>);

impl<K: Clone> ParsedKeys<K> {
    pub(super) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The key `text` decodes to: kept from an earlier call, or decoded by `decode` and kept.
    pub(super) fn get(
        &self,
        text: &str,
        decode: impl FnOnce(&str) -> Result<K, VerifyError>,
    ) -> Result<K, VerifyError> {
        if let Some(key) = self.lock().as_ref().and_then(|keys| keys.get(text)) {
            return Ok(key.clone());
        }
        // Decoded outside the lock: two requests may both decode a new key, and the second
        // insert replaces the first with an equal value.
        let key = decode(text)?;
        let mut keys = self.lock();
        let keys = keys.get_or_insert_with(HashMap::new);
        if keys.len() >= CAPACITY {
            keys.clear();
        }
        keys.insert(text.to_owned(), key.clone());
        Ok(key)
    }

    fn lock(&self) -> MutexGuard<'_, Option<HashMap<String, K>>> {
        // The map is valid whatever a panicking holder was doing: every write is one insert.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().as_ref().map_or(0, HashMap::len)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const BAD: VerifyError = VerifyError::Unconfigured("not a number");

    fn decode(counter: &Cell<u32>) -> impl Fn(&str) -> Result<u64, VerifyError> + '_ {
        move |text| {
            counter.set(counter.get() + 1);
            text.parse().map_err(|_| BAD)
        }
    }

    #[test]
    fn a_key_is_decoded_once_and_served_after() {
        let keys = ParsedKeys::new();
        let decoded = Cell::new(0);
        assert_eq!(keys.get("42", decode(&decoded)).ok(), Some(42));
        assert_eq!(keys.get("42", decode(&decoded)).ok(), Some(42));
        assert_eq!(keys.get("7", decode(&decoded)).ok(), Some(7));
        assert_eq!(decoded.get(), 2, "each distinct text decoded once");
    }

    #[test]
    fn a_key_that_fails_to_decode_is_not_kept_and_fails_every_time() {
        let keys = ParsedKeys::<u64>::new();
        let decoded = Cell::new(0);
        for _ in 0..2 {
            assert!(matches!(
                keys.get("forty-two", decode(&decoded)),
                Err(VerifyError::Unconfigured(_))
            ));
        }
        assert_eq!(decoded.get(), 2);
        assert_eq!(keys.len(), 0);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let keys = ParsedKeys::new();
        let decoded = Cell::new(0);
        for n in 0..(CAPACITY as u64 * 3) {
            assert_eq!(keys.get(&n.to_string(), decode(&decoded)).ok(), Some(n));
            assert!(keys.len() <= CAPACITY);
        }
        // The newest key is still served without decoding.
        let before = decoded.get();
        let last = (CAPACITY as u64 * 3 - 1).to_string();
        assert!(keys.get(&last, decode(&decoded)).is_ok());
        assert_eq!(decoded.get(), before);
    }
}
