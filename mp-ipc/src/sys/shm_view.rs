//! The `unsafe` typed views of a [`SharedMemory`]: in the seam, because the crate root denies
//! `unsafe` code and these hand out plain references into bytes other processes may write.

use crate::pod::Pod;
use crate::shared_memory::SharedMemory;
use crate::shared_memory_error::SharedMemoryError;

impl SharedMemory {
    /// `count` values of `T` from byte `offset`, viewed in place (`offset` aligned for `T`).
    ///
    /// # Safety
    /// No thread of any process writes these bytes while the slice is in use (e.g. every
    /// writer holds a lock that you hold now).
    pub unsafe fn as_slice<T: Pod>(
        &self,
        offset: usize,
        count: usize,
    ) -> Result<&[T], SharedMemoryError> {
        self.check_view::<T>(offset, count)?;
        // SAFETY: forwarded to the caller.
        unsafe { self.mapping().slice::<T>(offset, count) }
            .ok_or(SharedMemoryError::Corrupt("checked view refused"))
    }

    /// `count` values of `T` from byte `offset`, viewed in place mutably.
    ///
    /// # Safety
    /// No other thread of any process reads or writes these bytes while the slice is in use.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice<T: Pod>(
        &self,
        offset: usize,
        count: usize,
    ) -> Result<&mut [T], SharedMemoryError> {
        self.check_view::<T>(offset, count)?;
        // SAFETY: forwarded to the caller.
        unsafe { self.mapping().slice_mut::<T>(offset, count) }
            .ok_or(SharedMemoryError::Corrupt("checked view refused"))
    }
}
