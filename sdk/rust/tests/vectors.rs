//! The ABI conformance vectors (abi/testdata/vectors.txt, format in
//! abi/SPEC.md, "Conformance vectors"): every valid vector decodes to its
//! canonical text and re-encodes to its bytes; every error vector fails
//! with its code.

use cogs::abi::{self, DecodeError};
use std::collections::{BTreeMap, HashSet};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../abi/testdata/vectors.txt"
);

struct Vector {
    line: usize,
    fields: BTreeMap<String, String>,
}

fn parse(text: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    let mut cur: Option<Vector> = None;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            out.extend(cur.take());
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("line {}: no ':' in {:?}", i + 1, line));
        let value = value.strip_prefix(' ').unwrap_or(value);
        let v = cur.get_or_insert_with(|| Vector {
            line: i + 1,
            fields: BTreeMap::new(),
        });
        let dup = v.fields.insert(key.to_owned(), value.to_owned());
        assert!(
            dup.is_none(),
            "line {}: key {:?} twice in a block",
            i + 1,
            key
        );
    }
    out.extend(cur);
    out
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("bad hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{:02x}", c)).collect()
}

/// Decodes input as typ and returns its canonical text and re-encoding.
fn check(typ: &str, input: &[u8]) -> Result<(String, Vec<u8>), DecodeError> {
    let mut enc = Vec::new();
    let text = match typ {
        "value" => {
            let v = abi::Value::decode(input)?;
            v.encode(&mut enc);
            v.to_string()
        }
        "change" => {
            let c = abi::Change::decode(input)?;
            c.encode(&mut enc);
            c.to_string()
        }
        "rowop" => {
            let r = abi::RowOp::decode(input)?;
            r.encode(&mut enc);
            r.to_string()
        }
        "result" => {
            let r = abi::ChangeResult::decode(input)?;
            r.encode(&mut enc);
            r.to_string()
        }
        "results" => {
            let rs = abi::decode_results(input)?;
            for r in &rs {
                r.encode(&mut enc);
            }
            rs.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        }
        "trigger" => {
            let t = abi::Trigger::decode(input)?;
            t.encode(&mut enc);
            t.to_string()
        }
        "recipe" => {
            let m = abi::Recipe::decode(input)?;
            m.encode(&mut enc);
            m.to_string()
        }
        _ => panic!("unknown vector type {:?}", typ),
    };
    Ok((text, enc))
}

#[test]
fn conformance_vectors() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{}: {}", VECTORS, e));
    let vectors = parse(&text);
    let mut names = HashSet::new();
    let mut per_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for v in &vectors {
        let get = |k: &str| {
            v.fields
                .get(k)
                .unwrap_or_else(|| panic!("vector at line {}: no {:?}", v.line, k))
        };
        let name = get("name");
        assert!(names.insert(name.clone()), "vector {:?} twice", name);
        let typ = get("type");
        let input = unhex(get("hex"));
        let counts = per_type.entry(typ.clone()).or_default();
        match (v.fields.get("text"), v.fields.get("error")) {
            (Some(want), None) => {
                counts.0 += 1;
                match check(typ, &input) {
                    Ok((got, enc)) => {
                        if &got != want {
                            failures.push(format!("{}: text\n got {}\nwant {}", name, got, want));
                        }
                        if enc != input {
                            failures.push(format!(
                                "{}: re-encoded\n got {}\nwant {}",
                                name,
                                hex(&enc),
                                get("hex")
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("{}: decode: {}", name, e)),
                }
            }
            (None, Some(want)) => {
                counts.1 += 1;
                match check(typ, &input) {
                    Ok((got, _)) => {
                        failures.push(format!("{}: decoded to {}, want error {}", name, got, want))
                    }
                    Err(e) if e.code() != want => failures.push(format!(
                        "{}: error {} ({}), want {}",
                        name,
                        e.code(),
                        e,
                        want
                    )),
                    Err(_) => {}
                }
            }
            _ => panic!("vector {:?}: want exactly one of text and error", name),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors fail:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
    // Every type has valid and error vectors, so this test cannot pass on
    // a file it failed to read.
    for typ in [
        "value", "change", "rowop", "result", "results", "trigger", "recipe",
    ] {
        let (valid, bad) = per_type.get(typ).copied().unwrap_or_default();
        assert!(
            valid > 0 && bad > 0,
            "type {}: {} valid and {} error vectors",
            typ,
            valid,
            bad
        );
    }
    assert_eq!(per_type.len(), 7, "vector types: {:?}", per_type.keys());
}

#[test]
fn parse_format() {
    let vs = parse("# comment\n\nname: a\ntype: value\nhex:\nerror: truncated\n\nname: b\ntype: value\nhex: 00\ntext: null\n");
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[0].fields["hex"], "");
    assert_eq!(vs[1].fields["text"], "null");
    assert!(check("value", &unhex(&vs[0].fields["hex"])).is_err());
}
