//! The worker's side of the session protocol as a sans-IO state machine.
//!
//! Like the coordinator's scheduler, it has no sockets, no clocks and no threads: the daemon
//! (`daemon.rs`) feeds it what happened — registered, a coordinator message, a computation
//! finished, shutdown requested — and carries out the [`Effect`]s it returns: messages to send,
//! leases to start or cancel, job specs to keep. Every rule of the protocol lives here and is
//! unit-tested without a network:
//!
//! * **Identity**: the id and secret from `Registered` are presented on every re-registration,
//!   so the coordinator re-attaches this worker's leases (and only this worker's).
//! * **Re-attachment**: a registration lists the leases still running (minus revoked ones) and
//!   the results finished while disconnected; those results are sent first after `Registered`.
//! * **Credits**: on registration the worker grants `credits − running`; one more per finished
//!   lease; none while draining.
//! * **Revoke**: a revoked lease is cancelled (the computation stops) and its outcome dropped.
//! * **Drain**: the coordinator's `Drain` ends the session (the daemon reconnects later).

use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg as In;
use chirpfarm_proto::v1::worker_message::Msg as Out;
use std::collections::HashSet;

/// A lease: (job id, task, attempt).
pub type LeaseKey = (String, u64, u64);

/// What the daemon must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this message to the coordinator.
    Send(Out),
    /// Keep this job's spec (before its leases arrive).
    AddJob(v1::JobSpec),
    /// Start computing this lease; its outcome comes back through [`WorkerSession::finished`].
    Start(v1::Lease),
    /// Stop computing this lease (its outcome will be dropped).
    Cancel(LeaseKey),
    /// Log that the coordinator rejected one of our messages.
    Rejected(v1::Rejected),
    /// End this session and reconnect later (the coordinator is draining).
    Reconnect(String),
}

/// What the worker says about itself when registering (besides its leases and identity).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Name shown by `chirpfarm workers`.
    pub name: String,
    /// Host name.
    pub host: String,
    /// Compute threads.
    pub threads: u32,
    /// Template cache capacity, in templates.
    pub cache_capacity_templates: u64,
}

/// The session state that outlives a connection: identity, leases running, results not yet
/// delivered, revocations, draining.
#[derive(Debug, Default)]
pub struct WorkerSession {
    /// Tasks requested ahead.
    credits: u32,
    worker_id: String,
    secret: String,
    /// Leases being computed.
    running: HashSet<LeaseKey>,
    /// Running leases the coordinator revoked: their outcome is dropped.
    revoked: HashSet<LeaseKey>,
    /// Outcomes finished while disconnected, sent after the next registration.
    undelivered: Vec<(LeaseKey, Out)>,
    connected: bool,
    draining: bool,
}

impl WorkerSession {
    /// A worker that asks for `credits` tasks ahead.
    pub fn new(credits: u32) -> WorkerSession {
        WorkerSession {
            credits,
            ..WorkerSession::default()
        }
    }

    /// The registration to send on a new connection: our identity (if any), the leases still
    /// running and those finished but undelivered.
    pub fn register(&mut self, profile: &Profile) -> v1::Register {
        self.connected = false;
        let in_flight = self
            .running
            .iter()
            .filter(|k| !self.revoked.contains(*k))
            .chain(self.undelivered.iter().map(|(k, _)| k))
            .map(|(job_id, task, attempt)| v1::TaskRef {
                job_id: job_id.clone(),
                task: *task,
                attempt: *attempt,
            })
            .collect();
        v1::Register {
            protocol_version: chirpfarm_proto::PROTOCOL_VERSION,
            name: profile.name.clone(),
            host: profile.host.clone(),
            threads: profile.threads,
            build_version: chirpfarm_proto::BUILD_VERSION.into(),
            worker_id: self.worker_id.clone(),
            session_secret: self.secret.clone(),
            in_flight,
            cache_capacity_templates: profile.cache_capacity_templates,
        }
    }

    /// The coordinator confirmed the registration: remember the identity, deliver what
    /// finished while away, and ask for work.
    pub fn registered(&mut self, r: v1::Registered) -> Vec<Effect> {
        self.worker_id = r.worker_id;
        self.secret = r.session_secret;
        self.connected = true;
        let mut out: Vec<Effect> = self
            .undelivered
            .drain(..)
            .map(|(_, m)| Effect::Send(m))
            .collect();
        if !self.draining {
            let credits = self.credits.saturating_sub(self.running.len() as u32);
            if credits > 0 {
                out.push(Effect::Send(Out::Credit(v1::Credit { credits })));
            }
        }
        out
    }

