//! The secrets of one launch: the token in the printed URL, the session cookie it is exchanged
//! for, and the CSRF token every form carries. Each is 256 random bits from the operating
//! system (`getrandom`), lives only in memory, and is compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq as _;

/// Random bytes per token: 256 bits, twice the 128 the security model asks for.
const TOKEN_BYTES: usize = 32;

/// A random per-launch token. Its Debug output is redacted.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl Token {
    /// A fresh token, hex-encoded (URL-, cookie- and form-safe as it is).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    /// Whether `candidate` is this token; the time taken does not depend on where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        // `ct_eq` on slices of different lengths is false without comparing; the length of a
        // token is public (64 hex digits), so that early answer leaks nothing.
        bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The three secrets of one launch.
#[derive(Debug, Clone)]
pub struct LaunchSecrets {
    /// In the printed URL; exchanged for the session cookie.
    pub url_token: Token,
    /// The session cookie's value.
    pub session: Token,
    /// The hidden `csrf` field of every form.
    pub csrf: Token,
}

impl LaunchSecrets {
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self {
            url_token: Token::generate()?,
            session: Token::generate()?,
            csrf: Token::generate()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_256_random_bits_and_two_launches_differ() {
        let a = Token::generate().expect("randomness");
        let b = Token::generate().expect("randomness");
        assert_eq!(a.expose().len(), TOKEN_BYTES * 2);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_token_matches_itself_only() {
        let token = Token::generate().expect("randomness");
        assert!(token.matches(token.expose()));
        let mut near = token.expose().to_owned();
        let last = if near.ends_with('0') { "1" } else { "0" };
        near.replace_range(near.len() - 1.., last);
        for wrong in [
            "",
            "0",
            near.as_str(),
            &token.expose()[1..],
            &format!("{}0", token.expose()),
        ] {
            assert!(!token.matches(wrong), "{wrong}");
        }
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let secrets = LaunchSecrets::generate().expect("randomness");
        let debug = format!("{secrets:?}");
        for token in [&secrets.url_token, &secrets.session, &secrets.csrf] {
            assert!(!debug.contains(token.expose()));
        }
    }
}
