//! Ports and SDK adapters.
