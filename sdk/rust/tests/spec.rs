//! Checks the crate's ABI constants against the constants tables of
//! abi/SPEC.md, in both directions, the way abi/spec_test.go checks the Go
//! package (so the Rust and Go constants cannot drift apart), and checks
//! that the names the Wasm build imports and exports are those constants.

use cogs::abi::*;
use std::collections::BTreeMap;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../abi/SPEC.md");
const CONSTS_RS: &str = include_str!("../src/abi/consts.rs");
const LIB_RS: &str = include_str!("../src/lib.rs");
const GUEST_RS: &str = include_str!("../src/guest.rs");

macro_rules! numbers {
    ($($name:ident)*) => { vec![$((stringify!($name), $name as u64)),*] };
}

macro_rules! strings {
    ($($name:ident)*) => { vec![$((stringify!($name), $name)),*] };
}

fn rust_numbers() -> Vec<(&'static str, u64)> {
    numbers!(
        ABI_VERSION_MAJOR ABI_VERSION_MINOR
        STATUS_OK STATUS_NOT_FOUND STATUS_BUFFER_TOO_SMALL STATUS_BAD_POINTER STATUS_BAD_ENCODING
        STATUS_BAD_PHASE STATUS_LIMIT_EXCEEDED STATUS_BAD_ARGUMENT STATUS_RECIPE_ERROR
        LOG_TRACE LOG_DEBUG LOG_INFO LOG_WARN LOG_ERROR
        VALUE_NULL VALUE_STRING VALUE_BYTES VALUE_INT VALUE_FLOAT VALUE_BOOL
        CHANGE_SET CHANGE_DELETE CHANGE_EXPIRED
        DATA_HASH DATA_JSON DATA_STRING
        MODE_WRITE_BEHIND MODE_WRITE_THROUGH
        TRIGGER_FLAG_EXPIRY_DELETES
        ROW_UPSERT ROW_DELETE ROW_INSERT
        OUTCOME_ROWS OUTCOME_SKIP OUTCOME_REJECT
        MAX_NAME_LEN MAX_LOG_LEN MAX_FAIL_LEN MAX_REASON_LEN MAX_RECORD_LEN MAX_PUSH_LEN MAX_DECLARE_LEN
    )
}

fn rust_strings() -> Vec<(&'static str, &'static str)> {
    strings!(
        IMPORT_MODULE VERSION_EXPORT_PREFIX EXPORT_INITIALIZE EXPORT_INIT EXPORT_MAP EXPORT_MEMORY
        FUNC_CONFIG_GET FUNC_DECLARE FUNC_CHANGE_GET FUNC_RESULT_PUSH FUNC_LOG FUNC_FAIL
        PARAM_BATCH_SIZE PARAM_BATCH_AGE_MS
    )
}

/// The rows of the one table of SPEC.md headed exactly `header`, as
/// name -> cell (as spec_test.go's specTable).
fn spec_table(spec: &str, header: &str) -> BTreeMap<String, String> {
    let lines: Vec<&str> = spec.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim() == header)
        .collect();
    assert_eq!(
        starts.len(),
        1,
        "SPEC.md has {} tables headed {:?}",
        starts.len(),
        header
    );
    let start = starts[0];
    let sep = lines.get(start + 1).copied().unwrap_or("");
    assert!(
        sep.trim().trim_matches(|c| "|-: ".contains(c)).is_empty() && !sep.trim().is_empty(),
        "table {:?}: no separator row",
        header
    );
    let mut rows = BTreeMap::new();
    for l in &lines[start + 2..] {
        let l = l.trim();
        if !l.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = l.trim_matches('|').split('|').collect();
        assert_eq!(
            cells.len(),
            2,
            "table {:?}: row {:?} does not have two cells",
            header,
            l
        );
        let (name, value) = (cells[0].trim(), cells[1].trim());
        assert!(
            !(name.contains('`') || value.contains('`')),
            "row {:?} has backquotes",
            l
        );
        assert!(
            rows.insert(name.to_owned(), value.to_owned()).is_none(),
            "table {:?}: {} listed twice",
            header,
            name
        );
    }
    rows
}

