//! The Wasm side: the host functions as imports of module `cogs`, and the
//! state behind the `cogs_init` and `cogs_map` exports that
//! [`register!`](crate::register) defines.

use crate::abi;
use crate::runtime::{Host, Runtime};
use crate::{Error, Level, Recipe};
use std::cell::RefCell;

#[link(wasm_import_module = "cogs")]
extern "C" {
    fn config_get(buf: *mut u8, cap: u32, len_ptr: *mut u32) -> u32;
    fn declare(ptr: *const u8, len: u32) -> u32;
    fn change_get(index: u32, buf: *mut u8, cap: u32, len_ptr: *mut u32) -> u32;
    fn result_push(ptr: *const u8, len: u32) -> u32;
    #[link_name = "log"]
    fn host_log(level: u32, ptr: *const u8, len: u32) -> u32;
    #[link_name = "fail"]
    fn host_fail(ptr: *const u8, len: u32) -> u32;
}

struct WasmHost;

// Safety of the calls below: every pointer/length pair names memory the
// slice owns, and the host writes only inside [buf, buf+cap) and the four
// bytes at len_ptr, during the call (abi/SPEC.md, "Memory ownership").
impl Host for WasmHost {
    fn config_get(&mut self, buf: &mut [u8]) -> (u32, u32) {
        let mut n = 0u32;
        let st = unsafe { config_get(buf.as_mut_ptr(), buf.len() as u32, &mut n) };
        (st, n)
    }

    fn declare(&mut self, meta: &[u8]) -> u32 {
        unsafe { declare(meta.as_ptr(), meta.len() as u32) }
    }

    fn change_get(&mut self, index: u32, buf: &mut [u8]) -> (u32, u32) {
        let mut n = 0u32;
        let st = unsafe { change_get(index, buf.as_mut_ptr(), buf.len() as u32, &mut n) };
        (st, n)
    }

    fn result_push(&mut self, results: &[u8]) -> u32 {
        unsafe { result_push(results.as_ptr(), results.len() as u32) }
    }

    fn fail(&mut self, msg: &[u8]) {
        unsafe { host_fail(msg.as_ptr(), msg.len() as u32) };
    }
}

pub(crate) fn log(level: Level, msg: &str) {
    unsafe { host_log(level as u32, msg.as_ptr(), msg.len() as u32) };
}

thread_local! {
    // A Wasm instance has one thread; the runtime lives from cogs_init on.
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// `cogs_init`.
pub fn init<F>(build: F) -> u32
where
    F: FnOnce(&[u8]) -> Result<Recipe, Error>,
{
    // A panic traps (panic=abort). Log its message first; on wasm32-wasi
    // print it too, as the host reports the last "panic:" line of stderr
    // with the trap.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = match (
            payload.downcast_ref::<&str>(),
            payload.downcast_ref::<String>(),
        ) {
            (Some(s), _) => s,
            (None, Some(s)) => s.as_str(),
            (None, None) => "Box<dyn Any>",
        };
        let msg = match info.location() {
            Some(l) => format!("panic: {} ({}:{}:{})", what, l.file(), l.line(), l.column()),
            None => format!("panic: {}", what),
        };
        log(Level::Error, &msg);
        #[cfg(target_os = "wasi")]
        eprintln!("{}", msg);
    }));
    match Runtime::init(&mut WasmHost, build) {
        Ok(rt) => {
            RUNTIME.with(|r| *r.borrow_mut() = Some(rt));
            abi::STATUS_OK
        }
        Err(st) => st,
    }
}

/// `cogs_map`.
pub fn map(count: u32) -> u32 {
    RUNTIME.with(|r| match r.borrow_mut().as_mut() {
        Some(rt) => rt.map(&mut WasmHost, count),
        None => {
            WasmHost.fail(b"cogs_map called before cogs_init succeeded");
            abi::STATUS_RECIPE_ERROR
        }
    })
}
