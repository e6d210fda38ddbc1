//! The fix for Terraform users: `number_of_broker_nodes` of the `aws_msk_cluster`, either as a
//! generic diff or as a unified diff that applies (`patch -p1`, `git apply`) to their own files.
//!
//! Their files are parsed with a real HCL parser (hcl-edit) to find the exact bytes of the value,
//! and only those bytes are replaced: comments, alignment and everything else stay as they were.
//! When the attribute is `var.X`, the value is changed where it is set: an `X = N` in a `.tfvars`
//! file among those given (it wins over a default, as in Terraform), else the `default` of
//! `variable "X"`.

use super::{FixRequest, names};
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::{Span, parser};
use similar::TextDiff;
use std::ops::Range;
use thiserror::Error;

/// A Terraform file as the operator named it (the name goes into the diff headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerraformFile {
    pub path: String,
    pub content: String,
}

/// Why no patch could be made. Every message is one line and tells what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TerraformError {
    #[error("{path}: HCL parse error at line {line}, column {column}: {message}")]
    Parse { path: String, line: usize, column: usize, message: String },
    #[error("no resource \"aws_msk_cluster\" in {files}: pass the file that declares the cluster")]
    NoCluster { files: String },
    #[error(
        "several aws_msk_cluster resources ({labels}) and none has cluster_name = \"{name}\": pass only the file with the right one"
    )]
    Ambiguous { labels: String, name: String },
    #[error("{path}: aws_msk_cluster.{label} has no number_of_broker_nodes attribute")]
    NoAttribute { path: String, label: String },
    #[error(
        "{path}: number_of_broker_nodes of aws_msk_cluster.{label} is neither a number nor var.<name>; change it by hand to {to}"
    )]
    Unsupported { path: String, label: String, to: u32 },
    #[error(
        "number_of_broker_nodes is var.{variable}, and none of the given files sets it (a `{variable} = N` in a .tfvars file, or a default in variable \"{variable}\"): add that file with another --tf-file"
    )]
    VariableNotSet { variable: String },
    #[error(
        "{path}:{line}: {what} is {found}, but the cluster has {from} brokers: is this the right cluster or an outdated file?"
    )]
    Mismatch { path: String, line: usize, what: String, found: String, from: u32 },
    #[error("{path}:{line}: {what} is already {to}: nothing to change")]
    AlreadyThere { path: String, line: usize, what: String, to: u32 },
}

/// The generic diff shown when no file is given, with the resource named after the cluster.
pub fn render_generic(req: &FixRequest) -> String {
    let name = req.cluster_arn.name();
    let (from, to) = (req.brokers.from(), req.brokers.to());
    format!(
        "# Terraform: change number_of_broker_nodes on the aws_msk_cluster, then `terraform apply`\n\
         # (an in-place update through UpdateBrokerCount). Keep it in your code after msk-autoheal has\n\
         # scaled the cluster, or the next apply tries to take it back to {from} brokers.\n\
         # `autoheal fix --format terraform --tf-file <your .tf>` prints a patch for your own file.\n \
         resource \"aws_msk_cluster\" \"{label}\" {{\n \
           cluster_name = \"{name}\"\n \
           # ...\n\
         -  number_of_broker_nodes = {from}\n\
         +  number_of_broker_nodes = {to}\n \
           # ...\n \
         }}\n",
        label = names::terraform_label(name),
    )
}

/// Where the number to change lives.
struct Target {
    file: usize,
    span: Range<usize>,
    what: String,
}

