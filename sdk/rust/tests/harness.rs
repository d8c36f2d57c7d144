//! The SDK's behaviour, run through the native harness: the runtime code
//! here is the one the Wasm build runs.

use cogs::abi::{self, Outcome};
use cogs::testing::{self, Case, Harness};
use cogs::{Change, ChangeOp, DataKind, Error, Level, Output, Recipe, Reject, Trigger, Value};

fn one(
    prefix: &str,
    map: fn(&Change, &mut Output) -> Result<(), Reject>,
) -> impl FnOnce(&[u8]) -> Result<Recipe, Error> {
    let prefix = prefix.to_owned();
    move |_| {
        Ok(Recipe::new("t", "1.0.0")
            .trigger(Trigger::hash(prefix, "db"))
            .map(map))
    }
}

fn text(h: &mut Harness, c: abi::Change<'_>) -> String {
    let rs = h.map(&[c]).unwrap();
    assert_eq!(rs.len(), 1);
    rs[0].outcome.to_string()
}

#[test]
fn outcomes() {
    let mut h = Harness::new(one("k:", |c, out| {
        match c.key_suffix().as_bytes() {
            b"skip" => out.skip(),
            b"skip-after-rows" => {
                out.upsert("t").key("id", 1);
                out.skip();
            }
            b"reject" => return Err(Reject::new("no")),
            b"reject-long" => return Err(Reject::new("r".repeat(5000))),
            b"nothing" => {}
            b"no-key" => {
                out.upsert("t").col("a", 1);
            }
            b"empty-table" => {
                out.upsert("").key("id", 1);
            }
            b"delete-cols" => {
                out.delete("t").key("id", 1).col("ignored", 2);
            }
            b"two" => {
                out.insert("a").key("k", "x").col("n", Value::Null);
                out.delete("b").key("k", "y").key("k2", 2i64);
            }
            b"kinds" => {
                out.upsert("t")
                    .key("id", c.key_suffix())
                    .col("s", "x")
                    .col("b", Value::Bytes(b"\x00\xff"))
                    .col("i", -5i32)
                    .col("f", 0.5)
                    .col("t", true)
                    .col("none", None::<i64>)
                    .col("some", Some("y"))
                    .col("owned", &String::from("z"));
            }
            _ => panic!("unexpected key"),
        }
        Ok(())
    }))
    .unwrap();
    let cases = [
        ("skip", "outcome=skip".to_owned()),
        ("skip-after-rows", "outcome=skip".to_owned()),
        ("reject", r#"outcome=reject reason="no""#.to_owned()),
        ("reject-long", format!("outcome=reject reason=\"{}\"", "r".repeat(4096))),
        ("nothing", "outcome=skip".to_owned()),
        ("no-key", r#"outcome=reject reason="recipe bug: row of table \x22t\x22 has no key column""#.to_owned()),
        ("empty-table", r#"outcome=reject reason="recipe bug: row with an empty table name""#.to_owned()),
        ("delete-cols", r#"outcome=rows rows=[delete table="t" keys=["id"=int:1] cols=[]]"#.to_owned()),
        ("two", r#"outcome=rows rows=[insert table="a" keys=["k"=str:"x"] cols=["n"=null]; delete table="b" keys=["k"=str:"y" "k2"=int:2] cols=[]]"#.to_owned()),
        ("kinds", r#"outcome=rows rows=[upsert table="t" keys=["id"=str:"kinds"] cols=["s"=str:"x" "b"=bytes:"\x00\xff" "i"=int:-5 "f"=float:0x3fe0000000000000 "t"=bool:true "none"=null "some"=str:"y" "owned"=str:"z"]]"#.to_owned()),
    ];
    let keys: Vec<String> = cases.iter().map(|(k, _)| format!("k:{}", k)).collect();
    let list: Vec<Case> = cases
        .iter()
        .zip(&keys)
        .map(|((name, want), key)| Case {
            name,
            change: testing::hash(key, &[]),
            want,
        })
        .collect();
    h.check(&list);
}

#[test]
#[should_panic(expected = "case \"wrong\"")]
fn check_reports_a_mismatch() {
    let mut h = Harness::new(one("k:", |_, out| {
        out.skip();
        Ok(())
    }))
    .unwrap();
    h.check(&[Case {
        name: "wrong",
        change: testing::hash("k:1", &[]),
        want: "outcome=rows rows=[]",
    }]);
}

#[test]
fn change_accessors() {
    let mut h = Harness::new(one("user:", |c, out| {
        let ok = |r: Result<Option<bool>, cogs::FieldError>| {
            format!("{:?}", r.map_err(|e| e.to_string()))
        };
        out.upsert("t")
            .key("key", c.key())
            .col("suffix", c.key_suffix())
            .col("op", c.op().as_str())
            .col("data", c.data().as_str())
            .col("id", c.id().to_string().as_str())
            .col("trigger", c.trigger_index() as u32)
            .col("prefix", c.trigger().prefix())
            .col("n", c.field_count() as u32)
            .col("dup", c.get("dup"))
            .col("has_x", c.has("x"))
            .col("int", c.int("int")?)
            .col("float", c.float("float")?)
            .col("bool", c.bool("bool")?)
            .col("no_int", c.int("absent")?)
            .col("bad_bool", ok(c.bool("dup")).as_str())
            .col("doc", c.doc())
            .col("deleted", c.is_deleted());
        Ok(())
    }))
    .unwrap();
    let mut c = testing::hash(
        "user:7",
        &[
            ("dup", "first"),
            ("int", "-12"),
            ("dup", "second"),
            ("float", "2.5"),
            ("bool", "TRUE"),
        ],
    );
    c.id = cogs::StreamId { ms: 17, seq: 3 };
    assert_eq!(
        text(&mut h, c),
        concat!(
            r#"outcome=rows rows=[upsert table="t" keys=["key"=str:"user:7"] cols=["suffix"=str:"7" "op"=str:"set" "data"=str:"hash" "#,
            r#""id"=str:"17-3" "trigger"=int:0 "prefix"=str:"user:" "n"=int:5 "dup"=str:"first" "has_x"=bool:false "int"=int:-12 "#,
            r#""float"=float:0x4004000000000000 "bool"=bool:true "no_int"=null "bad_bool"=str:"Err(\x22field \x5c\x22dup\x5c\x22 is not a boolean\x22)" "doc"=str:"" "deleted"=bool:false]]"#
        )
    );
    // A present field that does not parse rejects the change through `?`.
    assert_eq!(
        text(&mut h, testing::hash("user:8", &[("int", "1.0")])),
        r#"outcome=reject reason="field \x22int\x22 is not an integer""#
    );
    assert_eq!(
        text(&mut h, testing::hash("user:8", &[("float", "x")])),
        r#"outcome=reject reason="field \x22float\x22 is not a number""#
    );
}

#[test]
fn triggers_and_doc() {
    let mut h = Harness::new(|_: &[u8]| {
        Ok(Recipe::new("multi", "2.0.0-rc.1+b5")
            .trigger(Trigger::hash("h:", "db"))
            .trigger(Trigger::json("j:", "db").write_through())
            .trigger(Trigger::string("s:", "other").expiry_deletes())
            .batch_size(100)
            .batch_age_ms(50)
            .map(|c, out| {
                out.upsert(c.trigger().connection())
                    .key("k", c.key_suffix())
                    .col("t", c.trigger_index() as u32)
                    .col("doc", c.doc());
                Ok(())
            }))
    })
    .unwrap();
    assert_eq!(
        h.declared().to_string(),
        concat!(
            r#"recipe name="multi" version="2.0.0-rc.1+b5" triggers=[trigger prefix="h:" mode=write-behind data=hash connection="db" flags=0; "#,
            r#"trigger prefix="j:" mode=write-through data=json connection="db" flags=0; "#,
            r#"trigger prefix="s:" mode=write-behind data=string connection="other" flags=1] params=["batch_size"=int:100 "batch_age_ms"=int:50]"#
        )
    );
    assert_eq!(
        text(&mut h, testing::doc("j:1", r#"{"a":1}"#)),
        r#"outcome=rows rows=[upsert table="db" keys=["k"=str:"1"] cols=["t"=int:1 "doc"=str:"{\x22a\x22:1}"]]"#
    );
    let mut s = testing::doc("s:x", "v");
    s.data = DataKind::String;
    s.op = ChangeOp::Expired;
    assert_eq!(
        text(&mut h, s),
        r#"outcome=rows rows=[upsert table="other" keys=["k"=str:"x"] cols=["t"=int:2 "doc"=str:"v"]]"#
    );
    let err = h.map(&[testing::hash("x:1", &[])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"key "x:1" matches no trigger of recipe "multi""#
    );
}

#[test]
fn config_and_logs() {
    let build = |config: &[u8]| -> Result<Recipe, Error> {
        let table = std::str::from_utf8(config).map_err(Error::new)?.to_owned();
        if table.is_empty() {
            return Err(Error::new("config: want a table name"));
        }
        cogs::info(&format!("table {}", table));
        Ok(Recipe::new("cfg", "1.0.0")
            .trigger(Trigger::hash("k:", "db"))
            .map(move |c, out| {
                cogs::log(Level::Warn, "mapping");
                out.upsert(&table).key("k", c.key_suffix());
                Ok(())
            }))
    };
    let err = Harness::new(build).unwrap_err();
    assert_eq!(err.to_string(), "init: config: want a table name");

    let mut h = Harness::with_config(build, b"people").unwrap();
    assert_eq!(
        text(&mut h, testing::hash("k:1", &[])),
        r#"outcome=rows rows=[upsert table="people" keys=["k"=str:"1"] cols=[]]"#
    );
    assert_eq!(
        h.logs(),
        &[
            (Level::Info, "table people".to_owned()),
            (Level::Warn, "mapping".to_owned())
        ]
    );
}

#[test]
fn the_host_validates_the_declaration() {
    let cases: Vec<(Recipe, &str)> = vec![
        (
            Recipe::new("Bad", "1.0.0"),
            r#"declare: recipe name "Bad" is invalid"#,
        ),
        (
            Recipe::new("ok", "1.0"),
            r#"declare: recipe "ok": version "1.0" is not a semantic version"#,
        ),
        (
            Recipe::new("ok", "1.0.0"),
            r#"declare: recipe "ok" declares no triggers"#,
        ),
        (
            Recipe::new("ok", "1.0.0")
                .trigger(Trigger::hash("a:", "db"))
                .trigger(Trigger::hash("a:b", "db")),
            r#"declare: recipe "ok": trigger "a:b" overlaps trigger "a:""#,
        ),
        (
            Recipe::new("ok", "1.0.0").trigger(Trigger::hash("a:", "")),
            r#"declare: recipe "ok": trigger "a:" names no connection"#,
        ),
        (
            Recipe::new("ok", "1.0.0")
                .trigger(Trigger::hash("a:", "db"))
                .batch_size(0),
            r#"declare: recipe "ok": parameter batch_size must be an int from 1 to 1000000"#,
        ),
        (
            Recipe::new("ok", "1.0.0").trigger(Trigger::hash("", "db")),
            "declare: abi: decode trigger.prefix",
        ),
        (
            Recipe::new("x".repeat(65), "1.0.0"),
            "declare: abi: decode recipe.name at offset 1: too long",
        ),
    ];
    for (recipe, want) in cases {
        let recipe = recipe.map(|_, _| Ok(()));
        let err = Harness::new(move |_: &[u8]| Ok(recipe)).unwrap_err();
        assert!(
            err.to_string().starts_with(want),
            "got {:?}, want {:?}",
            err.to_string(),
            want
        );
    }
    let err =
        Harness::new(|_: &[u8]| Ok(Recipe::new("ok", "1.0.0").trigger(Trigger::hash("a:", "db"))))
            .unwrap_err();
    assert_eq!(err.to_string(), "init: recipe ok has no map function");
}

/// A change larger than the first change buffer, and a batch whose results
/// take several result_push calls.
#[test]
fn large_changes_and_batches() {
    let mut h = Harness::new(one("k:", |c, out| {
        out.upsert("t")
            .key("k", c.key_suffix())
            .col("v", c.get("v"));
        Ok(())
    }))
    .unwrap();
    let big = "b".repeat(100_000);
    let keys: Vec<String> = (0..3000).map(|i| format!("k:{}", i)).collect();
    let value = "v".repeat(200);
    let mut changes = vec![testing::hash("k:big", &[("v", big.as_str())])];
    changes.extend(
        keys.iter()
            .map(|k| testing::hash(k, &[("v", value.as_str())])),
    );
    let rs = h.map(&changes).unwrap();
    assert_eq!(rs.len(), changes.len());
    for (i, r) in rs.iter().enumerate() {
        assert_eq!(r.change as usize, i);
        match &r.outcome {
            Outcome::Rows(rows) => {
                let want: &[u8] = if i == 0 {
                    big.as_bytes()
                } else {
                    value.as_bytes()
                };
                assert_eq!(rows[0].cols[0].value, Value::Str(want));
                assert_eq!(rows[0].keys[0].value, Value::Str(&changes[i].key[2..]));
            }
            other => panic!("change {}: {:?}", i, other),
        }
    }
}
