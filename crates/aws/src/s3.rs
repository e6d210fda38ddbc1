//! S3 adapter: `ObjectStore` over `aws_sdk_s3::Client` (captures, plans, SSM output).

use crate::error::{AwsError, ErrorKind, Result};
use crate::ports::ObjectStore;
use aws_sdk_s3::primitives::ByteStream;
use tracing::instrument;

#[derive(Clone, Debug)]
pub struct Bucket {
    client: aws_sdk_s3::Client,
}

impl Bucket {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

impl ObjectStore for Bucket {
    #[instrument(skip(self, body), fields(bytes = body.len()))]
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> Result<()> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", e))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetObject", e))?;
        let data =
            out.body.collect().await.map_err(|e| {
                AwsError::new("GetObject", ErrorKind::Transient, format!("reading the body failed: {e}"))
            })?;
        Ok(data.into_bytes().to_vec())
    }

    /// ListObjectsV2 (prefix = the key) says whether the key exists; only then GetObject. A key
    /// deleted in between reads as NotFound or AccessDenied, as any missing key.
    #[instrument(skip(self))]
    async fn get_object_if_exists(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let listed = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(key)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListObjectsV2", e))?;
        if !listed.contents().iter().any(|o| o.key() == Some(key)) {
            return Ok(None);
        }
        self.get_object(bucket, key).await.map(Some)
    }
}
