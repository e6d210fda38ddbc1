//! Arbitrary mutations of recorded fixtures for the "never a panic on input" property tests: cut at
//! any character, characters inserted, deleted or replaced (multi-byte ones, separators, digits),
//! numbers swapped for extreme ones, lines duplicated, dropped or swapped. Shared by the domain,
//! planner and app tests (`#[path]`), so every parser of outside text meets the same damage.

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;

/// One edit, applied at positions resolved against the text as it is when the edit runs.
#[derive(Debug, Clone)]
pub enum Edit {
    Truncate(Index),
    Insert(Index, String),
    Delete(Index, usize),
    Replace(Index, char),
    /// The n-th run of ASCII digits becomes an extreme number.
    Number(Index, &'static str),
    DuplicateLine(Index),
    DeleteLine(Index),
    SwapLines(Index, Index),
}

/// Characters that break parsers: multi-byte ones of every width, invisible ones, the separators
/// the Kafka tools and AWS formats use, and digits; sometimes any `char` at all.
pub fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            'é', 'ß', '€', '中', '𝄞', '😀', '\u{0}', '\u{7f}', '\u{85}', '\u{a0}', '\u{200b}', '\u{2028}', '\u{feff}',
            '\r', '\n', '\t', ' ', '-', ':', ',', '.', '/', '=', '&', '%', '+', '#', '"', '\'', '\\', '{', '}', '[',
            ']', '(', ')', '0', '1', '9',
        ]),
        1 => any::<char>(),
    ]
}

const NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "-0",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e308",
    "",
];

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => any::<Index>().prop_map(Edit::Truncate),
        4 => (any::<Index>(), prop::collection::vec(nasty_char(), 1..4))
            .prop_map(|(i, cs)| Edit::Insert(i, cs.into_iter().collect())),
        3 => (any::<Index>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        3 => (any::<Index>(), nasty_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
        3 => (any::<Index>(), prop::sample::select(NUMBERS.to_vec())).prop_map(|(i, n)| Edit::Number(i, n)),
        1 => any::<Index>().prop_map(Edit::DuplicateLine),
        1 => any::<Index>().prop_map(Edit::DeleteLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// Byte offsets of every character boundary, end included.
fn boundaries(s: &str) -> Vec<usize> {
    s.char_indices().map(|(i, _)| i).chain([s.len()]).collect()
}

fn at(s: &str, i: &Index) -> usize {
    let b = boundaries(s);
    b[i.index(b.len())]
}

pub fn apply(base: &str, edits: &[Edit]) -> String {
    let mut s = base.to_owned();
    for e in edits {
        match e {
            Edit::Truncate(i) => {
                let cut = at(&s, i);
                s.truncate(cut);
            }
            Edit::Insert(i, text) => {
                let pos = at(&s, i);
                s.insert_str(pos, text);
            }
            Edit::Delete(i, n) => {
                let start = at(&s, i);
                let end = s[start..].char_indices().nth(*n).map_or(s.len(), |(j, _)| start + j);
                s.replace_range(start..end, "");
            }
            Edit::Replace(i, c) => {
                let start = at(&s, i);
                if let Some(old) = s[start..].chars().next() {
                    s.replace_range(start..start + old.len_utf8(), c.encode_utf8(&mut [0; 4]));
                }
            }
            Edit::Number(i, n) => {
                let runs = digit_runs(&s);
                if !runs.is_empty() {
                    let (a, b) = runs[i.index(runs.len())];
                    s.replace_range(a..b, n);
                }
            }
            Edit::DuplicateLine(i) | Edit::DeleteLine(i) => {
                let mut lines: Vec<&str> = s.split_inclusive('\n').collect();
                if lines.is_empty() {
                    continue;
                }
                let k = i.index(lines.len());
                if matches!(e, Edit::DuplicateLine(_)) {
                    lines.insert(k, lines[k]);
                } else {
                    lines.remove(k);
                }
                s = lines.concat();
            }
            Edit::SwapLines(a, b) => {
                let mut lines: Vec<&str> = s.split_inclusive('\n').collect();
                if lines.is_empty() {
                    continue;
                }
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
                s = lines.concat();
            }
        }
    }
    s
}

fn digit_runs(s: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in s.bytes().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                runs.push((a, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        runs.push((a, s.len()));
    }
    runs
}

/// One of `bases`, damaged by up to `max_edits` edits (sometimes none: the fixture itself).
pub fn mutated(bases: Vec<String>, max_edits: usize) -> impl Strategy<Value = String> {
    (prop::sample::select(bases), prop::collection::vec(edit(), 0..=max_edits)).prop_map(|(b, e)| apply(&b, &e))
}

/// Every file of a fixture directory (relative to the workspace's tests/fixtures) whose name ends
/// with one of `extensions`.
pub fn fixtures(dir: &str, extensions: &[&str]) -> Vec<String> {
    named_fixtures(dir, extensions).into_iter().map(|(_, text)| text).collect()
}

/// The same, as `(file name, text)`, by name.
pub fn named_fixtures(dir: &str, extensions: &[&str]) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .filter_map(|entry| {
            let p = entry.ok()?.path();
            let name = p.file_name()?.to_str()?.to_owned();
            extensions.iter().any(|ext| name.ends_with(ext)).then(|| (name, std::fs::read_to_string(&p).ok()))
        })
        .filter_map(|(name, text)| Some((name, text?)))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", path.display());
    out
}

/// One edit of a JSON document, at any node: its text damaged as above (a string's characters, or
/// a number written as text and damaged), or the node replaced by another kind of value, or removed.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    Text(Index, Vec<Edit>),
    Replace(Index, Leaf),
    Remove(Index),
}

/// What a node may become: every JSON kind, and the numbers that overflow integer types.
#[derive(Debug, Clone)]
pub enum Leaf {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    Text(String),
    EmptyArray,
    EmptyObject,
}

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let leaf = prop_oneof![
        Just(Leaf::Null),
        any::<bool>().prop_map(Leaf::Bool),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64), Just(0i64), any::<i64>()].prop_map(Leaf::Int),
        prop_oneof![Just(u64::MAX), any::<u64>()].prop_map(Leaf::Unsigned),
        prop_oneof![Just(1e308f64), Just(-1e308f64), Just(0.5f64)].prop_map(Leaf::Float),
        prop::collection::vec(nasty_char(), 0..8).prop_map(|cs| Leaf::Text(cs.into_iter().collect())),
        Just(Leaf::EmptyArray),
        Just(Leaf::EmptyObject),
    ];
    prop_oneof![
        4 => (any::<Index>(), prop::collection::vec(edit(), 1..4)).prop_map(|(i, e)| JsonEdit::Text(i, e)),
        3 => (any::<Index>(), leaf).prop_map(|(i, l)| JsonEdit::Replace(i, l)),
        1 => any::<Index>().prop_map(JsonEdit::Remove),
    ]
}

