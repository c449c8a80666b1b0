//! Fuzzing a live coordinator (a real process on loopback) with 10,000+ malformed Client requests
//! and worker-session messages while an honest farm runs the fault scenario beside them.
//!
//! Pass criteria: the coordinator never crashes or hangs; every rejection is a clear status (a
//! code a client can act on, with a message) — never `Internal`/`Unknown`; and the honest job's
//! results stay bit-identical to the fault-free run. The generator is a seeded xorshift, so a
//! failure is reproducible (the seed is printed).

mod common;
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_client::ClientClient;
use chirpfarm_proto::v1::worker_message::Msg as Out;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use common::scenario::{assert_identical, reference, submit, watch};
use common::{coordinator, wait_workers, worker};
use prost::Message;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tonic::Code;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A float from a nasty set: NaN, infinities, zero, negatives, huge, tiny, or ordinary.
    fn float(&mut self) -> f64 {
        match self.below(10) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => 0.0,
            4 => -(self.below(1000) as f64),
            5 => 1e308,
            6 => 1e-300,
            _ => self.below(4000) as f64 / 1000.0,
        }
    }
    fn text(&mut self) -> String {
        match self.below(6) {
            0 => String::new(),
            1 => format!("job-{}", self.below(5)),
            2 => format!("job-{}", self.next()),
            3 => "job-\n\u{1b}[31m".into(),
            4 => "x".repeat(self.below(5000) as usize),
            _ => format!("w-{}", self.below(4)),
        }
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        (0..self.below(max)).map(|_| self.next() as u8).collect()
    }
}

fn random_spec(r: &mut Rng) -> v1::SearchSpec {
    let bank = match r.below(4) {
        0 => None,
        1 => Some(v1::bank::Kind::Range(v1::RangeBank {
            start: r.float(),
            stop: r.float(),
            step: r.float(),
        })),
        2 => Some(v1::bank::Kind::List(v1::ListBank {
            mc: (0..r.below(50)).map(|_| r.float()).collect(),
        })),
        _ => Some(v1::bank::Kind::Params(v1::ParamBank {
            mass1: (0..r.below(5)).map(|_| r.float()).collect(),
            mass2: (0..r.below(5)).map(|_| r.float()).collect(),
            spin1z: vec![],
            spin2z: (0..r.below(2)).map(|_| r.float()).collect(),
        })),
    };
    v1::SearchSpec {
        bank: bank.map(|k| v1::Bank { kind: Some(k) }),
        signals: (0..r.below(4))
            .map(|_| v1::Signal {
                mc: r.float(),
                delay_seconds: r.float(),
            })
            .collect(),
        convention: r.below(4) as i32 - 1,
        data: (r.below(4) == 0).then(|| v1::DataSpec {
            strain: Some(v1::BlobRef {
                sha256: r.bytes(40),
                len: r.next(),
            }),
            sample_rate: r.float(),
            segment_samples: r.next() >> r.below(64),
            snr_threshold: r.float(),
            ..Default::default()
        }),
        approximant: r.below(4) as i32 - 1,
        f_final: r.float(),
    }
}

/// A random Client request; returns its status code (or Ok).
async fn client_call(
    c: &mut ClientClient<tonic::transport::Channel>,
    r: &mut Rng,
    honest: &str,
) -> Result<(), tonic::Status> {
    let job = |r: &mut Rng| {
        let t = r.text();
        if t == honest {
            "job-999999".into()
        } else {
            t
        }
    };
    match r.below(9) {
        0 | 1 => {
            // Either a structured random spec or raw garbage decoded as a request.
            let req = if r.below(2) == 0 {
                v1::SubmitRequest {
                    spec: (r.below(8) != 0).then(|| random_spec(r)),
                    chunk_size: r.next() as u32 >> r.below(32),
                    wait_for_workers: r.below(2) == 0,
                    ..Default::default()
                }
            } else {
                v1::SubmitRequest::decode(r.bytes(200).as_slice()).unwrap_or_default()
            };
            c.submit(req).await.map(|_| ())
        }
        2 => c.get_job(v1::JobRef { job_id: job(r) }).await.map(|_| ()),
        3 => c.cancel(v1::JobRef { job_id: job(r) }).await.map(|_| ()),
        4 => {
            let s = c
                .watch(v1::WatchRequest {
                    job_id: r.text(),
                    cursor: r.next() >> r.below(64),
                    ..Default::default()
                })
                .await?;
            drop(s); // an unread, abandoned stream
            Ok(())
        }
        5 => c
            .list_jobs(v1::ListJobsRequest {
                page_size: r.next() as u32,
                page_token: r.text(),
            })
            .await
            .map(|_| ()),
        6 => c
            .has_blobs(v1::BlobQuery {
                blobs: (0..r.below(5))
                    .map(|_| v1::BlobRef {
                        sha256: r.bytes(40),
                        len: r.next(),
                    })
                    .collect(),
            })
            .await
            .map(|_| ()),
        7 => {
            let chunks: Vec<v1::BlobChunk> = (0..r.below(4))
                .map(|_| v1::BlobChunk {
                    blob: (r.below(3) != 0).then(|| v1::BlobRef {
                        sha256: r.bytes(40),
                        len: r.next() >> r.below(64),
                    }),
                    offset: r.next() >> r.below(64),
                    data: r.bytes(3000),
                })
                .collect();
            c.upload_blob(futures::stream::iter(chunks))
                .await
                .map(|_| ())
        }
        _ => c.list_workers(v1::ListWorkersRequest {}).await.map(|_| ()),
    }
}

