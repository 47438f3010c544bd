//! Python's `multiprocessing` channels and shared data, for Linux: [`Pipe`]/[`Connection`],
//! [`Queue`], [`JoinableQueue`], [`SimpleQueue`], shared [`Value`]/[`Array`], [`wait`], and
//! named shared memory ([`SharedMemory`], [`ShareableList`], [`SharedMemoryManager`]),
//! between any processes (fork, spawn and forkserver children of `mp-process`, and processes
//! that received a handle in an ipc-channel message).
//!
//! # A first example
//!
//! A child (under every start method) answers over a pipe and fills a queue:
//!
//! ```
//! use mp_ipc::{Connection, Pipe, Queue};
//! use mp_process::{Process, StartMethod};
//!
//! fn child((conn, q): (Connection, Queue<String>)) {
//!     let n: u64 = conn.recv().unwrap();
//!     conn.send(&(n * n)).unwrap();
//!     q.put(format!("done {n}")).unwrap();
//! }
//!
//! for method in StartMethod::ALL {
//!     let (ours, theirs) = Pipe(true)?;
//!     let q = Queue::new()?;
//!     let mut p = Process::builder()
//!         .start_method(method)
//!         .allow_fork_with_threads(true)
//!         .target(child, (theirs, q.clone()));
//!     p.start().unwrap();
//!     ours.send(&7u64)?;
//!     assert_eq!(ours.recv::<u64>()?, 49);
//!     assert_eq!(q.get().unwrap(), "done 7");
//!     assert_eq!(p.join().unwrap(), 0);
//! }
//! # Ok::<(), mp_ipc::Error>(())
//! ```
//!
//! Shared values:
//!
//! ```
//! use mp_ipc::{Array, Value};
//!
//! let counter = Value::new(0u64)?;
//! *counter.lock() += 1;
//! let a = Array::<f64>::zeroed(4)?;
//! a.lock()[2] = 1.5;
//! assert_eq!((counter.get(), a.to_vec()), (1, vec![0.0, 0.0, 1.5, 0.0]));
//! # Ok::<(), mp_ipc::Error>(())
//! ```
//!
//! # Python to Rust
//!
//! | Python (`multiprocessing`) | here |
//! |---|---|
//! | `Pipe(duplex)` | [`Pipe`], [`pipe_with_options`] |
//! | `conn.send(obj)`, `conn.recv()` | [`Connection::send`], [`Connection::recv`], [`Connection::recv_timeout`] |
//! | `send_bytes`, `recv_bytes`, `recv_bytes_into` | [`Connection::send_bytes`], [`Connection::recv_bytes`], [`Connection::recv_bytes_into`] |
//! | `conn.poll()`, `conn.poll(t)`, `conn.poll(None)` | [`Connection::try_poll`], [`Connection::poll_timeout`], [`Connection::poll`] |
//! | `conn.close()` | [`Connection::close`] |
//! | a handle inside `conn.send(obj)` (`Connection`, `Queue`, `Lock`, ... in `obj`) | [`Connection::send`]: arrives usable (descriptors beside the bytes; over TCP [`Error::HandlesNeedUnixSocket`]) |
//! | `reduction.send_handle(conn, fd, pid)`, `recv_handle(conn)` | [`send_handle`], [`recv_handle`] (and `_timeout`, `_deadline`); [`Error::NotAHandle`] |
//! | `EOFError`, `BufferTooShort`, `OSError` (closed) | [`Error::Eof`], [`Error::BufferTooShort`], [`Error::Closed`] |
//! | `Listener(address, authkey=k)`, `accept()` | [`Listener::bind`] ([`Address`]: Unix path, abstract, TCP), [`Listener::loopback`], [`Listener::unix`], [`Listener::accept`] (and `_timeout`, `_deadline`, `try_`) |
//! | `Client(address, authkey=k)` | [`Client`], [`client_with_options`] |
//! | `AuthenticationError` | [`Error::Authentication`] ([`AuthenticationError`]) |
//! | `current_process().authkey` | `mp_process::current_process().authkey()` (inherited by children) |
//! | `connection.wait(objects)`, `wait(objects, t)`, `wait(objects, 0)` | [`wait`], [`wait_timeout`], [`try_wait`] (and [`wait_deadline`]) |
//! | a `wait` loop over the same objects | [`WaitSet`]: add once, wait again and again |
//! | `Queue(maxsize)`, `put`, `get`, `put_nowait`, `get_nowait` | [`Queue::with_maxsize`], [`Queue::put`], [`Queue::get`], [`Queue::put_nowait`], [`Queue::get_nowait`] |
//! | `put(x, timeout=t)`, `get(timeout=t)` | [`Queue::put_timeout`], [`Queue::get_timeout`] (and `_deadline` forms) |
//! | `queue.Full`, `queue.Empty` | [`PutError::Full`] (hands the item back), [`GetError::Empty`] |
//! | `qsize`, `empty`, `full`, `close` | [`Queue::qsize`], [`Queue::empty`], [`Queue::full`], [`Queue::close`] |
//! | `join_thread`, `cancel_join_thread` | not needed: no feeder thread |
//! | `JoinableQueue`, `task_done`, `join` | [`JoinableQueue`], [`JoinableQueue::task_done`], [`JoinableQueue::join`], [`JoinableQueue::join_timeout`] |
//! | `queue.close()` (per process) | [`Queue::close`]: wakes this process's waiters; children's copies are open |
//! | `shutdown(immediate)` (3.13), `queue.ShutDown` | [`Queue::shutdown`] (every process; also [`SimpleQueue::shutdown`]), [`Queue::is_shut_down`], [`PutError::ShutDown`], [`GetError::ShutDown`] |
//! | `SimpleQueue` | [`SimpleQueue`] |
//! | `Value('i', 0)`, `v.value`, `get_lock()` | [`Value::new`], [`Value::get`]/[`Value::set`]/[`Value::lock`], [`Value::get_lock`] |
//! | `Value(..., lock=l)` | [`Value::with_lock`], [`Array::with_lock`] |
//! | `Array('d', 10)`, `Array('i', [1, 2])` | [`Array::zeroed`], [`Array::from_slice`] |
//! | `RawValue`, `RawArray` | [`RawValue`], [`RawArray`] (integers safely as atomics: [`RawValue::atomic`], [`RawArray::atomics`]) |
//! | typecodes (`'i'`, `'d'`, ctypes structs) | any [`Pod`] type (`#[derive(Pod, Zeroable)]` for a struct) |
//! | `shared_memory.SharedMemory(create=True, size=n)`, `SharedMemory(name)` | [`SharedMemory::create`], [`SharedMemory::create_named`], [`SharedMemory::attach`] (Python attaches to ours, we to Python's) |
//! | `shm.buf`, `shm.name`, `shm.size`, `close()`, `unlink()` | [`SharedMemory::read`]/[`write`](SharedMemory::write)/[`atomics`](SharedMemory::atomics), [`SharedMemory::name`], [`SharedMemory::size`], [`SharedMemory::close`], [`SharedMemory::unlink`] |
//! | the resource tracker's cleanup | the creator owns the name: unlinked with its last handle or when it dies (a watcher process), unless [`SharedMemory::keep`] |
//! | `ShareableList(seq)`, `ShareableList(name=n)`, `sl[i]`, `index`, `count` | [`ShareableList::new`], [`ShareableList::attach`], [`ShareableList::get`]/[`set`](ShareableList::set), [`ShareableList::index`], [`ShareableList::count`] (CPython's layout) |
//! | `SharedMemoryManager()`, `start`, `SharedMemory(n)`, `ShareableList(seq)`, `shutdown` | [`SharedMemoryManager`] (no server process) |
//! | `ValueError`, `FileNotFoundError`, `FileExistsError`, `IndexError` | [`SharedMemoryError`] |
//!
//! # Reaching other processes: which handles travel
//!
//! Every handle — [`Connection`], [`Queue`], [`JoinableQueue`], [`SimpleQueue`], [`Value`],
//! [`Array`], [`RawValue`], [`RawArray`] — is built from ipc-channel's `IpcSharedMemory`
//! (a memfd mapped `MAP_SHARED`), `mp_sync::Lock`s and, for a connection, ipc-channel
//! senders/receivers. So each one:
//!
//! * is an ordinary argument of an `mp-process` child under **fork** (inherited memory and
//!   descriptors), **spawn** and **forkserver** (the arguments travel in one ipc-channel
//!   message that carries the descriptors);
//! * can itself travel **inside any ipc-channel message** (an `IpcSender<Queue<T>>`, a
//!   struct with a `Connection` field...), to a process started any way;
//! * travels **inside an item of a [`Queue`]** (`Queue<(Connection, Lock)>`, any mp handle or
//!   ipc-channel value in any field) and arrives usable in the process that gets it: the
//!   descriptors go beside the item over the queue's side channel (an ipc-channel), matched
//!   to its frame by a token, and an item never taken leaks nothing (the channel holds them
//!   until the queue goes). Items without handles cost nothing more;
//! * travels **inside a message of a [`Connection`]**: on a pipe the same way (each end
//!   sends the descriptors on its socket of the pipe's one socket pair and receives the
//!   other end's there; the frame's header tag says a token leads it), on a Unix socket connection as `SCM_RIGHTS` on the socket itself (the payload
//!   starts with the counts of channels and regions); over TCP the send is
//!   [`Error::HandlesNeedUnixSocket`]. A message never received leaks nothing, and a frame
//!   whose descriptors are missing or do not match (a hostile or dead sender) is
//!   [`CodecError::HandlesMissing`], not a hang or a panic.
//!
//! A raw descriptor travels with [`send_handle`]/[`recv_handle`] (Python's
//! `multiprocessing.reduction`), in an envelope (a socket holding it in flight) inside an
//! ordinary message, so over a pipe, a Unix socket, and to a child under every start
//! method. A socket [`Connection`] (from [`Listener::accept`] or [`Client`]) travels too:
//! its socket goes, with what was read of it and not handed out yet (bytes and
//! descriptors), and the receiver goes on from there; both copies then read the same
//! socket (as in Python: let one of them use it).
//!
//! Their serde implementations only work inside an ipc-channel message, a queue item or a
//! connection's message. Sending a
//! [`Connection`] moves its watch on the other end to the receiver: the copy left behind
//! still works but no longer detects EOF (it blocks like Python's would).
//!
//! # Between processes started apart: Listener and Client
//!
//! A [`Listener`] accepts socket [`Connection`]s (the same type, methods and [`wait`] as a
//! pipe end) from a [`Client`] of this crate or of CPython: the framing is CPython's (4-byte
//! big-endian length, the 8-byte form above 2 GiB - 1), so `send_bytes`/`recv_bytes`
//! interoperate byte for byte, and the authkey handshake is CPython's HMAC challenge (the
//! `{sha256}` form of 3.12+, and the HMAC-MD5 form of 3.11). Typed `send`/`recv` use this
//! crate's codec (postcard), not pickle: a Python peer exchanges bytes.
//! Named shared memory is the exception: a [`SharedMemory`] or [`ShareableList`] travels as
//! its name (the receiver attaches by name, without taking ownership), so it goes in any
//! message, our own queues and connections included, and to processes that were not started
//! together (Python's among them).
//!
//! # Design
//!
//! * **Transport**: shared-memory rings with futex wake-ups (shared futexes on words in the
//!   segment), not sockets: a round trip costs one futex wake per direction, and bytes are
//!   copied once into the ring and once out.
//! * **Connection**: a segment with two single-producer/single-consumer rings (256 KiB each by
//!   default); a frame is committed by one store of the tail; messages larger than the ring
//!   are streamed through it in chunks. EOF: each end holds one socket of the pipe's one
//!   socket pair (as Python's `Pipe` does); the kernel hangs up the other end's socket when
//!   every copy of an end is closed, in every process. A blocked reader checks it every
//!   20 ms. [`Connection::split`] makes a duplex end two halves for two threads.
//! * **Queue**: one segment with one ring shared by all producers and consumers and, in its
//!   header, a robust mutex ([`mp_sync::raw::RobustMutex`]) for the producers and one for the
//!   consumers; head and tail pack a count and a position in one 64-bit word, so a single
//!   store commits a put or a get, and a process killed mid-call leaves no half-message (the
//!   next holder gets `OwnerDied` and goes on). The default ring is 16 GiB of address space
//!   that costs memory only as it is written and is given back as it is consumed, so an
//!   unbounded queue takes any item (up to 4 GiB) and its `put` does not block.
//! * **Codec**: typed messages use postcard; [`Connection::send_bytes`] and
//!   [`Connection::recv_bytes`] bypass it; [`Bytes`] and [`serde_bytes`] carry large byte
//!   payloads in typed messages as one block. A message that fails to decode is consumed and
//!   reported for that call only.
//!
//! * **Large items**: a queue item is encoded straight into the ring and decoded straight
//!   out of it (a padding frame skips the end of the ring rather than splitting an item).
//!
//! # Costs and limits
//!
//! * Named shared memory: the first segment a process creates forks its name watcher (one
//!   small process per creating process, alive as long as the creator, holding no descriptor
//!   of the creator's but its pipe); a segment costs one `shm_open`, `ftruncate` and `mmap`.
//! * Memory: a duplex pipe maps 2 x 256 KiB of shared memory, a queue 16 GiB of address
//!   space; pages cost memory only once written. A queue keeps at most its first 32 MiB
//!   resident (a warm window its producers return to whenever their item fits there before
//!   the readers, and its positions rewind to whenever it empties) and releases consumed
//!   megabytes beyond them, so its memory follows what is unconsumed, plus the window. One
//!   descriptor and mapping per process holding an object (a queue: one, locks included).
//! * Creation touches no page (a fresh memfd mapped `MAP_NORESERVE`): a pipe or a queue is
//!   created and dropped in tens of microseconds (`cargo bench -p mp-ipc` prints the
//!   figures; the goal is at most 50 µs each).
//! * A backlog beyond the 32 MiB window is written to fresh pages, which the kernel
//!   zero-fills on first touch (about 1 GB/s on these VMs, against ~10 GB/s for resident
//!   pages): a backlog under the window moves at copy speed, a larger one at page-fault speed.
//! * A received byte message or decoded byte string of 256 KiB and up is copied into a new
//!   vector whose pages are faulted in by one `madvise(MADV_POPULATE_WRITE)` first, when they
//!   are not there yet (one `mincore` asks): a kept 1 MiB result no longer takes 256 page
//!   faults, one trap each, in the receiver.
//! * EOF is noticed within 20 ms of the ring running dry (the reader sleeps in slices and
//!   checks whether the other end's socket hung up in between). A send to a pipe whose reader is
//!   gone is [`Error::BrokenPipe`], like a socket with no reader (Python's `BrokenPipeError`):
//!   a send first looks for that hang-up (one non-blocking `poll`) unless a send
//!   looked less than a millisecond ago, so a message is never silently lost to a reader gone
//!   longer than that (a burst of sends makes one `poll` a millisecond, not one each).
//! * Every timed receive returns by its deadline, in the middle of a long message too: that
//!   message is then [`Error::PartialMessage`] and its rest is skipped as it arrives
//!   ([`ReceiveState`]).
//! * [`wait`] and [`WaitSet`] take at most 127 connections and queues, and any number of
//!   descriptors, watched by one long-lived watcher thread per process (`epoll`, started by
//!   the first wait that sleeps on a descriptor; a forked child starts its own): a wait
//!   starts no thread and sleeps until something happens, not in polling slices.
//! * A queue holds three descriptors per process (its segment and its side channel's two
//!   ends); a pipe end holds two (the segment and its socket of the pipe's pair: its
//!   liveness token, its watch on the other end and its side channel), three once a message
//!   with handles reached it (a duplicate of the socket to receive their descriptors on).
//! * Messages with handles wait in a socket (a pipe's side channel, or the connection's
//!   socket) until received: about 270 of them unreceived (its buffer) make the next such
//!   send wait for the receiver. A message with handles received as bytes
//!   ([`Connection::recv_bytes`]) closes its descriptors (its first 8 bytes are then a token,
//!   or the counts, before the encoded value). Reading a Unix socket connection uses
//!   `recvmsg` (to catch descriptors): about 0.6 µs more per round trip than `recv`. A message without handles costs nothing more than before
//!   (its encoding collects none; no dry run).
//!
//! # Examples that use it
//!
//! The programs of the Python `multiprocessing` article, in `mp-examples/examples/`
//! (`cargo run -p mp-examples --example NAME`, each with the article's Python beside it):
//! `queue_between_processes`, `pipe_between_processes`, `shared_value_and_array`,
//! `condition_producer_consumer`, `semaphore_guards_resource`, `condition_notify_all`.

