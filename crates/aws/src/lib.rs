//! The AWS side of msk-autoheal: narrow ports the use cases depend on, their SDK adapters, one
//! classified error type, and the SDK configuration every binary loads once.

pub mod callbacks;
pub mod cloudwatch;
pub mod error;
pub mod kafka;
pub mod lease;
pub mod ports;
pub mod s3;
pub mod sdk;
pub mod secrets;
pub mod sfn;
pub mod sfn_history;
pub mod sns;
pub mod ssm;

pub use error::{AwsError, ErrorKind};
