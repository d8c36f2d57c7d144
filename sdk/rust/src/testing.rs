//! Unit-testing recipes natively, with plain `cargo test`.
//!
//! A [`Harness`] runs a recipe in-process through exactly the code the Wasm
//! build runs (the same encoding, buffers and statuses), against an
//! in-memory host that behaves as the real one: it validates the
//! declaration, hands out changes with the length protocol and checks the
//! pushed results.
//!
//! ```
//! use cogs::testing::{self, Case, Harness};
//! use cogs::{Change, Error, Output, Recipe, Reject, Trigger};
//!
//! fn recipe(_config: &[u8]) -> Result<Recipe, Error> {
//!     Ok(Recipe::new("tags", "1.0.0")
//!         .trigger(Trigger::hash("tag:", "db"))
//!         .map(|c: &Change, out: &mut Output| -> Result<(), Reject> {
//!             out.upsert("tags").key("tag", c.key_suffix()).col("n", c.int("n")?);
//!             Ok(())
//!         }))
//! }
//!
//! let mut h = Harness::new(recipe).unwrap();
//! h.check(&[
//!     Case {
//!         name: "upsert",
//!         change: testing::hash("tag:red", &[("n", "3")]),
//!         want: r#"outcome=rows rows=[upsert table="tags" keys=["tag"=str:"red"] cols=["n"=int:3]]"#,
//!     },
//!     Case {
//!         name: "bad n",
//!         change: testing::hash("tag:blue", &[("n", "x")]),
//!         want: r#"outcome=reject reason="field \x22n\x22 is not an integer""#,
//!     },
//! ]);
//! ```

use crate::abi::{self, ChangeResult, Quoted, StreamId};
use crate::runtime::{Host, Runtime};
use crate::{Error, Level, Recipe};
use std::cell::RefCell;
use std::fmt::Write;

thread_local! {
    // Log lines of the recipe run by the harness active on this thread.
    static LOGS: RefCell<Option<Vec<(Level, String)>>> = const { RefCell::new(None) };
}

