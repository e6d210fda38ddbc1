//! Identifiers derived from a cluster name (letters, digits, hyphens) for each language's snippet.
//! A suffix keeps them clear of every keyword (`class`, `new`, `import`, ...).

use crate::cluster::ClusterName;

fn words(name: &ClusterName) -> impl Iterator<Item = &str> {
    name.as_str().split('-').filter(|w| !w.is_empty())
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// Terraform resource label: identifiers may hold hyphens but must not start with a digit.
pub fn terraform_label(name: &ClusterName) -> String {
    let s = name.as_str();
    if s.starts_with(|c: char| c.is_ascii_digit() || c == '-') { format!("msk_{s}") } else { s.to_owned() }
}

/// TypeScript variable: `msk-demo-01` → `mskDemo01Cluster`.
pub fn camel(name: &ClusterName) -> String {
    let mut out = String::new();
    for (i, w) in words(name).enumerate() {
        if i == 0 { out.push_str(&w.to_ascii_lowercase()) } else { out.push_str(&capitalised(w)) }
    }
    let out = if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() { format!("msk{out}") } else { out };
    out + "Cluster"
}

/// Python variable: `msk-demo-01` → `msk_demo_01_cluster`.
pub fn snake(name: &ClusterName) -> String {
    let joined = words(name).map(str::to_ascii_lowercase).collect::<Vec<_>>().join("_");
    let joined = if joined.starts_with(|c: char| c.is_ascii_digit()) || joined.is_empty() {
        format!("msk_{joined}")
    } else {
        joined
    };
    joined + "_cluster"
}

/// CloudFormation logical id (alphanumeric): `msk-demo-01` → `MskDemo01Cluster`.
pub fn pascal(name: &ClusterName) -> String {
    let joined: String = words(name).map(capitalised).collect();
    let joined = if joined.starts_with(|c: char| c.is_ascii_digit()) || joined.is_empty() {
        format!("Msk{joined}")
    } else {
        joined
    };
    joined + "Cluster"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> ClusterName {
        ClusterName::parse(s).unwrap()
    }

    #[test]
    fn identifiers() {
        assert_eq!(terraform_label(&n("demo")), "demo");
        assert_eq!(terraform_label(&n("1st-cluster")), "msk_1st-cluster");
        assert_eq!(camel(&n("msk-demo-01")), "mskDemo01Cluster");
        assert_eq!(camel(&n("9lives")), "msk9livesCluster");
        assert_eq!(camel(&n("class")), "classCluster");
        assert_eq!(snake(&n("msk-demo-01")), "msk_demo_01_cluster");
        assert_eq!(snake(&n("--")), "msk__cluster");
        assert_eq!(pascal(&n("msk-demo-01")), "MskDemo01Cluster");
        assert_eq!(pascal(&n("42")), "Msk42Cluster");
    }
}