#[test]
fn constants_match_spec() {
    let spec = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("{}: {}", SPEC, e));
    let mut bad = Vec::new();

    let nums = spec_table(&spec, "| name | value |");
    let rust: BTreeMap<_, _> = rust_numbers().into_iter().collect();
    for (name, cell) in &nums {
        match (cell.parse::<u64>(), rust.get(name.as_str())) {
            (Err(_), _) => bad.push(format!(
                "SPEC.md: {} = {:?} is not a decimal number",
                name, cell
            )),
            (_, None) => bad.push(format!(
                "SPEC.md lists {} = {}, which has no Rust constant",
                name, cell
            )),
            (Ok(v), Some(&r)) if v != r => {
                bad.push(format!("SPEC.md: {} = {}, Rust constant = {}", name, v, r))
            }
            _ => {}
        }
        if cell.parse::<u64>().map(|v| v.to_string()).as_deref() != Ok(cell.as_str()) {
            bad.push(format!(
                "SPEC.md: {} = {:?} is not a plain decimal number",
                name, cell
            ));
        }
    }
    for (name, v) in &rust {
        if !nums.contains_key(*name) {
            bad.push(format!("SPEC.md does not list {} = {}", name, v));
        }
    }

    let strs = spec_table(&spec, "| name | string |");
    let rust_s: BTreeMap<_, _> = rust_strings().into_iter().collect();
    for (name, cell) in &strs {
        match rust_s.get(name.as_str()) {
            None => bad.push(format!(
                "SPEC.md lists {} = {:?}, which has no Rust constant",
                name, cell
            )),
            Some(r) if r != cell => bad.push(format!(
                "SPEC.md: {} = {:?}, Rust constant = {:?}",
                name, cell, r
            )),
            _ => {}
        }
    }
    for (name, v) in &rust_s {
        if !strs.contains_key(*name) {
            bad.push(format!("SPEC.md does not list {} = {:?}", name, v));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(
        nums.len() >= 40 && strs.len() >= 14,
        "too few constants in SPEC.md"
    );
}

/// Every `pub const` of src/abi/consts.rs is one of the lists above, so a
/// constant added to the crate without a row in SPEC.md fails.
#[test]
fn every_constant_is_checked() {
    let listed: Vec<&str> = rust_numbers()
        .iter()
        .map(|p| p.0)
        .chain(rust_strings().iter().map(|p| p.0))
        .collect();
    let mut declared = Vec::new();
    for line in CONSTS_RS.lines() {
        if let Some(rest) = line.trim().strip_prefix("pub const ") {
            let name = rest.split(':').next().unwrap().trim();
            assert!(
                listed.contains(&name),
                "constant {} is not checked against SPEC.md",
                name
            );
            declared.push(name);
        }
    }
    assert_eq!(
        declared.len(),
        listed.len(),
        "consts.rs declares {:?}",
        declared
    );
}

/// The names the Wasm build imports and exports are spelled in the source
/// (attributes need literals); check them against the constants.
#[test]
fn wasm_names_match_constants() {
    let marker = format!(
        "#[export_name = \"{}{}_{}\"]",
        VERSION_EXPORT_PREFIX, ABI_VERSION_MAJOR, ABI_VERSION_MINOR
    );
    for want in [
        marker,
        format!("#[export_name = \"{}\"]", EXPORT_INIT),
        format!("#[export_name = \"{}\"]", EXPORT_MAP),
    ] {
        assert!(
            LIB_RS.contains(&want),
            "src/lib.rs does not contain {}",
            want
        );
    }
    for want in [
        format!("#[link(wasm_import_module = \"{}\")]", IMPORT_MODULE),
        format!(
            "fn {}(buf: *mut u8, cap: u32, len_ptr: *mut u32) -> u32;",
            FUNC_CONFIG_GET
        ),
        format!("fn {}(ptr: *const u8, len: u32) -> u32;", FUNC_DECLARE),
        format!(
            "fn {}(index: u32, buf: *mut u8, cap: u32, len_ptr: *mut u32) -> u32;",
            FUNC_CHANGE_GET
        ),
        format!("fn {}(ptr: *const u8, len: u32) -> u32;", FUNC_RESULT_PUSH),
        format!(
            "#[link_name = \"{}\"]\n    fn host_log(level: u32, ptr: *const u8, len: u32) -> u32;",
            FUNC_LOG
        ),
        format!(
            "#[link_name = \"{}\"]\n    fn host_fail(ptr: *const u8, len: u32) -> u32;",
            FUNC_FAIL
        ),
    ] {
        assert!(
            GUEST_RS.contains(&want),
            "src/guest.rs does not contain {:?}",
            want
        );
    }
}

/// The Rust enums take their wire bytes from the constants.
#[test]
fn enums_match_constants() {
    use cogs::{ChangeOp, DataKind, Level, Mode};
    assert_eq!(ChangeOp::from_u8(CHANGE_SET), Some(ChangeOp::Set));
    assert_eq!(ChangeOp::from_u8(CHANGE_EXPIRED), Some(ChangeOp::Expired));
    assert_eq!(ChangeOp::from_u8(CHANGE_EXPIRED + 1), None);
    assert_eq!(DataKind::String as u8, DATA_STRING);
    assert_eq!(Mode::WriteThrough as u8, MODE_WRITE_THROUGH);
    assert_eq!(RowOpKind::Insert as u8, ROW_INSERT);
    assert_eq!(Level::Error as u32, LOG_ERROR);
    assert_eq!(Level::Trace as u32, LOG_TRACE);
}