pub(crate) fn log(level: Level, msg: &str) {
    let msg = &msg.as_bytes()[..msg.len().min(abi::MAX_LOG_LEN)];
    LOGS.with(|l| {
        if let Some(logs) = l.borrow_mut().as_mut() {
            logs.push((level, String::from_utf8_lossy(msg).into_owned()));
        }
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    None,
    Init,
    Map,
}

struct NativeHost {
    config: Vec<u8>,
    phase: Phase,
    meta: Option<Vec<u8>>,
    declare_err: Option<String>,
    changes: Vec<Vec<u8>>,
    pushed: Vec<u8>,
    seen: Vec<bool>,
    fail_msg: Option<String>,
}

impl Host for NativeHost {
    fn config_get(&mut self, buf: &mut [u8]) -> (u32, u32) {
        if self.phase == Phase::None {
            return (abi::STATUS_BAD_PHASE, 0);
        }
        let n = self.config.len();
        if buf.len() < n {
            return (abi::STATUS_BUFFER_TOO_SMALL, n as u32);
        }
        buf[..n].copy_from_slice(&self.config);
        (abi::STATUS_OK, n as u32)
    }

    fn declare(&mut self, meta: &[u8]) -> u32 {
        if self.phase != Phase::Init || self.meta.is_some() {
            return abi::STATUS_BAD_PHASE;
        }
        if meta.len() > abi::MAX_DECLARE_LEN {
            return abi::STATUS_LIMIT_EXCEEDED;
        }
        let m = match abi::Recipe::decode(meta) {
            Ok(m) => m,
            Err(e) => {
                self.declare_err = Some(format!("declare: {}", e));
                return abi::STATUS_BAD_ENCODING;
            }
        };
        if let Err(e) = validate(&m) {
            self.declare_err = Some(format!("declare: {}", e));
            return abi::STATUS_BAD_ARGUMENT;
        }
        self.meta = Some(meta.to_vec());
        abi::STATUS_OK
    }

    fn change_get(&mut self, index: u32, buf: &mut [u8]) -> (u32, u32) {
        if self.phase != Phase::Map {
            return (abi::STATUS_BAD_PHASE, 0);
        }
        let c = match self.changes.get(index as usize) {
            Some(c) => c,
            None => return (abi::STATUS_NOT_FOUND, 0),
        };
        if buf.len() < c.len() {
            return (abi::STATUS_BUFFER_TOO_SMALL, c.len() as u32);
        }
        buf[..c.len()].copy_from_slice(c);
        (abi::STATUS_OK, c.len() as u32)
    }

    fn result_push(&mut self, results: &[u8]) -> u32 {
        if self.phase != Phase::Map {
            return abi::STATUS_BAD_PHASE;
        }
        if results.len() > abi::MAX_PUSH_LEN {
            return abi::STATUS_LIMIT_EXCEEDED;
        }
        let rs = match abi::decode_results(results) {
            Ok(rs) => rs,
            Err(_) => return abi::STATUS_BAD_ENCODING,
        };
        // All or nothing: check every result before keeping any.
        let mut seen = self.seen.clone();
        for r in &rs {
            match seen.get_mut(r.change as usize) {
                Some(s) if !*s => *s = true,
                _ => return abi::STATUS_BAD_ARGUMENT,
            }
        }
        self.seen = seen;
        self.pushed.extend_from_slice(results);
        abi::STATUS_OK
    }

    fn fail(&mut self, msg: &[u8]) {
        let msg = &msg[..msg.len().min(abi::MAX_FAIL_LEN)];
        self.fail_msg = Some(String::from_utf8_lossy(msg).into_owned());
    }
}

/// Runs a recipe natively, as the host runs the compiled module. It is for
/// tests; a harness runs one recipe, on the thread that created it.
pub struct Harness {
    rt: Runtime,
    host: NativeHost,
    logs: Vec<(Level, String)>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("recipe", self.rt.recipe())
            .finish()
    }
}

/// Runs f with this thread's log sink collecting into logs.
fn with_logs<T>(logs: &mut Vec<(Level, String)>, f: impl FnOnce() -> T) -> T {
    LOGS.with(|l| *l.borrow_mut() = Some(std::mem::take(logs)));
    let out = f();
    *logs = LOGS.with(|l| l.borrow_mut().take()).unwrap_or_default();
    out
}

impl Harness {
    /// Initialises the recipe built by `build` without configuration
    /// (`cogs_init`), or returns the error the host would report for the
    /// load: the recipe's own, or the host's refusal of its declaration.
    pub fn new<F>(build: F) -> Result<Harness, Error>
    where
        F: FnOnce(&[u8]) -> Result<Recipe, Error>,
    {
        Harness::with_config(build, b"")
    }

    /// [`Harness::new`] with a load-time configuration (the `CONFIG` of
    /// `RECIPE LOAD`).
    pub fn with_config<F>(build: F, config: &[u8]) -> Result<Harness, Error>
    where
        F: FnOnce(&[u8]) -> Result<Recipe, Error>,
    {
        let mut host = NativeHost {
            config: config.to_vec(),
            phase: Phase::Init,
            meta: None,
            declare_err: None,
            changes: Vec::new(),
            pushed: Vec::new(),
            seen: Vec::new(),
            fail_msg: None,
        };
        let mut logs = Vec::new();
        let rt = with_logs(&mut logs, || Runtime::init(&mut host, build));
        host.phase = Phase::None;
        match rt {
            Ok(rt) if host.meta.is_some() => Ok(Harness { rt, host, logs }),
            Ok(_) => Err(Error::new("init: recipe did not declare itself")),
            Err(st) => Err(match (host.declare_err.take(), host.fail_msg.take()) {
                (Some(e), _) => Error::new(e),
                (None, Some(msg)) => Error::new(format!("init: {}", msg)),
                (None, None) => {
                    Error::new(format!("init: status {}", crate::runtime::status_name(st)))
                }
            }),
        }
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        self.rt.recipe()
    }

    /// The metadata record the recipe declared.
    pub fn declared(&self) -> abi::Recipe<'_> {
        abi::Recipe::decode(self.host.meta.as_ref().unwrap()).unwrap()
    }

    /// The recipe's log lines so far.
    pub fn logs(&self) -> &[(Level, String)] {
        &self.logs
    }

    /// Runs one batch (`cogs_map`) and returns one result per change, in
    /// change order. Each change's trigger index is set to that of the
    /// declared trigger whose prefix its key starts with. The results
    /// borrow the harness until the next call.
    pub fn map(&mut self, changes: &[abi::Change<'_>]) -> Result<Vec<ChangeResult<'_>>, Error> {
        self.host.changes.clear();
        for c in changes {
            let t = self
                .rt
                .recipe()
                .triggers()
                .iter()
                .position(|t| c.key.starts_with(t.prefix().as_bytes()))
                .ok_or_else(|| {
                    Error::new(format!(
                        "key {} matches no trigger of recipe {:?}",
                        Quoted(c.key),
                        self.rt.recipe().name()
                    ))
                })?;
            let mut c = c.clone();
            c.trigger = t as u32;
            let mut b = Vec::new();
            c.encode(&mut b);
            self.host.changes.push(b);
        }
        self.host.pushed.clear();
        self.host.seen = vec![false; changes.len()];
        self.host.fail_msg = None;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        self.host.phase = Phase::Map;
        let (rt, host) = (&mut self.rt, &mut self.host);
        let st = with_logs(&mut self.logs, || rt.map(host, changes.len() as u32));
        self.host.phase = Phase::None;
        if st != abi::STATUS_OK {
            return Err(Error::new(match &self.host.fail_msg {
                Some(msg) => format!("map: {}", msg),
                None => format!("map: status {}", crate::runtime::status_name(st)),
            }));
        }
        if let Some(i) = self.host.seen.iter().position(|s| !s) {
            return Err(Error::new(format!("map: no result for change {}", i)));
        }
        let mut rs = abi::decode_results(&self.host.pushed).map_err(Error::new)?;
        rs.sort_by_key(|r| r.change);
        Ok(rs)
    }

    /// Runs every case, first one change per batch and then all in one
    /// batch, and panics (listing every mismatch) unless each result's
    /// outcome text (the canonical text of the result without its leading
    /// `result change=N `) is the case's `want`. Stream IDs are numbered.
    pub fn check(&mut self, cases: &[Case<'_>]) {
        let changes: Vec<abi::Change<'_>> = cases
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut ch = c.change.clone();
                ch.id = StreamId {
                    ms: 1,
                    seq: i as u64,
                };
                ch
            })
            .collect();
        let mut bad = String::new();
        for (i, c) in cases.iter().enumerate() {
            match self.map(&changes[i..i + 1]) {
                Ok(rs) => {
                    let got = rs[0].outcome.to_string();
                    if got != c.want {
                        let _ = write!(bad, "\ncase {:?}:\n got {}\nwant {}", c.name, got, c.want);
                    }
                }
                Err(e) => {
                    let _ = write!(bad, "\ncase {:?}: {}", c.name, e);
                }
            }
        }
        if cases.len() > 1 {
            match self.map(&changes) {
                Ok(rs) => {
                    for (r, c) in rs.iter().zip(cases) {
                        let got = r.outcome.to_string();
                        if got != c.want {
                            let _ = write!(
                                bad,
                                "\ncase {:?} in a batch of {}:\n got {}\nwant {}",
                                c.name,
                                cases.len(),
                                got,
                                c.want
                            );
                        }
                    }
                }
                Err(e) => {
                    let _ = write!(bad, "\nwhole batch: {}", e);
                }
            }
        }
        if !bad.is_empty() {
            panic!("recipe {:?}:{}", self.rt.recipe().name(), bad);
        }
    }
}

/// One change and the outcome a recipe must make of it, for
/// [`Harness::check`].
#[derive(Clone, Debug)]
pub struct Case<'a> {
    /// Names the case in failures.
    pub name: &'a str,
    /// The change (see [`hash`], [`deleted`], [`doc`]).
    pub change: abi::Change<'a>,
    /// The expected outcome in canonical text, e.g.
    /// `outcome=rows rows=[upsert table="t" keys=["id"=str:"1"] cols=[]]`,
    /// `outcome=skip` or `outcome=reject reason="..."`.
    pub want: &'a str,
}