    /// The connection ended: outcomes are kept until the next registration.
    pub fn disconnected(&mut self) {
        self.connected = false;
    }

    /// A message from the coordinator.
    pub fn on_message(&mut self, m: v1::CoordinatorMessage) -> Vec<Effect> {
        match m.msg {
            None | Some(In::Registered(_)) => vec![],
            Some(In::Job(j)) => vec![Effect::AddJob(j)],
            Some(In::Lease(l)) => {
                let key = (l.job_id.clone(), l.task, l.attempt);
                if self.running.insert(key) {
                    vec![Effect::Start(l)]
                } else {
                    vec![] // already running this very attempt (re-attached)
                }
            }
            Some(In::Revoke(r)) => {
                let key = (r.job_id, r.task, r.attempt);
                if self.running.contains(&key) && self.revoked.insert(key.clone()) {
                    vec![Effect::Cancel(key)]
                } else {
                    self.undelivered.retain(|(k, _)| *k != key);
                    vec![]
                }
            }
            Some(In::Rejected(r)) => vec![Effect::Rejected(r)],
            Some(In::Drain(_)) => vec![Effect::Reconnect("coordinator is shutting down".into())],
        }
    }

    /// A lease's computation ended with `outcome` (a `Result` or a `Failed` message).
    ///
    /// The slot it held is asked for again even when the lease was revoked: the coordinator
    /// forgets a lease when it revokes it, so the credit that lease used is the worker's to
    /// give back (without it, every revoked lease would shrink the worker's share for good).
    /// While disconnected nothing is sent: the next registration grants every free slot.
    pub fn finished(&mut self, key: LeaseKey, outcome: Out) -> Vec<Effect> {
        if !self.running.remove(&key) {
            return vec![];
        }
        let revoked = self.revoked.remove(&key);
        if !self.connected {
            if !revoked {
                self.undelivered.push((key, outcome));
            }
            return vec![];
        }
        let mut out = Vec::new();
        if !revoked {
            out.push(Effect::Send(outcome));
        }
        if !self.draining {
            out.push(Effect::Send(Out::Credit(v1::Credit { credits: 1 })));
        }
        out
    }

    /// Shutdown was requested: ask for no more work.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Whether shutdown was requested.
    pub fn draining(&self) -> bool {
        self.draining
    }

    /// Whether nothing is running or waiting to be delivered.
    pub fn idle(&self) -> bool {
        self.running.is_empty() && self.undelivered.is_empty()
    }

    /// Leases being computed.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Whether a lease of `job_id` is running (its spec must be kept).
    pub fn busy_with(&self, job_id: &str) -> bool {
        self.running.iter().any(|k| k.0 == job_id)
    }