/// A unified diff against `files` that sets the cluster's broker count to the target.
pub fn terraform_file_diff(req: &FixRequest, files: &[TerraformFile]) -> Result<String, TerraformError> {
    let bodies = files
        .iter()
        .map(|f| {
            parser::parse_body(&f.content).map_err(|e| TerraformError::Parse {
                path: f.path.clone(),
                line: e.location().line(),
                column: e.location().column(),
                message: e.message().replace('\n', " "),
            })
        })
        .collect::<Result<Vec<Body>, _>>()?;

    let (file, block) = find_cluster(req, files, &bodies)?;
    let label = block.labels.get(1).map(|l| l.as_str().to_owned()).unwrap_or_default();
    let path = &files[file].path;
    let attr = block
        .body
        .get_attribute("number_of_broker_nodes")
        .ok_or_else(|| TerraformError::NoAttribute { path: path.clone(), label: label.clone() })?;
    let target = match &attr.value {
        Expression::Number(_) => Target {
            file,
            span: attr.value.span().expect("parsed values carry spans"),
            what: format!("number_of_broker_nodes of aws_msk_cluster.{label}"),
        },
        expr => match var_name(expr) {
            Some(var) => find_variable(files, &bodies, &var)?,
            None => return Err(TerraformError::Unsupported { path: path.clone(), label, to: req.brokers.to() }),
        },
    };

    let source = &files[target.file].content;
    let found = source[target.span.clone()].trim();
    let line = source[..target.span.start].lines().count().max(1);
    let (from, to) = (req.brokers.from(), req.brokers.to());
    if found.parse::<u64>() == Ok(u64::from(to)) {
        return Err(TerraformError::AlreadyThere {
            path: files[target.file].path.clone(),
            line,
            what: target.what,
            to,
        });
    }
    if found.parse::<u64>() != Ok(u64::from(from)) {
        return Err(TerraformError::Mismatch {
            path: files[target.file].path.clone(),
            line,
            what: target.what,
            found: found.to_owned(),
            from,
        });
    }
    let mut edited = String::with_capacity(source.len());
    edited.push_str(&source[..target.span.start]);
    edited.push_str(&to.to_string());
    edited.push_str(&source[target.span.end..]);

    let path = &files[target.file].path;
    let diff = TextDiff::from_lines(source.as_str(), edited.as_str());
    Ok(diff.unified_diff().context_radius(3).header(&format!("a/{path}"), &format!("b/{path}")).to_string())
}

