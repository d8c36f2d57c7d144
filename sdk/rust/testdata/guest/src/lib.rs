//! A test recipe: its configuration picks an init failure, and the suffix
//! of a change's key picks what the map function does.

use cogs::{Change, Error, Output, Recipe, Reject, Trigger};

cogs::register!(recipe);

fn recipe(config: &[u8]) -> Result<Recipe, Error> {
    let name = match config {
        b"init-error" => return Err(Error::new("the configuration says no")),
        b"init-panic" => panic!("init panics"),
        b"bad-name" => "Bad",
        _ => "guest",
    };
    cogs::info(&format!(
        "init with {} bytes of configuration",
        config.len()
    ));
    Ok(Recipe::new(name, "1.2.3")
        .trigger(Trigger::hash("k:", "db"))
        .trigger(Trigger::json("j:", "db").write_through())
        .batch_size(10)
        .map(map))
}

fn map(c: &Change, out: &mut Output) -> Result<(), Reject> {
    match c.key_suffix().as_bytes() {
        b"skip" => out.skip(),
        b"reject" => return Err(Reject::new("rejected")),
        b"panic" => panic!("map panics on {:?}", c.key()),
        b"log" => {
            cogs::warn("a warning");
            out.upsert("t").key("k", "log");
        }
        b"two" => {
            out.delete("a").key("k", 1);
            out.insert("b").key("k", 2).col("s", "x");
        }
        _ => {
            out.upsert("t")
                .key("k", c.key_suffix())
                .col("n", c.int("n")?)
                .col("trigger", c.trigger_index() as u32)
                .col("doc", c.doc());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cogs::testing::{self, Case, Harness};

    /// The cases of cases.txt, as the Go test reads them.
    fn cases(text: &str) -> Vec<(String, Vec<(String, String)>, String, String)> {
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let parts: Vec<&str> = l.split('\t').collect();
                assert_eq!(parts.len(), 4, "line {:?}", l);
                let fields = parts[1]
                    .split(';')
                    .filter(|f| !f.is_empty())
                    .map(|f| {
                        let (n, v) = f.split_once('=').unwrap();
                        (n.to_owned(), v.to_owned())
                    })
                    .collect();
                (
                    parts[0].to_owned(),
                    fields,
                    parts[2].to_owned(),
                    parts[3].to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn cases_natively() {
        let cases = cases(include_str!("../cases.txt"));
        assert!(cases.len() >= 5);
        let pairs: Vec<Vec<(&str, &str)>> = cases
            .iter()
            .map(|c| c.1.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let list: Vec<Case> = cases
            .iter()
            .zip(&pairs)
            .map(|(c, fields)| Case {
                name: &c.0,
                change: if c.2.is_empty() {
                    testing::hash(&c.0, fields)
                } else {
                    testing::doc(&c.0, &c.2)
                },
                want: &c.3,
            })
            .collect();
        let mut h = Harness::new(super::recipe).unwrap();
        h.check(&list);
    }

    #[test]
    fn failures_natively() {
        let err = Harness::with_config(super::recipe, b"init-error").unwrap_err();
        assert_eq!(err.to_string(), "init: the configuration says no");
        let err = Harness::with_config(super::recipe, b"bad-name").unwrap_err();
        assert!(
            err.to_string().contains(r#"recipe name "Bad" is invalid"#),
            "{}",
            err
        );
        let mut h = Harness::new(super::recipe).unwrap();
        h.map(&[testing::hash("k:log", &[])]).unwrap();
        assert_eq!(
            h.logs(),
            &[
                (
                    cogs::Level::Info,
                    "init with 0 bytes of configuration".to_owned()
                ),
                (cogs::Level::Warn, "a warning".to_owned())
            ]
        );
    }

    #[test]
    #[should_panic(expected = "map panics on \"k:panic\"")]
    fn panic_natively() {
        let mut h = Harness::new(super::recipe).unwrap();
        let _ = h.map(&[testing::hash("k:panic", &[])]);
    }
}
