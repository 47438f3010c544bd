//! When a worker flushes the outcomes it holds: once [`FLUSH_AFTER`] of task time passed since
//! its last flush. Reading the clock costs about as much as a tiny task, so it is read only
//! every `stride` items, a stride that doubles while the items between two readings take less
//! than a quarter of the window and halves when they take more: tiny tasks read it once per
//! hundreds of items, a task of a window or longer is flushed as soon as it ends.

use std::time::{Duration, Instant};

/// The longest finished results are held back before they are sent (task time since the last
/// flush): short enough that `imap` sees results promptly, long enough that a flush carries
/// many tiny tasks.
pub(crate) const FLUSH_AFTER: Duration = Duration::from_micros(100);

/// The most items between two readings of the clock.
pub(crate) const MAX_STRIDE: u32 = 256;

/// A worker's flush clock.
pub(crate) struct FlushClock {
    /// The last flush (or the start).
    since: Instant,
    /// The last reading.
    read: Instant,
    /// Items between readings.
    stride: u32,
    /// Items until the next reading.
    countdown: u32,
    /// The most items between readings.
    max_stride: u32,
}

impl FlushClock {
    /// A clock whose window starts now, reading the clock at least every `max_stride` items
    /// (1: after every item).
    pub(crate) fn new(max_stride: u32) -> Self {
        let now = Instant::now();
        FlushClock {
            since: now,
            read: now,
            stride: 1,
            countdown: 1,
            max_stride: max_stride.max(1),
        }
    }

    /// After an item: whether the window passed (the clock read only every `stride` items).
    #[inline]
    pub(crate) fn due(&mut self) -> bool {
        self.countdown -= 1;
        if self.countdown > 0 {
            return false;
        }
        self.read_clock()
    }

    /// A reading of the clock: the stride adjusted, and whether the window passed.
    #[cold]
    fn read_clock(&mut self) -> bool {
        let now = Instant::now();
        self.stride = if now - self.read < FLUSH_AFTER / 4 {
            (self.stride * 2).min(self.max_stride)
        } else {
            (self.stride / 2).max(1)
        };
        self.countdown = self.stride;
        self.read = now;
        now - self.since >= FLUSH_AFTER
    }

    /// A flush happened: the next window starts now.
    pub(crate) fn restart(&mut self) {
        self.since = Instant::now();
        self.read = self.since;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_items_stretch_the_stride_and_a_long_one_is_due_at_once() {
        let mut clock = FlushClock::new(MAX_STRIDE);
        for _ in 0..2000 {
            clock.due();
        }
        assert!(clock.stride > 1, "tiny items read the clock less often");
        let mut clock = FlushClock::new(MAX_STRIDE);
        std::thread::sleep(FLUSH_AFTER * 2);
        assert!(clock.due(), "a long first item is flushed as it ends");
    }
}
