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

/// What a run does before it drains the queue.
enum First {
    /// Runs the connection hooks.
    Connected(SocketRef),
    /// Handles the job that found the worker parked.
    Job(Job),
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
        let state = self.lock();
        if matches!(state.drain, Drain::Closed) {
            // The socket is gone: nothing would answer, and a kept job would keep the socket.
            return Ok(());
        }
        let fits_bytes = state.bytes == 0 || state.bytes + size <= self.options.queue_bytes;
        if state.jobs.len() >= self.options.queue_capacity.max(1) || !fits_bytes {
            return Err(req);
        }
        self.enqueue(state, Job::Event(req, size));
        Ok(())
    }

    /// Queues the disconnect after every waiting event; it is never refused.
    pub(super) fn push_disconnect(self: &Arc<Self>, socket: SocketRef, reason: DisconnectReason) {
        let mut state = self.lock();
        match &mut state.drain {
            Drain::Closed => {}
            Drain::NotConnected(_, disconnected) => *disconnected = Some(reason),
            Drain::Idle(_) | Drain::Running => {
                self.enqueue(state, Job::Disconnect(socket, reason));
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
            tokio::spawn(self.clone().run(worker, First::Connected(socket)));
        }
    }

    /// Hands `job` to a new run when the worker is parked (the queue is then empty: the job needs
    /// no place in it), else queues it for the run under way or for the connection.
    fn enqueue(self: &Arc<Self>, mut state: MutexGuard<'_, State<S, E>>, job: Job) {
        match std::mem::replace(&mut state.drain, Drain::Running) {
            Drain::Idle(worker) => {
                drop(state);
                tokio::spawn(self.clone().run(worker, First::Job(job)));
            }
            drain => {
                state.drain = drain;
                if let Job::Event(_, size) = &job {
                    state.bytes += size;
                }
                state.jobs.push_back(job);
            }
        }
    }

    /// Drains the queue in order, then parks the worker; ends the socket's session at its disconnect.
    async fn run(self: Arc<Self>, mut worker: Worker<S, E>, first: First) {
        let mut next = match first {
            First::Connected(socket) => {
                // Boxed, as the disconnect below: once per socket, and out of the task that each
                // event arriving at an idle socket spawns.
                Box::pin(worker.connected(socket)).await;
                None
            }
            First::Job(job) => Some(job),
        };
        loop {
            // No binding but `req` lives on across the handler's await: the socket's task stays small.
            let req = match next.take().or_else(|| self.pop()) {
                Some(Job::Event(req, _)) => req,
                Some(Job::Disconnect(socket, reason)) => {
                    self.close();
                    Box::pin(worker.disconnected(socket, reason)).await;
                    return;
                }
                None => match self.park(worker) {
                    Ok(()) => return,
                    Err(unparked) => {
                        worker = unparked;
                        continue;
                    }
                },
            };
            worker.event(req).await;
        }
    }

    /// The next queued job.
    fn pop(&self) -> Option<Job> {
        let mut state = self.lock();
        let job = state.jobs.pop_front()?;
        if let Job::Event(_, size) = &job {
            state.bytes -= size;
        }
        Some(job)
    }

    /// Parks the worker if no job came since [`pop`](Self::pop) found none; else gives it back.
    fn park(&self, worker: Worker<S, E>) -> Result<(), Worker<S, E>> {
        let mut state = self.lock();
        if !state.jobs.is_empty() {
            return Err(worker);
        }
        // An idle socket keeps no buffer either.
        state.jobs = VecDeque::new();
        state.drain = Drain::Idle(worker);
        Ok(())
    }

    /// Nothing runs after the disconnect: queued jobs are dropped.
    fn close(&self) {
        let mut state = self.lock();
        state.drain = Drain::Closed;
        state.jobs = VecDeque::new();
        state.bytes = 0;
    }

    fn lock(&self) -> MutexGuard<'_, State<S, E>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
