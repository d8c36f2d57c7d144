//! The Rust SDK for cogs recipes.
//!
//! A recipe is a WebAssembly module that tells cogs which Redis keys to
//! watch and turns each change of such a key into row operations on a
//! target database. With this crate it is a `cdylib` crate whose root
//! registers a function that builds the [`Recipe`] from its load-time
//! configuration:
//!
//! ```
//! use cogs::{Change, Error, Output, Recipe, Reject, Trigger};
//!
//! cogs::register!(recipe);
//!
//! fn recipe(_config: &[u8]) -> Result<Recipe, Error> {
//!     Ok(Recipe::new("persons", "1.0.0")
//!         .trigger(Trigger::hash("person:", "mysql"))
//!         .map(map_person))
//! }
//!
//! fn map_person(c: &Change, out: &mut Output) -> Result<(), Reject> {
//!     let id = c.key_suffix();
//!     if c.is_deleted() {
//!         out.delete("persons").key("person_id", id);
//!         return Ok(());
//!     }
//!     let age = c.int("age").map_err(|_| Reject::new("age is not an integer"))?;
//!     out.upsert("persons")
//!         .key("person_id", id)
//!         .col("first", c.get("first_name"))
//!         .col("last", c.get("last_name"))
//!         .col("age", age);
//!     Ok(())
//! }
//! ```
//!
//! Build it for `wasm32-unknown-unknown` (the module then imports nothing
//! but the `cogs` host functions):
//!
//! ```text
//! cargo build --release --target wasm32-unknown-unknown
//! ```
//!
//! The host calls the map function once per change, for a whole batch of
//! changes in one Wasm call. What a [`Change`] returns borrows the SDK's
//! change buffer and is valid while the map function runs.
//!
//! The same recipe runs natively under `cargo test` through the
//! `cogs::testing` harness. The crate has no dependencies; it implements ABI
//! 1.0 (`abi/SPEC.md` in the cogs repository), whose records and encoding
//! are in [`abi`].

#![warn(missing_docs)]

pub mod abi;
mod change;
mod output;
mod recipe;
mod runtime;
mod value;

#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use abi::{ChangeOp, DataKind, Mode, StreamId, Value};
pub use change::Change;
pub use output::{Output, Row};
pub use recipe::{Error, FieldError, Recipe, Reject, Trigger};
pub use value::Text;

/// A log level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Level {
    /// Trace.
    Trace = abi::LOG_TRACE,
    /// Debug.
    Debug = abi::LOG_DEBUG,
    /// Info.
    Info = abi::LOG_INFO,
    /// Warn.
    Warn = abi::LOG_WARN,
    /// Error.
    Error = abi::LOG_ERROR,
}

/// Writes a message to the host's log, tagged with the recipe. Messages
/// over 4096 bytes are cut. (Under the `cogs::testing` harness the
/// messages are collected; see `Harness::logs`.)
pub fn log(level: Level, msg: &str) {
    #[cfg(target_arch = "wasm32")]
    guest::log(level, msg);
    #[cfg(not(target_arch = "wasm32"))]
    testing::log(level, msg);
}

/// Logs at debug level.
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

/// Logs at info level.
pub fn info(msg: &str) {
    log(Level::Info, msg)
}

/// Logs at warn level.
pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

/// Logs at error level.
pub fn error(msg: &str) {
    log(Level::Error, msg)
}

/// Makes a recipe of this crate: in a Wasm build it defines the module's
/// exports (the ABI version marker `cogs_abi_version_1_0`, `cogs_init` and
/// `cogs_map`); natively it only type-checks its argument, so the crate's
/// tests build.
///
/// Its argument is a function (or closure) `FnOnce(&[u8]) -> Result<Recipe,
/// Error>`: it receives the load-time configuration (the `CONFIG` of
/// `RECIPE LOAD`, usually JSON; empty when none was given) and builds the
/// recipe. An error fails the load with its message. It runs once per
/// instance and must build the same declaration every time.
///
/// Use it once, at the root of a `cdylib` crate.
#[macro_export]
macro_rules! register {
    ($build:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[export_name = "cogs_abi_version_1_0"]
            extern "C" fn __cogs_abi_version() {}

            #[export_name = "cogs_init"]
            extern "C" fn __cogs_init() -> u32 {
                $crate::__private::init($build)
            }

            #[export_name = "cogs_map"]
            extern "C" fn __cogs_map(count: u32) -> u32 {
                $crate::__private::map(count)
            }
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn __cogs_check() {
                let _ = $crate::__private::check($build);
            }
        };
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{init, map};

    /// Type-checks the argument of `register!`.
    pub fn check<F>(build: F) -> F
    where
        F: FnOnce(&[u8]) -> Result<crate::Recipe, crate::Error>,
    {
        build
    }
}