fn change<'a>(op: abi::ChangeOp, data: abi::DataKind, key: &'a str) -> abi::Change<'a> {
    abi::Change {
        op,
        data,
        trigger: 0,
        id: StreamId::default(),
        key: key.as_bytes(),
        fields: Vec::new(),
        doc: b"",
    }
}

/// A write of the hash `key`, whose post-image is `fields`.
pub fn hash<'a>(key: &'a str, fields: &[(&'a str, &'a str)]) -> abi::Change<'a> {
    let mut c = change(abi::ChangeOp::Set, abi::DataKind::Hash, key);
    c.fields = fields
        .iter()
        .map(|&(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    c
}

/// A deletion of the hash `key`.
pub fn deleted(key: &str) -> abi::Change<'_> {
    change(abi::ChangeOp::Delete, abi::DataKind::Hash, key)
}

/// The expiry (or eviction) of the hash `key`.
pub fn expired(key: &str) -> abi::Change<'_> {
    change(abi::ChangeOp::Expired, abi::DataKind::Hash, key)
}

/// A write of the JSON document `key`, whose post-image is `doc`.
pub fn doc<'a>(key: &'a str, doc: &'a str) -> abi::Change<'a> {
    let mut c = change(abi::ChangeOp::Set, abi::DataKind::Json, key);
    c.doc = doc.as_bytes();
    c
}

