//! The functions a process pool runs: [`Task`], a plain function pointer applied to its
//! arguments, and the trampolines that run one in a worker from bytes (the argument decoded,
//! the function read back from its [`FnRef`], a panic caught, the result encoded).

use std::panic::{self, AssertUnwindSafe};

use mp_ipc::Bytes;
use mp_sync::raw::{FnPointer, FnRef};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::encode_target::EncodeTarget;
use crate::frames;
use crate::item_run::ItemRun;
use crate::panics::panic_message;
use crate::wire::{
    FunctionWire, InitCall, ItemCall, ItemFailure, OUTCOME_FAILED, OUTCOME_OK, RunInit, RunItems,
};

/// A plain function a process pool can send to its workers, applied to `Args`: `fn(T) -> R`
/// takes its one argument (`map`, `apply`, `imap`), `fn(A, B) -> R` and the forms of three and
/// four arguments take a tuple (`starmap`, Python's `f(*args)`).
///
/// The pool's map forms take `fn(T) -> R` directly, so a function's name is enough there; for
/// `starmap`, name the pointer type: `pool.starmap(mul as fn(u64, u64) -> u64, pairs)`.
pub trait Task<Args>: FnPointer {
    /// What the function returns.
    type Output;
    /// Calls the function with `args`.
    fn call(self, args: Args) -> Self::Output;
}

impl<T: 'static, R: 'static> Task<T> for fn(T) -> R {
    type Output = R;
    fn call(self, args: T) -> R {
        self(args)
    }
}

/// Implements [`Task`] over a tuple for functions of the given argument types.
macro_rules! star_task {
    ($($arg:ident),+) => {
        impl<R: 'static, $($arg: 'static),+> Task<($($arg,)+)> for fn($($arg),+) -> R {
            type Output = R;
            #[allow(non_snake_case)]
            fn call(self, ($($arg,)+): ($($arg,)+)) -> R {
                self($($arg),+)
            }
        }
    };
}

star_task!(A, B);
star_task!(A, B, C);
star_task!(A, B, C, D);

/// Encodes a value for the trip to or from a worker.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, String> {
    postcard::to_allocvec(value)
        .map(Bytes)
        .map_err(|e| e.to_string())
}

/// Appends the encoding of `value` to `out` (on an error, `out` may hold part of it: the
/// caller's record is dropped). The bytes are postcard's, written by the pool's own encoder
/// ([`crate::encoder`]: a varint is stored as one word).
#[inline]
pub(crate) fn encode_into<T: Serialize + ?Sized, O: EncodeTarget>(
    value: &T,
    out: &mut O,
) -> Result<(), String> {
    crate::encoder::encode_into(value, out).map_err(|e| e.to_string())
}

/// Decodes a value that made the trip (always inlined: a value returned through memory was
/// reloaded wider than it was stored, which stalls).
#[inline(always)]
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    // `postcard::from_bytes`'s two lines, here so that they inline into the item loop and the
    // results' decoding (postcard's function was a call per item).
    let mut deserializer = postcard::Deserializer::from_bytes(bytes);
    T::deserialize(&mut deserializer).map_err(|e| e.to_string())
}

/// How a worker runs items of `f`.
pub(crate) fn item_call<Args, F>(f: F) -> ItemCall
where
    Args: DeserializeOwned + 'static,
    F: Task<Args>,
    F::Output: Serialize,
{
    ItemCall {
        run: FnRef::new(run_items::<Args, F> as RunItems),
        function: FnRef::new(f).to_wire(),
    }
}

/// How a worker runs the initializer `f(args)`; the error is the encoder's, if `args` cannot
/// be encoded.
pub(crate) fn init_call<A>(f: fn(A), args: &A) -> Result<InitCall, String>
where
    A: Serialize + DeserializeOwned + 'static,
{
    Ok(InitCall {
        run: FnRef::new(run_init::<A> as RunInit),
        function: FnRef::new(f).to_wire(),
        args: encode(args)?,
    })
}

/// The trampoline of a run of items, in the worker: the function is looked up and checked
/// once, then each item is decoded, called and encoded, its outcome record appended; a panic
/// anywhere in an item (the function, the result's `Serialize`) fails that item only.
fn run_items<Args, F>(function: FunctionWire, mut run: ItemRun) -> ItemRun
where
    Args: DeserializeOwned + 'static,
    F: Task<Args>,
    F::Output: Serialize,
{
    match FnRef::<F>::from_wire(function.0, function.1) {
        Ok(f) => {
            let f = f.get();
            run.run(|arg, out| run_item::<Args, F, _>(f, arg, out));
        }
        Err(error) => {
            let failure = ItemFailure::Unrunnable(error.to_string());
            run.run(|_, out| push_failure(out, &failure));
        }
    }
    run
}

/// Runs one item: decode, call, encode, appending its outcome record to `out`.
#[inline(always)]
fn run_item<Args, F, O>(f: F, arg: &[u8], out: &mut O)
where
    O: EncodeTarget,
    Args: DeserializeOwned + 'static,
    F: Task<Args>,
    F::Output: Serialize,
{
    let failure = match call_item::<Args, F>(f, arg) {
        Ok(value) => {
            let encoded = frames::push(
                out,
                |out| {
                    out.push(OUTCOME_OK);
                    match panic::catch_unwind(AssertUnwindSafe(|| encode_into(&value, out))) {
                        Ok(encoded) => encoded.map_err(ItemFailure::ResultEncoding),
                        Err(payload) => {
                            Err(ItemFailure::ResultEncoding(panic_message(payload.as_ref())))
                        }
                    }
                },
                |len| ItemFailure::ResultEncoding(format!("the result's {len} bytes are too many")),
            );
            match encoded {
                Ok(()) => return,
                Err(failure) => failure,
            }
        }
        Err(failure) => failure,
    };
    push_failure(out, &failure);
}

/// Decodes the argument and calls the function.
#[inline(always)]
fn call_item<Args, F>(f: F, arg: &[u8]) -> Result<F::Output, ItemFailure>
where
    Args: DeserializeOwned + 'static,
    F: Task<Args>,
{
    let args: Args = decode(arg)
        .map_err(|e| ItemFailure::Unrunnable(format!("its argument does not decode: {e}")))?;
    panic::catch_unwind(AssertUnwindSafe(|| f.call(args)))
        .map_err(|payload| ItemFailure::Panicked(panic_message(payload.as_ref())))
}

/// Appends the outcome record of a failed item (an empty record, read back as a malformed
/// outcome, should even the failure not encode).
pub(crate) fn push_failure<O: EncodeTarget>(out: &mut O, failure: &ItemFailure) {
    let pushed = frames::push(
        out,
        |out| {
            out.push(OUTCOME_FAILED);
            encode_into(failure, out)
        },
        |len| format!("{len} bytes"),
    );
    if pushed.is_err() {
        let _ = frames::push(out, |_| Ok::<(), ()>(()), |_| ());
    }
}

/// The trampoline of an initializer, in the worker.
fn run_init<A>(function: FunctionWire, args: Bytes) -> Result<(), String>
where
    A: DeserializeOwned + 'static,
{
    let f = FnRef::<fn(A)>::from_wire(function.0, function.1)
        .map_err(|e| e.to_string())?
        .get();
    let args: A = decode(&args).map_err(|e| format!("its arguments do not decode: {e}"))?;
    panic::catch_unwind(AssertUnwindSafe(|| f(args)))
        .map_err(|payload| panic_message(payload.as_ref()))
}
