//! The rgsync "persons" example as a cogs recipe written in Rust: a hash
//! `person:<id>` with fields `first_name`, `last_name` and `age` becomes a
//! row of table `persons` (`person_id`, `first`, `last`, `age`) in the
//! connection `mysql`. It is the Rust twin of `examples/persons` (Go) and
//! produces exactly the same row operations (`persons_test.go` checks it).
//!
//! Build it with `make recipes` (bin/recipes/rust-persons.wasm), test it
//! with `cargo test`.

use cogs::{Change, Error, Output, Recipe, Reject, Trigger};

cogs::register!(recipe);

fn recipe(_config: &[u8]) -> Result<Recipe, Error> {
    Ok(Recipe::new("persons", "1.0.0")
        .trigger(Trigger::hash("person:", "mysql"))
        .map(map_person))
}

fn map_person(c: &Change, out: &mut Output) -> Result<(), Reject> {
    let id = c.key_suffix();
    if c.is_deleted() {
        out.delete("persons").key("person_id", id);
        return Ok(());
    }
    let age = c
        .int("age")
        .map_err(|_| Reject::new("age is not an integer"))?;
    out.upsert("persons")
        .key("person_id", id)
        .col("first", c.get("first_name"))
        .col("last", c.get("last_name"))
        .col("age", age);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::recipe;
    use cogs::testing::{self, Case, Harness};

    // The cases of examples/persons/persons_test.go.
    #[test]
    fn persons() {
        let mut h = Harness::new(recipe).unwrap();
        assert_eq!(
            h.declared().to_string(),
            r#"recipe name="persons" version="1.0.0" triggers=[trigger prefix="person:" mode=write-behind data=hash connection="mysql" flags=0] params=[]"#
        );
        h.check(&[
            Case {
                name: "upsert",
                change: testing::hash("person:1", &[("first_name", "Ann"), ("last_name", "Lee"), ("age", "42")]),
                want: r#"outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["first"=str:"Ann" "last"=str:"Lee" "age"=int:42]]"#,
            },
            Case {
                name: "missing fields are NULL",
                change: testing::hash("person:2", &[("first_name", "Bo")]),
                want: r#"outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"2"] cols=["first"=str:"Bo" "last"=null "age"=null]]"#,
            },
            Case {
                name: "unicode",
                change: testing::hash("person:é", &[("first_name", "Zoë"), ("age", "-1")]),
                want: r#"outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"\xc3\xa9"] cols=["first"=str:"Zo\xc3\xab" "last"=null "age"=int:-1]]"#,
            },
            Case {
                name: "delete",
                change: testing::deleted("person:1"),
                want: r#"outcome=rows rows=[delete table="persons" keys=["person_id"=str:"1"] cols=[]]"#,
            },
            Case {
                name: "expired",
                change: testing::expired("person:1"),
                want: r#"outcome=rows rows=[delete table="persons" keys=["person_id"=str:"1"] cols=[]]"#,
            },
            Case {
                name: "bad age is rejected",
                change: testing::hash("person:3", &[("first_name", "Cy"), ("age", "forty")]),
                want: r#"outcome=reject reason="age is not an integer""#,
            },
        ]);
    }

    #[test]
    fn key_outside_the_trigger_is_an_error() {
        let mut h = Harness::new(recipe).unwrap();
        let err = h.map(&[testing::hash("car:1", &[])]).unwrap_err();
        assert!(err.to_string().contains("matches no trigger"), "{}", err);
    }
}
