//! The channel on which a backend's watchers (worker threads, or the parent's reader threads of
//! worker processes) send events and the supervisor reads them: std's `mpsc`, with a wake-up
//! message for [`Backend::wake`](crate::backend::Backend::wake). Once the pool installed an
//! event handler ([`Events::hand_outputs_to`]), events skip the channel: the sending thread
//! books them on the core itself, one thread hop less per report, per worker start and per
//! worker exit (the supervisor then gets only wake-ups, for its clock), and the outputs of one
//! flush under one lock ([`EventSender::send_outputs`]).

use std::sync::mpsc::{self, Receiver, SendError, Sender};
use std::sync::{Arc, OnceLock};

use mp_sync::Deadline;

use crate::backend::{Event, Events, OutputHandler};

/// What travels on an events channel.
pub(crate) enum Message<O> {
    /// An event for the core.
    Event(Event<O>),
    /// Wake the supervisor (a new deadline, a close or a terminate).
    Wake,
}

/// A watcher's end of an events channel.
pub(crate) struct EventSender<O> {
    /// The channel.
    tx: Sender<Message<O>>,
    /// Where outputs go instead, once installed.
    outputs: Arc<OnceLock<OutputHandler<O>>>,
}

impl<O> Clone for EventSender<O> {
    fn clone(&self) -> Self {
        EventSender {
            tx: self.tx.clone(),
            outputs: Arc::clone(&self.outputs),
        }
    }
}

impl<O> EventSender<O> {
    /// Sends `message` (an event to the installed handler, if any, on this thread). An error
    /// means the supervisor is gone.
    pub(crate) fn send(&self, message: Message<O>) -> Result<(), SendError<Message<O>>> {
        match (message, self.outputs.get()) {
            (Message::Event(event), Some(handler)) => {
                handler(&mut std::iter::once(event));
                Ok(())
            }
            (message, _) => self.tx.send(message),
        }
    }

    /// Sends [`Event::Output`]s: to the installed handler all at once (one booking), else one
    /// by one on the channel. An error means the supervisor is gone.
    pub(crate) fn send_outputs(
        &self,
        mut outputs: impl Iterator<Item = Event<O>>,
    ) -> Result<(), SendError<Message<O>>> {
        match self.outputs.get() {
            Some(handler) => {
                handler(&mut outputs);
                Ok(())
            }
            None => outputs.try_for_each(|output| self.tx.send(Message::Event(output))),
        }
    }
}

/// The supervisor's end of an events channel.
pub(crate) struct EventReceiver<O> {
    /// Where the events arrive.
    events: Receiver<Message<O>>,
    /// Shared with the senders, if they may book outputs themselves.
    outputs: Option<Arc<OnceLock<OutputHandler<O>>>>,
}

/// A new events channel: senders for the watchers (cloned as needed), the receiver for the
/// supervisor. `direct`: the senders may book outputs themselves once the pool asks (only a
/// backend whose threads hold no lock the core's orders take while they send).
pub(crate) fn event_channel<O>(direct: bool) -> (EventSender<O>, EventReceiver<O>) {
    let (tx, rx) = mpsc::channel();
    let outputs = Arc::new(OnceLock::new());
    let sender = EventSender {
        tx,
        outputs: Arc::clone(&outputs),
    };
    (
        sender,
        EventReceiver {
            events: rx,
            outputs: Some(outputs).filter(|_| direct),
        },
    )
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

    fn hand_outputs_to(&mut self, handler: OutputHandler<O>) -> bool {
        match &self.outputs {
            Some(outputs) => outputs.set(handler).is_ok(),
            None => false,
        }
    }
}