    /// The identity from the last `Registered` (empty before).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(m: In) -> v1::CoordinatorMessage {
        v1::CoordinatorMessage { msg: Some(m) }
    }

    fn lease(task: u64, attempt: u64) -> v1::Lease {
        v1::Lease {
            job_id: "job-1".into(),
            task,
            attempt,
            start: task * 10,
            count: 10,
            ..Default::default()
        }
    }

    fn key(task: u64, attempt: u64) -> LeaseKey {
        ("job-1".into(), task, attempt)
    }

    fn result(task: u64, attempt: u64) -> Out {
        Out::Result(v1::TaskResult {
            job_id: "job-1".into(),
            task,
            attempt,
            ..Default::default()
        })
    }

    fn registered(id: &str, secret: &str) -> v1::Registered {
        v1::Registered {
            worker_id: id.into(),
            heartbeat_interval_ms: 100,
            session_secret: secret.into(),
        }
    }

    fn credit(n: u32) -> Effect {
        Effect::Send(Out::Credit(v1::Credit { credits: n }))
    }

    #[test]
    fn registration_presents_identity_and_grants_credits() {
        let mut s = WorkerSession::new(2);
        let r = s.register(&Profile::default());
        assert!(r.worker_id.is_empty() && r.session_secret.is_empty() && r.in_flight.is_empty());
        assert_eq!(s.registered(registered("w-4", "s3cr3t")), vec![credit(2)]);
        let r = s.register(&Profile::default());
        assert_eq!(
            (r.worker_id.as_str(), r.session_secret.as_str()),
            ("w-4", "s3cr3t")
        );
    }

    #[test]
    fn leases_start_once_and_each_result_earns_a_credit() {
        let mut s = WorkerSession::new(2);
        s.registered(registered("w-1", "x"));
        assert_eq!(
            s.on_message(msg(In::Lease(lease(0, 1)))),
            vec![Effect::Start(lease(0, 1))]
        );
        assert!(
            s.on_message(msg(In::Lease(lease(0, 1)))).is_empty(),
            "started twice"
        );
        assert_eq!(
            s.finished(key(0, 1), result(0, 1)),
            vec![Effect::Send(result(0, 1)), credit(1)]
        );
        assert!(s.idle());
        assert!(
            s.finished(key(0, 1), result(0, 1)).is_empty(),
            "reported twice"
        );
    }

    #[test]
    fn a_revoke_cancels_the_computation_and_drops_its_outcome() {
        let mut s = WorkerSession::new(2);
        s.registered(registered("w-1", "x"));
        s.on_message(msg(In::Lease(lease(3, 7))));
        let revoke = v1::Revoke {
            job_id: "job-1".into(),
            task: 3,
            attempt: 7,
        };
        assert_eq!(
            s.on_message(msg(In::Revoke(revoke.clone()))),
            vec![Effect::Cancel(key(3, 7))]
        );
        assert!(s.on_message(msg(In::Revoke(revoke))).is_empty());
        // A revoked lease is not claimed again on re-registration.
        assert!(s.register(&Profile::default()).in_flight.is_empty());
        s.registered(registered("w-1", "y"));
        // Its outcome is dropped, and its slot is asked for again.
        assert_eq!(s.finished(key(3, 7), result(3, 7)), vec![credit(1)]);
        assert!(s.idle());
    }

    #[test]
    fn a_lease_revoked_at_registration_gives_its_credit_back_when_it_stops() {
        // A coordinator restarted: the worker claims its running lease, the new coordinator
        // does not know it and revokes it. Registration granted only the free slot; the
        // revoked lease's slot must come back when its computation stops, or the worker
        // would sit idle beside pending work.
        let mut s = WorkerSession::new(1);
        s.registered(registered("w-1", "x"));
        s.on_message(msg(In::Lease(lease(3, 7))));
        s.disconnected();
        assert_eq!(s.register(&Profile::default()).in_flight.len(), 1);
        assert!(s.registered(registered("w-1", "y")).is_empty());
        let revoke = v1::Revoke {
            job_id: "job-1".into(),
            task: 3,
            attempt: 7,
        };
        assert_eq!(
            s.on_message(msg(In::Revoke(revoke))),
            vec![Effect::Cancel(key(3, 7))]
        );
        assert_eq!(s.finished(key(3, 7), result(3, 7)), vec![credit(1)]);
    }

    #[test]
    fn outcomes_while_disconnected_are_claimed_and_delivered_after_registering() {
        let mut s = WorkerSession::new(2);
        s.registered(registered("w-1", "x"));
        s.on_message(msg(In::Lease(lease(0, 1))));
        s.on_message(msg(In::Lease(lease(1, 2))));
        s.disconnected();
        assert!(s.finished(key(0, 1), result(0, 1)).is_empty());
        let r = s.register(&Profile::default());
        let mut claimed: Vec<u64> = r.in_flight.iter().map(|t| t.task).collect();
        claimed.sort();
        assert_eq!(claimed, vec![0, 1]);
        // After Registered: the undelivered result first, then credits for the free slot.
        assert_eq!(
            s.registered(registered("w-1", "z")),
            vec![Effect::Send(result(0, 1)), credit(1)]
        );
    }

    #[test]
    fn draining_asks_for_nothing_more_and_drain_reconnects() {
        let mut s = WorkerSession::new(2);
        s.registered(registered("w-1", "x"));
        s.on_message(msg(In::Lease(lease(0, 1))));
        s.drain();
        assert_eq!(
            s.finished(key(0, 1), result(0, 1)),
            vec![Effect::Send(result(0, 1))]
        );
        assert!(s.registered(registered("w-1", "x")).is_empty());
        assert!(matches!(
            s.on_message(msg(In::Drain(v1::Drain {}))).as_slice(),
            [Effect::Reconnect(_)]
        ));
    }
}
