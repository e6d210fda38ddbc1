//! Use cases of msk-autoheal: each Lambda's handler logic, generic over the AWS ports, so the
//! Lambdas, the `autoheal` CLI's dry runs and the tests run the same code.

pub mod approval;
pub mod detect;
pub mod error;
pub mod lease;
pub mod workflow;

pub use error::{AppError, Result};
