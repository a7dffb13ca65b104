//! Large bodies in S3 (the claim check): the receiver stores a body that does not fit a queue
//! message, the envelope carries its key, the dispatcher reads it back.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use super::sdk_error;
use crate::store::{BodyStore, StoreError};

/// The bodies bucket.
#[derive(Debug, Clone)]
pub struct S3Bodies {
    client: Client,
    bucket: String,
}

impl S3Bodies {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

impl BodyStore for S3Bodies {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_error("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("GetObject", e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::new("GetObject", format!("reading the body: {e}")))?;
        Ok(bytes.into_bytes().to_vec())
    }
}
