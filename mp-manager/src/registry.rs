//! [`Served`]: how a user type is served by a manager (Python's `BaseManager.register`), and
//! the registrations a server carries: a name, the type's name, and its constructor as
//! [`FnRef`]s, so that a server started by spawn or forkserver can make instances too.

use std::any::type_name;

use mp_sync::raw::FnRef;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::Refusal;
use crate::wire::Bytes;

/// A type a manager serves: each call of its proxy's
/// [`call`](crate::Proxy::call) is one request in and one response out, on the server, with
/// the object borrowed mutably (calls on one object run one at a time; calls on different
/// objects run at once).
///
/// ```
/// use mp_manager::Served;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default)]
/// struct Counter(i64);
///
/// #[derive(Serialize, Deserialize)]
/// enum CounterRequest { Add(i64), Get }
///
/// impl Served for Counter {
///     type Request = CounterRequest;
///     type Response = i64;
///     fn call(&mut self, request: CounterRequest) -> i64 {
///         if let CounterRequest::Add(n) = request { self.0 += n; }
///         self.0
///     }
/// }
/// ```
pub trait Served: Send + 'static {
    /// What a proxy asks.
    type Request: Serialize + DeserializeOwned;
    /// What the object answers.
    type Response: Serialize + DeserializeOwned;

    /// Answers one request. A panic here is a [`Refusal::Panicked`] error to this caller
    /// only, and poisons this object (later calls get [`Refusal::Poisoned`]).
    fn call(&mut self, request: Self::Request) -> Self::Response;
}

/// A served object with its types erased: bytes in, bytes out.
pub(crate) trait ErasedServed: Send {
    /// Decodes the request, calls, encodes the response.
    fn call_bytes(&mut self, request: &[u8]) -> Result<Bytes, Refusal>;
}

/// A `T` behind [`ErasedServed`].
struct Holder<T>(T);

impl<T: Served> ErasedServed for Holder<T> {
    fn call_bytes(&mut self, request: &[u8]) -> Result<Bytes, Refusal> {
        let request = decode::<T::Request>(request)
            .map_err(|e| Refusal::BadRequest(format!("{}: {e}", type_name::<T::Request>())))?;
        encode(&self.0.call(request)).map_err(|e| Refusal::BadRequest(format!("response: {e}")))
    }
}

/// Makes an instance from its constructor's wire form (`None`: a constructor of another
/// program image).
type Make = fn(u64, u64) -> Option<Box<dyn ErasedServed>>;

/// [`Make`] for `T`: the constructor is a `fn() -> T`.
fn make<T: Served>(offset: u64, fingerprint: u64) -> Option<Box<dyn ErasedServed>> {
    let ctor = FnRef::<fn() -> T>::from_wire(offset, fingerprint).ok()?;
    Some(Box::new(Holder((ctor.get())())))
}

/// One registered type, as the server needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Registration {
    /// The name it is registered under.
    pub(crate) name: String,
    /// `std::any::type_name` of the type (a proxy of another type is refused).
    pub(crate) type_name: String,
    /// [`make`] for the type.
    make: FnRef<Make>,
    /// The constructor's wire form.
    ctor: (u64, u64),
}

impl Registration {
    /// `T` under `name`, made by `ctor`.
    pub(crate) fn new<T: Served>(name: &str, ctor: fn() -> T) -> Registration {
        Registration {
            name: name.to_owned(),
            type_name: type_name::<T>().to_owned(),
            make: FnRef::new(make::<T> as Make),
            ctor: FnRef::new(ctor).to_wire(),
        }
    }

    /// A new instance (`None` if the constructor is of another program image).
    pub(crate) fn instantiate(&self) -> Option<Box<dyn ErasedServed>> {
        (self.make.get())(self.ctor.0, self.ctor.1)
    }
}
