//! Integrity of results against a hostile token holder, over real sockets: a forger that claims
//! other workers' leases (or guesses them) in `Register.in_flight`, sends forged results and
//! failures, task ids past 2^32, and non-finite values. None of it may be accepted: the honest
//! farm's results stay bit-identical to the fault-free run, and a worker whose results are
//! implausible fails its job with the reason instead of "succeeding" with its numbers.

mod common;
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg as In;
use chirpfarm_proto::v1::worker_message::Msg as Out;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use common::scenario::{assert_identical, reference, submit, watch};
use common::{chirpfarm, coordinator, wait_workers, worker};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// A hand-driven worker session.
struct Fake {
    tx: mpsc::UnboundedSender<v1::WorkerMessage>,
    inbound: tonic::Streaming<v1::CoordinatorMessage>,
}

impl Fake {
    async fn register(
        url: &str,
        worker_id: &str,
        secret: &str,
        in_flight: Vec<v1::TaskRef>,
    ) -> Fake {
        let mut client = WorkerSessionClient::connect(url.to_string()).await.unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        // Register goes first: the coordinator answers the call only once it has read it.
        let register = Out::Register(v1::Register {
            protocol_version: chirpfarm_proto::PROTOCOL_VERSION,
            name: "forger\nINFO chirpfarm_coordinator: forged log line".into(),
            host: "evil\u{1b}[31m".into(),
            threads: 1,
            worker_id: worker_id.into(),
            session_secret: secret.into(),
            in_flight,
            ..Default::default()
        });
        tx.send(v1::WorkerMessage {
            msg: Some(register),
        })
        .unwrap();
        let inbound = client
            .session(UnboundedReceiverStream::new(rx))
            .await
            .map(|r| r.into_inner())
            .unwrap_or_else(|e| panic!("session refused: {e}"));
        Fake { tx, inbound }
    }

    fn send(&self, m: Out) {
        self.tx.send(v1::WorkerMessage { msg: Some(m) }).unwrap();
    }

    /// Messages received within `t`.
    async fn drain(&mut self, t: Duration) -> Vec<In> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + t;
        while let Ok(Ok(Some(m))) = tokio::time::timeout_at(deadline, self.inbound.message()).await
        {
            got.extend(m.msg);
        }
        got
    }

    /// The next message, waiting up to `t`.
    async fn next(&mut self, t: Duration) -> Option<In> {
        match tokio::time::timeout(t, self.inbound.message()).await {
            Ok(Ok(Some(m))) => m.msg,
            _ => None,
        }
    }
}

