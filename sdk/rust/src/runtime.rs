//! The recipe side of the ABI, shared by the Wasm build (where the host
//! functions are imports) and the native test harness (where an in-process
//! host serves them): both run `Runtime::init` for `cogs_init` and
//! `Runtime::map` for `cogs_map`, over the same encoding and buffers.

use crate::abi::{self, ChangeIndex};
use crate::{Change, Error, Output, Recipe};

/// Push results when this many bytes are pending.
const FLUSH_AT: usize = 256 << 10;

/// The host functions, as the runtime calls them. Statuses are the
/// `STATUS_*` constants.
pub(crate) trait Host {
    /// `config_get` with buf: the status and the length written at `len_ptr`.
    fn config_get(&mut self, buf: &mut [u8]) -> (u32, u32);
    fn declare(&mut self, meta: &[u8]) -> u32;
    /// `change_get` with buf: the status and the length written at `len_ptr`.
    fn change_get(&mut self, index: u32, buf: &mut [u8]) -> (u32, u32);
    fn result_push(&mut self, results: &[u8]) -> u32;
    fn fail(&mut self, msg: &[u8]);
}

pub(crate) struct Runtime {
    recipe: Recipe,
    change_buf: Vec<u8>,
    change: ChangeIndex,
    output: Output,
    out: Vec<u8>,
}

/// The name of a status, as SPEC.md and the host print it.
pub(crate) fn status_name(st: u32) -> String {
    let name = match st {
        abi::STATUS_OK => "OK",
        abi::STATUS_NOT_FOUND => "NOT_FOUND",
        abi::STATUS_BUFFER_TOO_SMALL => "BUFFER_TOO_SMALL",
        abi::STATUS_BAD_POINTER => "BAD_POINTER",
        abi::STATUS_BAD_ENCODING => "BAD_ENCODING",
        abi::STATUS_BAD_PHASE => "BAD_PHASE",
        abi::STATUS_LIMIT_EXCEEDED => "LIMIT_EXCEEDED",
        abi::STATUS_BAD_ARGUMENT => "BAD_ARGUMENT",
        abi::STATUS_RECIPE_ERROR => "RECIPE_ERROR",
        _ => return format!("STATUS_{}", st),
    };
    name.to_owned()
}

fn fail<H: Host>(host: &mut H, msg: &str) -> u32 {
    host.fail(msg.as_bytes());
    abi::STATUS_RECIPE_ERROR
}

/// Reads the load-time configuration with the length protocol.
fn config<H: Host>(host: &mut H) -> Result<Vec<u8>, u32> {
    let (st, n) = host.config_get(&mut []);
    match st {
        abi::STATUS_OK => return Ok(Vec::new()),
        abi::STATUS_BUFFER_TOO_SMALL => {}
        _ => return Err(st),
    }
    let mut buf = vec![0u8; n as usize];
    let (st, n) = host.config_get(&mut buf);
    if st != abi::STATUS_OK {
        return Err(st);
    }
    buf.truncate(n as usize);
    Ok(buf)
}

impl Runtime {
    /// `cogs_init`: builds the recipe from the configuration and declares
    /// it. On failure it returns the status for `cogs_init` to return,
    /// having set the failure message.
    pub fn init<H, F>(host: &mut H, build: F) -> Result<Runtime, u32>
    where
        H: Host,
        F: FnOnce(&[u8]) -> Result<Recipe, Error>,
    {
        let cfg = match config(host) {
            Ok(cfg) => cfg,
            Err(st) => return Err(fail(host, &format!("config_get: {}", status_name(st)))),
        };
        let recipe = match build(&cfg) {
            Ok(r) => r,
            Err(e) => return Err(fail(host, e.message())),
        };
        if recipe.map_fn().is_none() {
            return Err(fail(
                host,
                &format!("recipe {} has no map function", recipe.name()),
            ));
        }
        let mut meta = Vec::new();
        recipe.encode_meta(&mut meta);
        if host.declare(&meta) != abi::STATUS_OK {
            return Err(abi::STATUS_RECIPE_ERROR); // the host knows why
        }
        Ok(Runtime {
            recipe,
            change_buf: vec![0; 4096],
            change: ChangeIndex::default(),
            output: Output::new(),
            out: Vec::new(),
        })
    }

    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// `cogs_map`: maps changes 0 to count-1 and pushes their results.
    pub fn map<H: Host>(&mut self, host: &mut H, count: u32) -> u32 {
        self.out.clear();
        for i in 0..count {
            let n = match self.get_change(host, i) {
                Ok(n) => n,
                Err(st) => return st,
            };
            let trigger = &self.recipe.triggers()[self.change.trigger as usize];
            let change = Change::new(&self.change_buf[..n], &self.change, trigger);
            self.output.reset();
            let mapped = (self.recipe.map_fn().unwrap())(&change, &mut self.output);
            self.output.append_result(&mut self.out, i, mapped);
            if self.out.len() >= FLUSH_AT {
                let st = host.result_push(&self.out);
                if st != abi::STATUS_OK {
                    return fail(host, &format!("result_push: {}", status_name(st)));
                }
                self.out.clear();
            }
        }
        if !self.out.is_empty() {
            let st = host.result_push(&self.out);
            if st != abi::STATUS_OK {
                return fail(host, &format!("result_push: {}", status_name(st)));
            }
        }
        abi::STATUS_OK
    }

    /// Copies change i into the change buffer (growing it if needed),
    /// decodes it and checks its trigger; it returns the record's length,
    /// or the status to fail the call with.
    fn get_change<H: Host>(&mut self, host: &mut H, i: u32) -> Result<usize, u32> {
        let (mut st, mut n) = host.change_get(i, &mut self.change_buf);
        if st == abi::STATUS_BUFFER_TOO_SMALL {
            let want = n as usize;
            self.change_buf.resize(want + want / 4, 0);
            let again = host.change_get(i, &mut self.change_buf);
            st = again.0;
            n = again.1;
        }
        if st != abi::STATUS_OK {
            return Err(fail(host, &format!("change_get: {}", status_name(st))));
        }
        let n = n as usize;
        if n > self.change_buf.len() {
            return Err(fail(
                host,
                &format!("change_get: length {} over the buffer's", n),
            ));
        }
        if let Err(e) = self.change.decode(&self.change_buf[..n]) {
            return Err(fail(host, &format!("change {}: {}", i, e)));
        }
        let t = self.change.trigger as usize;
        let key = self.change.key.get(&self.change_buf);
        let ok = match self.recipe.triggers().get(t) {
            Some(tr) => key.starts_with(tr.prefix().as_bytes()),
            None => false,
        };
        if !ok {
            return Err(fail(
                host,
                &format!(
                    "change {} names trigger {} which does not match its key",
                    self.change.id, t
                ),
            ));
        }
        Ok(n)
    }
}
