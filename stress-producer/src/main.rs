//! stress-producer: the EC2 client's load generator.
fn main() {}
