//! The channel on which a backend's watchers (worker threads, or the parent's reader threads of
//! worker processes) send events and the supervisor reads them: std's `mpsc`, with a wake-up
//! message for [`Backend::wake`](crate::backend::Backend::wake).

use std::sync::mpsc::{self, Receiver, Sender};

use mp_sync::Deadline;

use crate::backend::{Event, Events};

/// What travels on an events channel.
pub(crate) enum Message<O> {
    /// An event for the core.
    Event(Event<O>),
    /// Wake the supervisor (a new deadline, a close or a terminate).
    Wake,
}

/// The supervisor's end of an events channel.
pub(crate) struct EventReceiver<O> {
    /// Where the events arrive.
    events: Receiver<Message<O>>,
}

/// A new events channel: senders for the watchers (cloned as needed), the receiver for the
/// supervisor.
pub(crate) fn event_channel<O>() -> (Sender<Message<O>>, EventReceiver<O>) {
    let (tx, rx) = mpsc::channel();
    (tx, EventReceiver { events: rx })
}

impl<O: Send + 'static> Events<O> for EventReceiver<O> {
    fn next(&mut self, deadline: Option<Deadline>) -> Option<Event<O>> {
        let message = match deadline {
            None => self.events.recv().ok(),
            Some(deadline) => self.events.recv_timeout(deadline.remaining()).ok(),
        };
        match message {
            Some(Message::Event(event)) => Some(event),
            Some(Message::Wake) | None => None,
        }
    }
}
