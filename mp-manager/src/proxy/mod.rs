//! The typed proxies: each one a [`handle::Handle`] (the server's address and key, the
//! object's id) and the types it encodes and decodes.

/// Declares a typed proxy `pub struct $name<T..>`: the object's [`handle::Handle`] and the
/// types it encodes and decodes (a `PhantomData`, serde bound on nothing), with its
/// `pub(crate) fn new(handle)`, `Clone` (a proxy with a connection of its own) and `Debug`.
/// The caller writes the struct's docs; its methods are its own `impl`.
macro_rules! typed_proxy {
    ($(#[$doc:meta])* pub struct $name:ident<$($t:ident),+>;) => {
        $(#[$doc])*
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(bound = "")]
        pub struct $name<$($t),+> {
            /// The object.
            handle: $crate::proxy::handle::Handle,
            /// The types it encodes and decodes.
            types: std::marker::PhantomData<fn($($t),+)>,
        }

        impl<$($t),+> $name<$($t),+> {
            /// The proxy of the object behind `handle`.
            pub(crate) fn new(handle: $crate::proxy::handle::Handle) -> Self {
                $name {
                    handle,
                    types: std::marker::PhantomData,
                }
            }
        }

        impl<$($t),+> Clone for $name<$($t),+> {
            fn clone(&self) -> Self {
                $name::new(self.handle.clone())
            }
        }

        impl<$($t),+> std::fmt::Debug for $name<$($t),+> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("handle", &self.handle)
                    .finish()
            }
        }
    };
}

pub(crate) mod acquirer;
pub(crate) mod barrier;
pub(crate) mod condition;
pub(crate) mod dict;
pub(crate) mod event;
pub(crate) mod handle;
pub(crate) mod list;
pub(crate) mod queue;
pub(crate) mod registered;
pub(crate) mod value;
