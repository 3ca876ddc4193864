//! [`Queue`]: one socket's waiting jobs, and its worker, which runs as a task only while there are
//! jobs to drain.
//!
//! An idle socket holds no task and no channel: its worker waits, parked, in the queue, and the
//! first job that arrives spawns a run that drains the queue in order and parks the worker again.
//! Only one run holds the worker at a time, so a socket's jobs never overlap nor reorder.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
};

use socketioxide::socket::DisconnectReason;

use super::{EventOptions, EventStack, worker::Worker};
use crate::{EventRequest, extract::SocketRef};

enum Job {
    /// An event and the bytes of its payload.
    Event(EventRequest, usize),
    Disconnect(SocketRef, DisconnectReason),
}

/// One socket's jobs, bounded in events and in payload bytes, and who drains them.
pub(super) struct Queue<S, E> {
    state: Mutex<State<S, E>>,
    options: EventOptions,
}

struct State<S, E> {
    jobs: VecDeque<Job>,
    /// Payload bytes of the events in `jobs`.
    bytes: usize,
    drain: Drain<S, E>,
}

/// Where the socket's worker is.
enum Drain<S, E> {
    /// Admitted, not yet connected: jobs wait for the connection hooks to run first. socketioxide
    /// may report the disconnect before it reports the connection; the reason waits here, without
    /// the socket, which a queued job would keep alive if the connection is never reported.
    NotConnected(Worker<S, E>, Option<DisconnectReason>),
    /// Parked: the next job spawns a run.
    Idle(Worker<S, E>),
    /// A run holds the worker and will take the jobs queued meanwhile.
    Running,
    /// The disconnect was handled: nothing runs again.
    Closed,
}

impl<S, E> Queue<S, E>
where
    S: Send + Sync + 'static,
    E: EventStack,
{
    pub(super) fn new(worker: Worker<S, E>, options: EventOptions) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                bytes: 0,
                drain: Drain::NotConnected(worker, None),
            }),
            options,
        })
    }

    /// Queues an event of `size` payload bytes, or gives it back when the queue is full (in events,
    /// or in bytes: one event alone always fits).
    pub(super) fn push_event(
        self: &Arc<Self>,
        req: EventRequest,
        size: usize,
    ) -> Result<(), EventRequest> {
        let mut state = self.lock();
        if matches!(state.drain, Drain::Closed) {
            // The socket is gone: nothing would answer, and a kept job would keep the socket.
            return Ok(());
        }
        let fits_bytes = state.bytes == 0 || state.bytes + size <= self.options.queue_bytes;
        if state.jobs.len() >= self.options.queue_capacity.max(1) || !fits_bytes {
            return Err(req);
        }
        state.bytes += size;
        state.jobs.push_back(Job::Event(req, size));
        self.wake(state);
        Ok(())
    }

    /// Queues the disconnect after every waiting event; it is never refused.
    pub(super) fn push_disconnect(self: &Arc<Self>, socket: SocketRef, reason: DisconnectReason) {
        let mut state = self.lock();
        match &mut state.drain {
            Drain::Closed => {}
            Drain::NotConnected(_, disconnected) => *disconnected = Some(reason),
            Drain::Idle(_) | Drain::Running => {
                state.jobs.push_back(Job::Disconnect(socket, reason));
                self.wake(state);
            }
        }
    }

    /// The socket is connected: a first run calls the connection hooks, then drains what waits.
    pub(super) fn start(self: &Arc<Self>, socket: SocketRef) {
        let mut state = self.lock();
        if let Drain::NotConnected(worker, disconnected) =
            std::mem::replace(&mut state.drain, Drain::Running)
        {
            if let Some(reason) = disconnected {
                state
                    .jobs
                    .push_back(Job::Disconnect(socket.clone(), reason));
            }
            drop(state);
            tokio::spawn(self.clone().run(worker, Some(socket)));
        }
    }

    /// Spawns a run when the worker is parked.
    fn wake(self: &Arc<Self>, mut state: MutexGuard<'_, State<S, E>>) {
        if matches!(state.drain, Drain::Idle(_))
            && let Drain::Idle(worker) = std::mem::replace(&mut state.drain, Drain::Running)
        {
            drop(state);
            tokio::spawn(self.clone().run(worker, None));
        }
    }

    /// Drains the queue in order, then parks the worker; ends the socket's session at its disconnect.
    async fn run(self: Arc<Self>, mut worker: Worker<S, E>, connected: Option<SocketRef>) {
        if let Some(socket) = connected {
            worker.connected(socket).await;
        }
        loop {
            let job = {
                let mut state = self.lock();
                match state.jobs.pop_front() {
                    Some(job) => {
                        if let Job::Event(_, size) = &job {
                            state.bytes -= size;
                        }
                        job
                    }
                    None => {
                        // An idle socket keeps no buffer either.
                        state.jobs = VecDeque::new();
                        state.drain = Drain::Idle(worker);
                        return;
                    }
                }
            };
            match job {
                Job::Event(req, _) => worker.event(req).await,
                Job::Disconnect(socket, reason) => {
                    {
                        let mut state = self.lock();
                        state.drain = Drain::Closed;
                        state.jobs = VecDeque::new();
                        state.bytes = 0;
                    }
                    worker.disconnected(socket, reason).await;
                    return;
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S, E>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
