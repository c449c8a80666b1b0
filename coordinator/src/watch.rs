//! A job's Watch stream: progress, result blocks in order from a cursor, and the final state.
//!
//! The stream is lazy: it copies the next batch of results (about [`WATCH_BATCH_BYTES`]) out of
//! the job's shared blocks only when the transport asks for the next message, which it does only
//! when the client has taken the previous ones (HTTP/2 flow control). So a watcher that stops
//! reading holds one batch, never a copy of the job, and a hundred unread watchers of a large job
//! cost a few hundred megabytes at most instead of a copy each. Dropping the stream (the client
//! went away) frees its slot of `--max-watch-streams` at once.
//!
//! A partial watch (`WatchRequest.partial`) is the same stream until the job ends: if it failed
//! or was cancelled, the blocks stored after a hole follow (in unit order, holes skipped) before
//! the final state, so a client can show what was computed.

use crate::limits::WATCH_BATCH_BYTES;
use crate::scheduler::{JobId, Outcome};
use crate::state::Coordinator;
use chirpfarm_proto::v1;
use std::collections::VecDeque;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tonic::Status;

/// The watch stream's item.
pub type WatchItem = Result<v1::WatchEvent, Status>;

/// What a watch stream remembers between messages.
struct Watcher {
    coord: Coordinator,
    id: JobId,
    /// Result units already sent.
    cursor: u64,
    /// Send what a failed or cancelled job has beyond its first hole.
    partial: bool,
    /// Progress last reported (so unchanged progress is not repeated).
    last_done: u64,
    changes: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    /// Events of the current batch not yet taken by the transport.
    pending: VecDeque<WatchItem>,
    /// Nothing follows what is pending.
    done: bool,
    /// The stream's slot, held as long as the stream lives.
    _permit: OwnedSemaphorePermit,
}

impl Watcher {
    /// Fills `pending` with the next batch; `false` when there is nothing new to send yet.
    fn next_batch(&mut self) -> bool {
        self.changes.borrow_and_update();
        let inner = self.coord.lock();
        let Some(rec) = inner.jobs.get(&self.id) else {
            self.pending
                .push_back(Err(Status::not_found(format!("{} was removed", self.id))));
            self.done = true;
            return true;
        };
        let mut events = Vec::new();
        if rec.templates_done != self.last_done {
            self.last_done = rec.templates_done;
            events.push(v1::watch_event::Event::Progress(v1::Progress {
                templates_done: rec.templates_done,
                templates_total: rec.units_total(),
                workers: inner.sessions.len() as u32,
            }));
        }
        let outcome = inner.sched.job_outcome(self.id);
        // A job that ended without succeeding will not fill its holes: a partial watch gets
        // everything stored.
        let gaps = self.partial && outcome.is_some_and(|o| !matches!(o, Outcome::Succeeded));
        let (blocks, end) = if gaps {
            (
                rec.stored_from(self.cursor, WATCH_BATCH_BYTES),
                rec.stored_end(),
            )
        } else {
            (
                rec.blocks_from(self.cursor, WATCH_BATCH_BYTES),
                rec.released(),
            )
        };
        if let Some(last) = blocks.last() {
            self.cursor = rec.cursor_after(last);
        }
        events.extend(blocks.into_iter().map(v1::watch_event::Event::Block));
        // The end is announced only once every result was sent.
        if self.cursor >= end {
            if let Some(f) = rec.finished_event(outcome) {
                events.push(v1::watch_event::Event::Finished(f));
                self.done = true;
            }
        }
        let any = !events.is_empty();
        self.pending.extend(
            events
                .into_iter()
                .map(|e| Ok(v1::WatchEvent { event: Some(e) })),
        );
        any
    }

    /// The next message: from the current batch, the next batch, or after the job changes.
    async fn next(mut self) -> Option<(WatchItem, Watcher)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some((item, self));
            }
            if self.done || self.next_batch() {
                if self.pending.is_empty() {
                    return None;
                }
                continue;
            }
            let closing = tokio::select! {
                changed = self.changes.changed() => if changed.is_err() { return None } else { false },
                _ = self.closing.wait_for(|c| *c) => true,
            };
            if closing {
                self.done = true;
                let e =
                    Status::unavailable("the coordinator is shutting down; reconnect to resume");
                return Some((Err(e), self));
            }
        }
    }
}

/// The Watch stream of job `id` from `cursor` (checked by the caller), partial or not,
/// holding `permit`.
pub fn stream(
    coord: Coordinator,
    id: JobId,
    (cursor, partial): (u64, bool),
    changes: watch::Receiver<u64>,
    permit: OwnedSemaphorePermit,
) -> impl futures::Stream<Item = WatchItem> + Send + 'static {
    let w = Watcher {
        closing: coord.closing(),
        coord,
        id,
        cursor,
        partial,
        last_done: u64::MAX,
        changes,
        pending: VecDeque::new(),
        done: false,
        _permit: permit,
    };
    futures::stream::unfold(w, Watcher::next)
}