/// The host's validation of a declaration (`ValidateRecipe` in abi/).
fn validate(m: &abi::Recipe<'_>) -> Result<(), String> {
    let name = Quoted(m.name);
    if !valid_name(m.name) {
        return Err(format!(
            "recipe name {} is invalid: want [a-z][a-z0-9_-]*, at most 64 bytes",
            name
        ));
    }
    if !valid_semver(m.version) {
        return Err(format!(
            "recipe {}: version {} is not a semantic version (MAJOR.MINOR.PATCH)",
            name,
            Quoted(m.version)
        ));
    }
    if m.triggers.is_empty() {
        return Err(format!("recipe {} declares no triggers", name));
    }
    for (i, t) in m.triggers.iter().enumerate() {
        let at = format!("recipe {}: trigger {}", name, Quoted(t.prefix));
        if t.prefix.is_empty() {
            return Err(format!(
                "recipe {}: trigger {} has an empty prefix",
                name, i
            ));
        }
        if t.connection.is_empty() {
            return Err(format!("{} names no connection", at));
        }
        for (j, u) in m.triggers.iter().enumerate() {
            if i != j && t.prefix.starts_with(u.prefix) {
                return Err(format!("{} overlaps trigger {}", at, Quoted(u.prefix)));
            }
        }
    }
    let mut seen: Vec<&[u8]> = Vec::new();
    for p in &m.params {
        if seen.contains(&p.name) {
            return Err(format!(
                "recipe {}: parameter {} given twice",
                name,
                Quoted(p.name)
            ));
        }
        seen.push(p.name);
        let max = match p.name {
            b"batch_size" => 1_000_000,
            b"batch_age_ms" => 3_600_000,
            _ => {
                return Err(format!(
                    "recipe {}: unknown parameter {}",
                    name,
                    Quoted(p.name)
                ))
            }
        };
        match p.value {
            abi::Value::Int(v) if v >= 1 && v <= max => {}
            _ => {
                return Err(format!(
                    "recipe {}: parameter {} must be an int from 1 to {}",
                    name,
                    String::from_utf8_lossy(p.name),
                    max
                ))
            }
        }
    }
    Ok(())
}

fn valid_name(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) if s.len() <= abi::MAX_NAME_LEN && first.is_ascii_lowercase() => rest
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-'),
        _ => false,
    }
}

/// MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (semver.org 2.0.0).
fn valid_semver(s: &[u8]) -> bool {
    let (s, build) = split_at_byte(s, b'+');
    if build.map_or(false, |b| !valid_idents(b, false)) {
        return false;
    }
    let (s, pre) = split_at_byte(s, b'-');
    if pre.map_or(false, |p| !valid_idents(p, true)) {
        return false;
    }
    let nums: Vec<&[u8]> = s.split(|&c| c == b'.').collect();
    nums.len() == 3
        && nums.iter().all(|n| {
            !n.is_empty()
                && n.iter().all(u8::is_ascii_digit)
                && !(n.len() > 1 && n[0] == b'0')
                && std::str::from_utf8(n).unwrap().parse::<u64>().is_ok()
        })
}

fn split_at_byte(s: &[u8], c: u8) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == c) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

fn valid_idents(s: &[u8], pre: bool) -> bool {
    !s.is_empty()
        && s.split(|&c| c == b'.').all(|id| {
            !id.is_empty()
                && id.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                && !(pre && id.len() > 1 && id[0] == b'0' && id.iter().all(u8::is_ascii_digit))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver() {
        for v in [
            "1.0.0",
            "0.0.1",
            "10.20.30",
            "1.0.0-alpha.1",
            "1.0.0-0.3.7",
            "1.0.0+build.5",
            "1.0.0-rc-1+x",
            "1.0.0-x-y-z.--",
        ] {
            assert!(valid_semver(v.as_bytes()), "{}", v);
        }
        for v in [
            "",
            "1",
            "1.0",
            "1.0.0.0",
            "01.0.0",
            "1.00.0",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-01",
            "1.0.0-a..b",
            "1.0.0-é",
            "a.b.c",
            "1.0.99999999999999999999",
        ] {
            assert!(!valid_semver(v.as_bytes()), "{}", v);
        }
    }

    #[test]
    fn names() {
        for n in ["a", "persons", "a-b_c9"] {
            assert!(valid_name(n.as_bytes()), "{}", n);
        }
        let long = "a".repeat(65);
        for n in ["", "A", "9a", "a.b", "Persons", long.as_str()] {
            assert!(!valid_name(n.as_bytes()), "{}", n);
        }
    }
}
