//! A short-lived cache of sources for the warm receiver: one DynamoDB read per source per TTL
//! instead of one per webhook. Unknown ids are not cached, so a source is usable as soon as it is
//! created; a changed secret takes effect within the TTL (rotation keeps the old one valid anyway).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::source::{Source, SourceId};
use crate::store::{SourceStore, StoreError};

/// A [`SourceStore`] that remembers what it found for `ttl`.
#[derive(Debug)]
pub struct CachedSources<S> {
    inner: S,
    ttl: Duration,
    entries: Mutex<HashMap<SourceId, (Instant, Source)>>,
}

impl<S> CachedSources<S> {
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::default(),
        }
    }
}

impl<S: SourceStore> SourceStore for CachedSources<S> {
    async fn get_source(&self, id: &SourceId) -> Result<Option<Source>, StoreError> {
        let cached = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, source)| source.clone());
        if cached.is_some() {
            return Ok(cached);
        }
        let found = self.inner.get_source(id).await?;
        if let Some(source) = &found {
            self.entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id.clone(), (Instant::now(), source.clone()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::secret::Secret;
    use crate::signature::{Provider, SchemeOptions};

    #[derive(Default)]
    struct Counting {
        reads: AtomicUsize,
        known: bool,
    }

    impl SourceStore for Counting {
        async fn get_source(&self, id: &SourceId) -> Result<Option<Source>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.known.then(|| Source {
                source_id: id.clone(),
                provider: Provider::Github,
                secrets: vec![Secret::new("s")],
                tolerance_seconds: None,
                options: SchemeOptions::default(),
                created_at: String::new(),
            }))
        }
    }

    #[tokio::test]
    async fn a_known_source_is_read_once_per_ttl_and_an_unknown_one_every_time() {
        let id = SourceId::parse("gh").expect("valid");
        let known = CachedSources::new(
            Counting {
                known: true,
                ..Counting::default()
            },
            Duration::from_secs(60),
        );
        for _ in 0..3 {
            assert!(known.get_source(&id).await.expect("ok").is_some());
        }
        assert_eq!(known.inner.reads.load(Ordering::SeqCst), 1);

        let unknown = CachedSources::new(Counting::default(), Duration::from_secs(60));
        for _ in 0..3 {
            assert!(unknown.get_source(&id).await.expect("ok").is_none());
        }
        assert_eq!(unknown.inner.reads.load(Ordering::SeqCst), 3);

        let expired = CachedSources::new(
            Counting {
                known: true,
                ..Counting::default()
            },
            Duration::ZERO,
        );
        for _ in 0..2 {
            expired.get_source(&id).await.expect("ok");
        }
        assert_eq!(expired.inner.reads.load(Ordering::SeqCst), 2);
    }
}
