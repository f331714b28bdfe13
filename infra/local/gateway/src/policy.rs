//! Session policies, evaluated as IAM evaluates them for the statements a session policy of ours
//! holds: an explicit `Deny` that matches wins; otherwise some `Allow` must match the action and
//! the resource. `*` and `?` are IAM's wildcards (actions compare case-insensitively, resources
//! exactly). A statement this evaluator can't read fully — a `Condition`, `NotAction`,
//! `NotResource`, `Principal` — never allows, and always denies what its action and resource
//! match: locally, unsure means no, so a policy that works here is no wider in AWS.

use serde_json::Value;

/// IAM's wildcard match: `*` any run of characters, `?` exactly one.
fn glob(pattern: &[u8], value: &[u8], fold: bool) -> bool {
    let eq = |a: u8, b: u8| if fold { a.eq_ignore_ascii_case(&b) } else { a == b };
    // Iterative match with one backtrack point, linear in practice.
    let (mut p, mut v, mut star, mut mark) = (0, 0, None, 0);
    while v < value.len() {
        if p < pattern.len() && (pattern[p] == b'?' || (pattern[p] != b'*' && eq(pattern[p], value[v]))) {
            p += 1;
            v += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = v;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            v = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// A string or a list of strings, as IAM writes `Action` and `Resource`.
fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn matches(statement: &Value, action: &str, resource: &str) -> bool {
    strings(statement.get("Action")).iter().any(|a| glob(a.as_bytes(), action.as_bytes(), true))
        && strings(statement.get("Resource")).iter().any(|r| glob(r.as_bytes(), resource.as_bytes(), false))
}

fn fully_understood(statement: &Value) -> bool {
    ["Condition", "NotAction", "NotResource", "Principal", "NotPrincipal"]
        .iter()
        .all(|k| statement.get(k).is_none())
}

/// Does `policy` allow `action` (`s3:PutObject`) on `resource` (an ARN)?
pub fn allows(policy: &Value, action: &str, resource: &str) -> bool {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let effect = |s: &Value| s.get("Effect").and_then(Value::as_str).unwrap_or_default().to_owned();
    let denied = statements
        .iter()
        .any(|s| (effect(s) == "Deny" || !fully_understood(s)) && matches(s, action, resource));
    let allowed = statements
        .iter()
        .any(|s| effect(s) == "Allow" && fully_understood(s) && matches(s, action, resource));
    allowed && !denied
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The policy vidgate issues for one object (see `domain::credentials`).
    fn one_object() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "UploadThisObjectOnly", "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": ["arn:aws:s3:::vidgate-videos/videos/abc/01.mp4"]}]})
    }

    #[test]
    fn only_the_granted_actions_on_the_granted_object_are_allowed() {
        let p = one_object();
        assert!(allows(&p, "s3:PutObject", "arn:aws:s3:::vidgate-videos/videos/abc/01.mp4"));
        assert!(allows(&p, "s3:putobject", "arn:aws:s3:::vidgate-videos/videos/abc/01.mp4"));
        assert!(!allows(&p, "s3:PutObject", "arn:aws:s3:::vidgate-videos/videos/abc/02.mp4"));
        assert!(!allows(&p, "s3:GetObject", "arn:aws:s3:::vidgate-videos/videos/abc/01.mp4"));
        assert!(!allows(&p, "s3:ListBucket", "arn:aws:s3:::vidgate-videos"));
    }

    #[test]
    fn wildcards_deny_and_unreadable_statements_behave_as_iam_would_at_most() {
        let prefix = json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/videos/abc/*"}});
        assert!(allows(&prefix, "s3:PutObject", "arn:aws:s3:::b/videos/abc/x/y.mp4"));
        assert!(!allows(&prefix, "s3:PutObject", "arn:aws:s3:::b/videos/abd/y.mp4"));
        let q = json!({"Statement": [{"Effect": "Allow", "Action": "s3:Put?bject", "Resource": "*"}]});
        assert!(allows(&q, "s3:PutObject", "arn:aws:s3:::b/k"));
        let deny = json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/secret/*"}]});
        assert!(allows(&deny, "s3:PutObject", "arn:aws:s3:::b/open/k"));
        assert!(!allows(&deny, "s3:PutObject", "arn:aws:s3:::b/secret/k"));
        let conditional = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]});
        assert!(!allows(&conditional, "s3:PutObject", "arn:aws:s3:::b/k"));
        assert!(!allows(&json!({}), "s3:PutObject", "arn:aws:s3:::b/k"));
    }
}