#![deny(unsafe_code)]

mod address;
mod array;
mod auth;
mod codec;
mod connection;
mod envelope;
mod error;
mod framing;
mod fresh_buffer;
mod handle_passing;
mod handles;
mod joinable_queue;
mod listener;
mod pipe;
mod pod;
mod queue;
mod receive_state;
mod shareable_item;
mod shareable_list;
mod shared_memory;
mod shared_memory_error;
mod shared_memory_manager;
mod shm_name;
// The ring's byte copies into and out of shared memory are its whole job.
#[allow(unsafe_code)]
mod ring;
mod simple_queue;
mod socket_end;
mod spare_word;
// The one OS seam of the crate.
#[allow(unsafe_code)]
mod sys;
mod value;
mod wait;
mod wait_set;
mod waitable;
mod waiter;
mod watcher;

pub use address::Address;
pub use array::{Array, ArrayGuard};
/// `bytemuck`, re-exported for `#[derive(Pod, Zeroable)]` with
/// `#[bytemuck(crate = "mp_ipc::bytemuck")]` (see [`Pod`]).
pub use bytemuck;
pub use codec::{Bytes, serde_bytes};
pub use connection::{Connection, Pipe, pipe_with_options};
pub use error::{AuthenticationError, CodecError, Error, GetError, PutError, TaskError};
pub use handle_passing::{recv_handle, recv_handle_deadline, recv_handle_timeout, send_handle};
pub use joinable_queue::JoinableQueue;
pub use listener::{Client, Keepalive, Listener, SocketOptions, client_with_options};
pub use pipe::{DEFAULT_MAX_MESSAGE, DEFAULT_RING_BYTES, PipeOptions};
pub use pod::{Pod, Zeroable};
pub use queue::{DEFAULT_QUEUE_BYTES, Queue, QueueOptions};
pub use receive_state::ReceiveState;
pub use shareable_item::{Item, ShareableItem};
pub use shareable_list::ShareableList;
pub use shared_memory::{DEFAULT_SHM_MODE, SharedMemory, SharedMemoryOptions};
pub use shared_memory_error::SharedMemoryError;
pub use shared_memory_manager::SharedMemoryManager;
pub use simple_queue::SimpleQueue;
pub use spare_word::SpareWord;
pub use sys::{AtomicInteger, RawArray, RawValue};
pub use value::{Value, ValueGuard};
pub use wait::{try_wait, wait, wait_deadline, wait_timeout};
pub use wait_set::{MAX_CHANNELS, Token, WaitSet};
pub use waitable::Waitable;
