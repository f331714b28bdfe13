//! The docs hold together: README.md is a front door of at most 250 lines, and every relative
//! link and `#anchor` in README.md and docs/ resolves to a file and a heading that exist.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every page of docs/, as (path relative to the root, text).
fn pages() -> Vec<(String, String)> {
    let mut pages =
        vec![("README.md".to_owned(), std::fs::read_to_string(root().join("README.md")).unwrap())];
    let mut docs: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for path in docs {
        let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        pages.push((name, std::fs::read_to_string(&path).unwrap()));
    }
    pages
}

/// The lines outside fenced code blocks (a `# comment` in a shell block is no heading).
fn outside_fences(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            let fence = line.trim_start().starts_with("```");
            fenced ^= fence;
            !fence && !fenced
        })
        .collect()
}

/// The text outside fenced code blocks, and with inline code spans blanked: where links live.
fn prose(text: &str) -> String {
    let mut out = String::new();
    for line in outside_fences(text) {
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            }
            out.push(if in_code { ' ' } else { c });
        }
        out.push('\n');
    }
    out
}

/// GitHub's anchor of a heading: lower case, only letters, digits, spaces, `-` and `_` kept,
/// spaces as `-`; a repeated heading gets `-1`, `-2`, …
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = HashSet::new();
    for line in outside_fences(text) {
        let Some(heading) = line.strip_prefix('#') else { continue };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let slug: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_default();
        out.insert(if *n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        *n += 1;
    }
    out
}

/// Every `[text](target)` of a page.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_in_readme_and_docs_resolves() {
    let pages = pages();
    let by_name: HashMap<&str, &str> = pages.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let mut checked = 0;
    for (name, text) in &pages {
        let dir = Path::new(name).parent().unwrap_or(Path::new(""));
        for target in links(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let resolved = if file.is_empty() {
                name.clone()
            } else {
                let joined = dir.join(file);
                let mut parts: Vec<String> = Vec::new();
                for part in joined.components() {
                    match part {
                        std::path::Component::ParentDir => {
                            parts.pop();
                        }
                        std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                        _ => {}
                    }
                }
                parts.join("/")
            };
            assert!(root().join(&resolved).exists(), "{name}: the link {target} names no file ({resolved})");
            if !anchor.is_empty() {
                let text = by_name
                    .get(resolved.as_str())
                    .unwrap_or_else(|| panic!("{name}: {target}: an anchor into a file that is no page"));
                assert!(
                    anchors(text).contains(anchor),
                    "{name}: the link {target} names no heading of {resolved}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found: the scan is broken");
}

#[test]
fn the_readme_is_a_front_door_of_at_most_250_lines_that_maps_every_page() {
    let pages = pages();
    let readme = &pages[0].1;
    let lines = readme.lines().count();
    assert!(lines <= 250, "README.md is {lines} lines; topics belong in docs/");
    for (name, text) in &pages[1..] {
        assert!(readme.contains(&format!("]({name})")), "README.md's map has no line for {name}");
        // A page starts with its title, then what it answers.
        let mut first = text.lines().filter(|l| !l.trim().is_empty());
        assert!(first.next().is_some_and(|l| l.starts_with("# ")), "{name} has no title");
        assert!(first.next().is_some_and(|l| !l.starts_with('#')), "{name} doesn't say what it answers");
    }
}

#[test]
fn the_link_checker_finds_broken_links_and_anchors() {
    let text =
        "# A page\n\n## Two words\n\nSee [x](#two-words) and `[no](#code)`.\n```\n[no](#fenced)\n```\n";
    assert!(anchors(text).contains("two-words"));
    assert_eq!(links(text), ["#two-words"]);
    assert!(!anchors(text).contains("missing"));
}