fn forged_result(job: &str, task: u64, attempt: u64, snr: f64) -> Out {
    Out::Result(v1::TaskResult {
        job_id: job.into(),
        task,
        attempt,
        signals: (0..10)
            .map(|_| v1::SignalBlock {
                snr: vec![snr; 40],
                lag_seconds: vec![0.0; 40],
            })
            .collect(),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_claims_results_and_failures_are_never_accepted() {
    let want = tokio::task::spawn_blocking(reference).await.unwrap();
    let (_c, url) = coordinator(&["--heartbeat-timeout", "5"]);
    // An honest worker runs; the job (940 templates x 10 signals, 24 tasks of 40) is submitted.
    let _honest = worker(&url, "honest", 1, &[]);
    let u = url.clone();
    tokio::task::spawn_blocking(move || wait_workers(&u, 1))
        .await
        .unwrap();
    let u = url.clone();
    let job = tokio::task::spawn_blocking(move || submit(&u))
        .await
        .unwrap();
    // A forger claims the honest worker's identity without its secret, and every (task,
    // attempt) it can guess, as leases it holds.
    let claims: Vec<v1::TaskRef> = (0..24u64)
        .flat_map(|task| (1..=40u64).map(move |attempt| (task, attempt)))
        .map(|(task, attempt)| v1::TaskRef {
            job_id: job.clone(),
            task,
            attempt,
        })
        .collect();
    let mut forger = Fake::register(&url, "w-1", "00", claims.clone()).await;
    let Some(In::Registered(r)) = forger.next(Duration::from_secs(5)).await else {
        panic!("no Registered");
    };
    assert_ne!(
        r.worker_id, "w-1",
        "an identity was taken over without its secret"
    );
    assert_eq!(r.session_secret.len(), 64);
    // It sends forged results and failures for every claim, and a result for task 2^32 (which
    // a truncating coordinator would take as task 0).
    for c in claims.iter().take(256) {
        forger.send(forged_result(&job, c.task, c.attempt, 7.0));
        forger.send(Out::Failed(v1::TaskFailed {
            job_id: job.clone(),
            task: c.task,
            attempt: c.attempt,
            reason: "forged".into(),
        }));
    }
    forger.send(forged_result(&job, 1 << 32, 1, 7.0));
    let answers = forger.drain(Duration::from_secs(2)).await;
    let revoked = answers
        .iter()
        .filter(|m| matches!(m, In::Revoke(_)))
        .count();
    assert!(revoked >= 256, "claims not revoked: {revoked}");
    assert!(
        answers.iter().any(|m| matches!(m, In::Rejected(r) if r.task == 1 << 32 && r.reason.contains("does not exist"))),
        "task 2^32 was not rejected: {answers:?}"
    );
    assert!(
        !answers.iter().any(|m| matches!(m, In::Lease(_))),
        "a forger without credits got a lease"
    );
    // Names from the network are escaped in tables: no raw newline or ESC byte.
    let u = url.clone();
    let out = tokio::task::spawn_blocking(move || chirpfarm(&["workers", "--coordinator", &u]))
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("forger\\nINFO"), "{table}");
    assert!(!table.contains('\u{1b}'), "{table}");
    // The honest farm's results are exact; the honest worker kept its identity.
    let u = url.clone();
    let j = job.clone();
    let got = tokio::task::spawn_blocking(move || watch(&u, &j))
        .await
        .unwrap();
    assert_identical(&got, &want, "forged-claims", Instant::now());
    let out = chirpfarm(&["workers", "--coordinator", &url]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("w-1") && table.contains("honest"), "{table}");
    drop(forger);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implausible_results_are_rejected_and_never_succeed() {
    let (_c, url) = coordinator(&["--heartbeat-timeout", "5"]);
    let mut fake = Fake::register(&url, "", "", vec![]).await;
    assert!(matches!(
        fake.next(Duration::from_secs(5)).await,
        Some(In::Registered(_))
    ));
    let u = url.clone();
    let job = tokio::task::spawn_blocking(move || submit(&u))
        .await
        .unwrap();
    fake.send(Out::Credit(v1::Credit { credits: 1 }));
    // Every lease gets a result with an impossible value (NaN, +inf, 1e308 in turn) until the
    // coordinator stops leasing (the job failed).
    let mut rejected = Vec::new();
    let mut sent = 0;
    let bad = [f64::NAN, f64::INFINITY, 1e308];
    while sent < 100 {
        match fake.next(Duration::from_secs(3)).await {
            Some(In::Lease(l)) => {
                assert_eq!(l.job_id, job);
                fake.send(forged_result(&job, l.task, l.attempt, bad[sent % 3]));
                fake.send(Out::Credit(v1::Credit { credits: 1 }));
                sent += 1;
            }
            Some(In::Rejected(r)) => rejected.push(r.reason),
            Some(_) => {}
            None => break,
        }
    }
    assert!(sent >= 3, "only {sent} leases");
    assert!(rejected.len() >= 3, "{rejected:?}");
    assert!(
        rejected.iter().all(|r| r.contains("implausible")),
        "{rejected:?}"
    );
    // Three implausible executions of the same task fail the job, naming why; never SUCCEEDED.
    let u = url.clone();
    let j = job.clone();
    let out = tokio::task::spawn_blocking(move || {
        chirpfarm(&["watch", &j, "--json", "--quiet", "--coordinator", &u])
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failed") && err.contains("implausible"),
        "{err}"
    );
}
