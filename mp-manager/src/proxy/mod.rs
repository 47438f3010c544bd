//! The typed proxies: each one a [`handle::Handle`] (the server's address and key, the
//! object's id) and the types it encodes and decodes.

/// `Clone` (a proxy with a connection of its own) and `Debug` for a typed proxy
/// `$name<T..>` with fields `handle` and `types`, whatever its type parameters are.
macro_rules! typed_proxy {
    ($name:ident<$($t:ident),+>) => {
        impl<$($t),+> Clone for $name<$($t),+> {
            fn clone(&self) -> Self {
                $name {
                    handle: self.handle.clone(),
                    types: std::marker::PhantomData,
                }
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