/// The cluster's resource block: the one whose `cluster_name` is the cluster's name, or the only one.
fn find_cluster<'a>(
    req: &FixRequest,
    files: &[TerraformFile],
    bodies: &'a [Body],
) -> Result<(usize, &'a Block), TerraformError> {
    let clusters: Vec<(usize, &Block)> = bodies
        .iter()
        .enumerate()
        .flat_map(|(i, body)| body.get_blocks("resource").filter(|b| is_msk_cluster(b)).map(move |b| (i, b)))
        .collect();
    let name = req.cluster_arn.name().as_str();
    let named: Vec<&(usize, &Block)> = clusters
        .iter()
        .filter(|(_, b)| {
            matches!(b.body.get_attribute("cluster_name").map(|a| &a.value),
                     Some(Expression::String(s)) if s.value() == name)
        })
        .collect();
    match (named.as_slice(), clusters.as_slice()) {
        ([one], _) => Ok(**one),
        ([], [only]) => Ok(*only),
        ([], []) => Err(TerraformError::NoCluster {
            files: files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", "),
        }),
        _ => Err(TerraformError::Ambiguous {
            labels: clusters
                .iter()
                .map(|(_, b)| b.labels.get(1).map(|l| l.as_str().to_owned()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
            name: name.to_owned(),
        }),
    }
}

fn is_msk_cluster(block: &Block) -> bool {
    block.labels.len() == 2 && block.labels[0].as_str() == "aws_msk_cluster"
}

/// `var.X` → `X`.
fn var_name(expr: &Expression) -> Option<String> {
    let Expression::Traversal(t) = expr else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    match (root.as_str(), t.operators.as_slice()) {
        ("var", [op]) => match op.value() {
            TraversalOperator::GetAttr(ident) => Some(ident.as_str().to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// Where variable `var` gets its value among the files: a tfvars assignment, else its default.
fn find_variable(files: &[TerraformFile], bodies: &[Body], var: &str) -> Result<Target, TerraformError> {
    let tfvars = files.iter().zip(bodies).enumerate().find_map(|(i, (f, body))| {
        if !(f.path.ends_with(".tfvars")) {
            return None;
        }
        body.get_attribute(var).map(|a| (i, a.value.span()))
    });
    if let Some((file, Some(span))) = tfvars {
        return Ok(Target { file, span, what: format!("{var} in {}", files[file].path) });
    }
    let default = bodies.iter().enumerate().find_map(|(i, body)| {
        body.get_blocks("variable")
            .find(|b| b.labels.len() == 1 && b.labels[0].as_str() == var)
            .and_then(|b| b.body.get_attribute("default"))
            .and_then(|a| a.value.span())
            .map(|span| (i, span))
    });
    match default {
        Some((file, span)) => Ok(Target { file, span, what: format!("the default of variable \"{var}\"") }),
        None => Err(TerraformError::VariableNotSet { variable: var.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::request;
    use super::*;
    use std::fs;
    use std::process::Command;

    const MAIN_TF: &str = r#"# The demo cluster. Formatting below is deliberately uneven: it must survive.
resource "aws_msk_configuration" "this" {
  name           = "demo-3-6-0"
  kafka_versions = ["3.6.0"]
  server_properties = <<-PROPERTIES
    default.replication.factor=2
  PROPERTIES
}

resource "aws_msk_cluster" "other" {
  cluster_name           = "other"
  number_of_broker_nodes = 2
}

resource "aws_msk_cluster" "demo" {
  cluster_name    = "demo"
  kafka_version   = "3.6.0"
  number_of_broker_nodes    =   2   # two AZs, one broker each

  broker_node_group_info {
    instance_type   = "kafka.t3.small"
    client_subnets  = [aws_subnet.a.id, aws_subnet.b.id]   # keep
    security_groups = [aws_security_group.msk.id]
  }
}
"#;

    fn file(path: &str, content: &str) -> TerraformFile {
        TerraformFile { path: path.to_owned(), content: content.to_owned() }
    }

    /// Applies `diff` with the real `patch -p1` in a scratch directory holding `files`; returns the
    /// patched files' contents.
    fn apply_with_patch(name: &str, files: &[TerraformFile], diff: &str) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("autoheal-tf-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for f in files {
            let p = dir.join(&f.path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, &f.content).unwrap();
        }
        fs::write(dir.join("fix.diff"), diff).unwrap();
        let out = Command::new("patch")
            .args(["-p1", "--batch", "--forward", "-i", "fix.diff"])
            .current_dir(&dir)
            .output()
            .expect("patch is installed (scripts/setup.sh installs it)");
        assert!(
            out.status.success(),
            "patch failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let result = files.iter().map(|f| fs::read_to_string(dir.join(&f.path)).unwrap()).collect();
        fs::remove_dir_all(&dir).unwrap();
        result
    }

    /// The lines that differ between two texts, as (old, new) pairs; the line count must match.
    fn changed_lines<'a>(old: &'a str, new: &'a str) -> Vec<(&'a str, &'a str)> {
        assert_eq!(old.lines().count(), new.lines().count());
        old.lines().zip(new.lines()).filter(|(a, b)| a != b).collect()
    }

    #[test]
    fn patch_applies_and_changes_only_the_named_clusters_attribute() {
        let files = [file("infra/main.tf", MAIN_TF)];
        let diff = terraform_file_diff(&request(2, 4), &files).unwrap();
        assert!(diff.starts_with("--- a/infra/main.tf\n+++ b/infra/main.tf\n@@ "), "{diff}");
        let patched = apply_with_patch("literal", &files, &diff);
        assert_eq!(
            changed_lines(MAIN_TF, &patched[0]),
            [(
                "  number_of_broker_nodes    =   2   # two AZs, one broker each",
                "  number_of_broker_nodes    =   4   # two AZs, one broker each"
            )]
        );
        // Still HCL, and the value is the target.
        let body = parser::parse_body(&patched[0]).unwrap();
        let demo = body.get_blocks("resource").find(|b| b.labels[1].as_str() == "demo").unwrap();
        assert_eq!(demo.body.get_attribute("number_of_broker_nodes").unwrap().value.to_string().trim(), "4");
    }

    #[test]
    fn a_variable_is_changed_where_it_is_set() {
        let main = "resource \"aws_msk_cluster\" \"this\" {\n  cluster_name = \"${var.name}\"\n  number_of_broker_nodes = var.broker_count\n}\n";
        let vars = "variable \"name\" {\n  default = \"demo\"\n}\n\nvariable \"broker_count\" {\n  description = \"Brokers; a multiple of the AZs.\"\n  type        = number\n  default     = 2\n\n  validation {\n    condition     = var.broker_count % 2 == 0\n    error_message = \"even\"\n  }\n}\n";
        let files = [file("msk.tf", main), file("variables.tf", vars)];
        let diff = terraform_file_diff(&request(2, 4), &files).unwrap();
        assert!(diff.starts_with("--- a/variables.tf\n"), "{diff}");
        let patched = apply_with_patch("variable", &files, &diff);
        assert_eq!(patched[0], main);
        assert_eq!(changed_lines(vars, &patched[1]), [("  default     = 2", "  default     = 4")]);

        // A tfvars assignment wins over the default, as in Terraform.
        let tfvars = "name         = \"demo\"\nbroker_count = 2 # sized for the demo\n";
        let files = [file("msk.tf", main), file("variables.tf", vars), file("prod.tfvars", tfvars)];
        let diff = terraform_file_diff(&request(2, 4), &files).unwrap();
        let patched = apply_with_patch("tfvars", &files, &diff);
        assert_eq!(patched[1], vars);
        assert_eq!(
            changed_lines(tfvars, &patched[2]),
            [("broker_count = 2 # sized for the demo", "broker_count = 4 # sized for the demo")]
        );

        // Without the file that sets it: a clear error.
        let e = terraform_file_diff(&request(2, 4), &[file("msk.tf", main)]).unwrap_err();
        assert_eq!(e, TerraformError::VariableNotSet { variable: "broker_count".into() });
    }

    #[test]
    fn the_repository_demo_environment_is_patchable() {
        // infra/ of this repository: the cluster uses var.broker_count, declared in variables.tf.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let (Ok(msk), Ok(vars)) =
            (fs::read_to_string(root.join("infra/msk.tf")), fs::read_to_string(root.join("infra/variables.tf")))
        else {
            panic!("infra/msk.tf and infra/variables.tf are part of the repository");
        };
        let files = [file("infra/msk.tf", &msk), file("infra/variables.tf", &vars)];
        let diff = terraform_file_diff(&request(2, 4), &files).unwrap();
        let patched = apply_with_patch("infra", &files, &diff);
        assert_eq!(patched[0], msk);
        let changed = changed_lines(&vars, &patched[1]);
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert!(changed[0].0.contains("default") && changed[0].0.contains('2') && changed[0].1.contains('4'));
    }

    #[test]
    fn refusals_are_specific() {
        let req = request(2, 4);
        let e = terraform_file_diff(&req, &[file("x.tf", "resource \"aws_msk_cluster\" \"a\" {\n")]).unwrap_err();
        assert!(e.to_string().starts_with("x.tf: HCL parse error at line "), "{e}");
        assert!(!e.to_string().contains('\n'));

        let e = terraform_file_diff(&req, &[file("x.tf", "resource \"aws_s3_bucket\" \"b\" {}\n")]).unwrap_err();
        assert_eq!(e.to_string(), "no resource \"aws_msk_cluster\" in x.tf: pass the file that declares the cluster");

        let two = "resource \"aws_msk_cluster\" \"a\" {\n  cluster_name = \"a\"\n}\nresource \"aws_msk_cluster\" \"b\" {\n  cluster_name = \"b\"\n}\n";
        assert!(matches!(terraform_file_diff(&req, &[file("x.tf", two)]), Err(TerraformError::Ambiguous { .. })));

        let computed = "resource \"aws_msk_cluster\" \"demo\" {\n  number_of_broker_nodes = local.azs * 1\n}\n";
        assert!(matches!(
            terraform_file_diff(&req, &[file("x.tf", computed)]),
            Err(TerraformError::Unsupported { .. })
        ));

        let e = terraform_file_diff(&request(3, 6), &[file("main.tf", MAIN_TF)]).unwrap_err();
        assert!(matches!(e, TerraformError::Mismatch { line: 18, .. }), "{e}");

        let e = terraform_file_diff(&request(1, 2), &[file("main.tf", MAIN_TF)]).unwrap_err();
        assert!(matches!(e, TerraformError::AlreadyThere { .. }), "{e}");
    }

    #[test]
    fn generic_diff_names_the_resource_after_the_cluster() {
        let text = render_generic(&request(2, 4));
        assert!(text.contains(" resource \"aws_msk_cluster\" \"demo\" {\n"));
        assert!(text.contains("\n-  number_of_broker_nodes = 2\n+  number_of_broker_nodes = 4\n"));
    }
}