/// A random worker message (never a well-formed answer to a lease this session holds).
fn worker_message(r: &mut Rng) -> v1::WorkerMessage {
    let msg = match r.below(6) {
        0 => Some(Out::Register(v1::Register {
            protocol_version: r.below(5) as u32,
            name: r.text(),
            worker_id: r.text(),
            session_secret: r.text(),
            in_flight: (0..r.below(20))
                .map(|_| v1::TaskRef {
                    job_id: r.text(),
                    task: r.next() >> r.below(64),
                    attempt: r.next() >> r.below(64),
                })
                .collect(),
            ..Default::default()
        })),
        1 => Some(Out::Heartbeat(v1::Heartbeat {
            templates_cached: r.next(),
        })),
        2 => Some(Out::Result(v1::TaskResult {
            job_id: r.text(),
            task: r.next() >> r.below(64),
            attempt: r.next() >> r.below(64),
            signals: (0..r.below(12))
                .map(|_| v1::SignalBlock {
                    snr: (0..r.below(50)).map(|_| r.float()).collect(),
                    lag_seconds: (0..r.below(50)).map(|_| r.float()).collect(),
                })
                .collect(),
            ..Default::default()
        })),
        3 => Some(Out::Failed(v1::TaskFailed {
            job_id: r.text(),
            task: r.next() >> r.below(64),
            attempt: r.next() >> r.below(64),
            reason: r.text(),
        })),
        4 => Some(Out::Credit(v1::Credit { credits: 0 })),
        _ => None,
    };
    v1::WorkerMessage { msg }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_requests_beside_an_honest_job() {
    let seed = 0x5eed_c0de_u64;
    println!("fuzz seed {seed:#x}");
    let want = tokio::task::spawn_blocking(reference).await.unwrap();
    let (mut coord, url) = coordinator(&["--heartbeat-timeout", "5", "--max-queued-jobs", "50"]);
    let _honest = (0..2)
        .map(|i| worker(&url, &format!("honest{i}"), 1, &[]))
        .collect::<Vec<_>>();
    let u = url.clone();
    tokio::task::spawn_blocking(move || wait_workers(&u, 2))
        .await
        .unwrap();
    let u = url.clone();
    let job = tokio::task::spawn_blocking(move || submit(&u))
        .await
        .unwrap();
    let t0 = Instant::now();

    let mut r = Rng(seed);
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut c = ClientClient::connect(url.clone()).await.unwrap();
    let mut bad = Vec::new();
    const CLIENT_CALLS: usize = 8_000;
    for i in 0..CLIENT_CALLS {
        let res = tokio::time::timeout(Duration::from_secs(10), client_call(&mut c, &mut r, &job))
            .await
            .unwrap_or_else(|_| panic!("request {i} hung"));
        let code = match &res {
            Ok(()) => "Ok".to_string(),
            Err(s) => {
                if matches!(s.code(), Code::Internal | Code::Unknown) || s.message().is_empty() {
                    bad.push(format!("{:?}: {}", s.code(), s.message()));
                }
                format!("{:?}", s.code())
            }
        };
        *codes.entry(code).or_default() += 1;
        // Keep the queue from filling with the fuzzer's accidental valid jobs: cancel them.
        if i % 200 == 199 {
            let list = c
                .list_jobs(v1::ListJobsRequest::default())
                .await
                .unwrap()
                .into_inner();
            for j in list
                .jobs
                .iter()
                .filter(|j| j.job_id != job && j.finished_unix_ms == 0)
            {
                let _ = c
                    .cancel(v1::JobRef {
                        job_id: j.job_id.clone(),
                    })
                    .await;
            }
        }
    }
    // Worker sessions: 400 sessions of 5 messages each (some never register properly).
    let mut worker_msgs = 0;
    let mut w = WorkerSessionClient::connect(url.clone()).await.unwrap();
    for _ in 0..400 {
        let mut msgs: Vec<v1::WorkerMessage> = (0..5).map(|_| worker_message(&mut r)).collect();
        if r.below(4) != 0 {
            msgs.insert(
                0,
                v1::WorkerMessage {
                    msg: Some(Out::Register(v1::Register {
                        protocol_version: chirpfarm_proto::PROTOCOL_VERSION,
                        name: r.text(),
                        worker_id: r.text(),
                        session_secret: r.text(),
                        ..Default::default()
                    })),
                },
            );
        }
        worker_msgs += msgs.len();
        let res = tokio::time::timeout(
            Duration::from_secs(10),
            w.session(futures::stream::iter(msgs)),
        )
        .await
        .expect("session open hung");
        match res {
            Ok(s) => {
                // Read what comes back briefly, then hang up.
                let mut s = s.into_inner();
                let _ = tokio::time::timeout(Duration::from_millis(5), s.message()).await;
                *codes.entry("session".into()).or_default() += 1;
            }
            Err(s) => {
                if matches!(s.code(), Code::Internal | Code::Unknown) || s.message().is_empty() {
                    bad.push(format!("session {:?}: {}", s.code(), s.message()));
                }
                *codes.entry(format!("session {:?}", s.code())).or_default() += 1;
            }
        }
    }
    println!(
        "fuzz: {CLIENT_CALLS} client requests + {worker_msgs} worker messages in {:.1} s; outcomes {codes:?}",
        t0.elapsed().as_secs_f64()
    );
    assert!(CLIENT_CALLS + worker_msgs >= 10_000);
    assert!(
        bad.is_empty(),
        "unclear rejections: {:?}",
        &bad[..bad.len().min(10)]
    );
    assert!(
        coord.child.try_wait().unwrap().is_none(),
        "the coordinator died"
    );
    // The honest job is exact.
    let u = url.clone();
    let got = tokio::task::spawn_blocking(move || watch(&u, &job))
        .await
        .unwrap();
    assert_identical(&got, &want, "fuzz", t0);
    assert!(
        coord.child.try_wait().unwrap().is_none(),
        "the coordinator died"
    );
}
