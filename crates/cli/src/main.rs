//! `autoheal`: the operators' CLI.
fn main() {}
