//! The layers' dependency bounds, read from `cargo tree`: the domain links no AWS or Lambda crate
//! at all, and the use cases no AWS SDK and no Lambda runtime, so their tests build without them.

use std::process::Command;

/// Every crate `package` depends on (normal dependencies, features as built), one name per line.
fn tree(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "-p", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<String> =
        text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect();
    assert!(names.len() > 10, "{package} has a tree: {text}");
    names
}

#[test]
fn the_domain_has_no_aws_or_lambda_crate() {
    let names = tree("vidgate-domain");
    let bad: Vec<&String> =
        names.iter().filter(|n| n.starts_with("aws") || n.starts_with("lambda")).collect();
    assert!(bad.is_empty(), "vidgate-domain depends on {bad:?}");
}

#[test]
fn the_use_cases_have_no_aws_sdk_and_no_lambda_runtime() {
    let names = tree("vidgate-uploads");
    assert!(names.iter().any(|n| n == "vidgate-domain"));
    let bad: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.starts_with("aws-sdk")
                || n.starts_with("aws-smithy")
                || n.starts_with("aws-config")
                || n.starts_with("lambda")
        })
        .collect();
    assert!(bad.is_empty(), "vidgate-uploads depends on {bad:?}");
}

#[test]
fn the_edge_does_link_them_so_this_test_can_fail() {
    let names = tree("vidgate");
    assert!(names.iter().any(|n| n.starts_with("aws-sdk-s3")));
    assert!(names.iter().any(|n| n == "lambda_http"));
}