/// JSON pointers of every node, the root included.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                pointers(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

pub fn apply_json(base: &serde_json::Value, edits: &[JsonEdit]) -> serde_json::Value {
    use serde_json::Value;
    let mut v = base.clone();
    for e in edits {
        let mut ptrs = Vec::new();
        pointers(&v, String::new(), &mut ptrs);
        let (JsonEdit::Text(i, _) | JsonEdit::Replace(i, _) | JsonEdit::Remove(i)) = e;
        let ptr = ptrs[i.index(ptrs.len())].clone();
        if let JsonEdit::Remove(_) = e {
            if let Some((parent, last)) = ptr.rsplit_once('/') {
                let last = last.replace("~1", "/").replace("~0", "~");
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&last);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(k) = last.parse::<usize>()
                            && k < a.len()
                        {
                            a.remove(k);
                        }
                    }
                    _ => {}
                }
            }
            continue;
        }
        let Some(node) = v.pointer_mut(&ptr) else { continue };
        *node = match e {
            JsonEdit::Text(_, edits) => {
                let text = match &*node {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Value::String(apply(&text, edits))
            }
            JsonEdit::Replace(_, leaf) => match leaf {
                Leaf::Null => Value::Null,
                Leaf::Bool(b) => Value::Bool(*b),
                Leaf::Int(n) => Value::from(*n),
                Leaf::Unsigned(n) => Value::from(*n),
                Leaf::Float(f) => Value::from(*f),
                Leaf::Text(s) => Value::String(s.clone()),
                Leaf::EmptyArray => Value::Array(vec![]),
                Leaf::EmptyObject => Value::Object(Default::default()),
            },
            JsonEdit::Remove(_) => unreachable!("handled above"),
        };
    }
    v
}

/// One of `bases`, with up to `max_edits` edits of its nodes.
pub fn mutated_json(bases: Vec<serde_json::Value>, max_edits: usize) -> impl Strategy<Value = serde_json::Value> {
    (prop::sample::select(bases), prop::collection::vec(json_edit(), 0..=max_edits))
        .prop_map(|(b, e)| apply_json(&b, &e))
}
