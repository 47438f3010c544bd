//! `starmap`'s argument unpacking: a function of several arguments applied to a tuple
//! (Python's `f(*args)`).

/// A function that takes its arguments from a tuple: implemented for every
/// `Fn(A, B, ..) -> R + Send + Sync` of one to six arguments, over `(A, B, ..)`.
pub trait StarFn<Args>: Send + Sync + 'static {
    /// What it returns.
    type Output;
    /// Calls it with the tuple's items as arguments.
    fn call_star(&self, args: Args) -> Self::Output;
}

/// Implements [`StarFn`] for functions of the given argument types.
macro_rules! star_fn {
    ($($arg:ident),+) => {
        impl<F, R, $($arg),+> StarFn<($($arg,)+)> for F
        where
            F: Fn($($arg),+) -> R + Send + Sync + 'static,
        {
            type Output = R;
            #[allow(non_snake_case)]
            fn call_star(&self, ($($arg,)+): ($($arg,)+)) -> R {
                self($($arg),+)
            }
        }
    };
}

star_fn!(A);
star_fn!(A, B);
star_fn!(A, B, C);
star_fn!(A, B, C, D);
star_fn!(A, B, C, D, E);
star_fn!(A, B, C, D, E, G);
