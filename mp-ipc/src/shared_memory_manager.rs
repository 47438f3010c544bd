//! [`SharedMemoryManager`]: Python's `multiprocessing.managers.SharedMemoryManager`, which
//! creates segments and lists for other processes and unlinks every one at shutdown.

use std::sync::Mutex;

use crate::shareable_item::ShareableItem;
use crate::shareable_list::ShareableList;
use crate::shared_memory::{Owner, SharedMemory, SharedMemoryOptions};
use crate::shared_memory_error::SharedMemoryError;

/// Creates segments and shareable lists that outlive every handle to them, and unlinks them
/// all at [`shutdown`](Self::shutdown), when dropped, or when its process dies (SIGKILL
/// included, by the name watcher that every creating process has).
///
/// Unlike Python's there is no server process: on Linux a segment needs none to be created,
/// and the watcher does the cleanup a dying server would have done. The handles it gives out
/// never unlink their names themselves, and can be passed to any process (by argument or in
/// a message, as any [`SharedMemory`]). Using it before [`start`](Self::start) or after
/// `shutdown` is [`NotRunning`](SharedMemoryError::NotRunning).
///
/// ```
/// use mp_ipc::{SharedMemory, SharedMemoryManager};
/// let smm = SharedMemoryManager::new();
/// smm.start()?;
/// let shm = smm.shared_memory(128)?;
/// let name = shm.name().to_owned();
/// drop(shm);                                     // the segment stays
/// assert!(SharedMemory::attach(&name).is_ok());
/// smm.shutdown();                                // now it goes
/// assert!(SharedMemory::attach(&name).is_err());
/// # Ok::<(), mp_ipc::SharedMemoryError>(())
/// ```
#[derive(Debug, Default)]
pub struct SharedMemoryManager {
    /// Not started, running with the names it owns, or shut down.
    state: Mutex<State>,
}

/// A manager's life.
#[derive(Debug, Default)]
enum State {
    /// Made, not started.
    #[default]
    NotStarted,
    /// Started: the names created so far.
    Running(Vec<Owner>),
    /// Shut down: everything unlinked.
    ShutDown,
}

impl SharedMemoryManager {
    /// A manager, not started.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the manager (`AlreadyStarted` if it was started before).
    pub fn start(&self) -> Result<(), SharedMemoryError> {
        let mut state = self.lock();
        match *state {
            State::NotStarted => {
                *state = State::Running(Vec::new());
                Ok(())
            }
            _ => Err(SharedMemoryError::AlreadyStarted),
        }
    }

    /// A zeroed segment of `size` bytes with a generated name (Python's
    /// `smm.SharedMemory(size)`), unlinked at shutdown.
    pub fn shared_memory(&self, size: usize) -> Result<SharedMemory, SharedMemoryError> {
        self.shared_memory_with(&SharedMemoryOptions::new(), size)
    }

    /// A zeroed segment of `size` bytes made with `options`, unlinked at shutdown.
    pub fn shared_memory_with(
        &self,
        options: &SharedMemoryOptions,
        size: usize,
    ) -> Result<SharedMemory, SharedMemoryError> {
        let mut state = self.lock();
        let State::Running(owned) = &mut *state else {
            return Err(SharedMemoryError::NotRunning);
        };
        let (shm, owner) = options.create_detached(size)?;
        owned.push(owner);
        Ok(shm)
    }

    /// A list of `values` in a segment with a generated name (Python's
    /// `smm.ShareableList(values)`), unlinked at shutdown.
    pub fn shareable_list<T: ShareableItem>(
        &self,
        values: &[T],
    ) -> Result<ShareableList<T>, SharedMemoryError> {
        ShareableList::create_with(values, |size| self.shared_memory(size))
    }

    /// The names of the segments it holds now.
    pub fn names(&self) -> Vec<String> {
        match &*self.lock() {
            State::Running(owned) => owned.iter().map(|o| o.name().to_owned()).collect(),
            _ => Vec::new(),
        }
    }

    /// Unlinks every segment it created; it cannot be used any more. Mappings that processes
    /// hold stay valid.
    pub fn shutdown(&self) {
        let old = std::mem::replace(&mut *self.lock(), State::ShutDown);
        // Dropping the owners unlinks their names.
        drop(old);
    }

    /// The state, whatever a panicking holder left.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SharedMemoryManager {
    fn drop(&mut self) {
        self.shutdown();
    }
}
