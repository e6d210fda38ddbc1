//! Detector Lambda entry point.
fn main() {}
