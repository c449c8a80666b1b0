//! The coordinator's gRPC surface over a real socket: status codes and messages for malformed
//! requests, and the worker session's protocol-version check.

use chirpfarm_coordinator::{serve, CoordinatorConfig, Security};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_client::ClientClient;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use tonic::Code;

async fn start() -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut config = CoordinatorConfig::default();
    config.limits.max_templates = 1000;
    tokio::spawn(serve(config, listener, Security::open(), async {
        let _ = rx.await;
    }));
    (url, tx)
}

fn seed_spec(signals: Vec<f64>) -> v1::SearchSpec {
    v1::SearchSpec {
        bank: Some(v1::Bank {
            kind: Some(v1::bank::Kind::Range(v1::RangeBank {
                start: 0.8,
                stop: 1.74,
                step: 0.01,
            })),
        }),
        signals: signals
            .into_iter()
            .map(|mc| v1::Signal {
                mc,
                delay_seconds: 0.0,
            })
            .collect(),
        convention: 0,
        ..Default::default()
    }
}

fn blob_chunk(digest: &[u8], len: u64, offset: u64, data: &[u8], first: bool) -> v1::BlobChunk {
    v1::BlobChunk {
        blob: first.then(|| v1::BlobRef {
            sha256: digest.to_vec(),
            len,
        }),
        offset,
        data: data.to_vec(),
    }
}

#[tokio::test]
async fn blobs_are_verified_bounded_and_required_by_data_searches() {
    let (url, _stop) = start().await;
    let mut c = ClientClient::connect(url.clone()).await.unwrap();
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let blob = chirpfarm_core::BlobRef::of(&bytes);
    let chunks = |b: &[u8], digest: [u8; 32]| {
        let n = b.len().div_ceil(1 << 20);
        (0..n)
            .map(|i| {
                let lo = i << 20;
                let hi = (lo + (1 << 20)).min(b.len());
                blob_chunk(&digest, b.len() as u64, lo as u64, &b[lo..hi], i == 0)
            })
            .collect::<Vec<_>>()
    };
    // Bytes that do not match their name are refused.
    let mut lie = bytes.clone();
    lie[12345] ^= 1;
    let e = c
        .upload_blob(futures::stream::iter(chunks(&lie, blob.digest)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("do not match"), "{}", e.message());
    // A chunk over 1 MiB, a gap in the offsets, a short digest.
    let big = vec![blob_chunk(
        &blob.digest,
        3 << 20,
        0,
        &vec![0u8; (1 << 20) + 1],
        true,
    )];
    let e = c.upload_blob(futures::stream::iter(big)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let gap = vec![
        blob_chunk(&blob.digest, 10, 0, &[1; 4], true),
        blob_chunk(&blob.digest, 10, 5, &[1; 5], false),
    ];
    let e = c.upload_blob(futures::stream::iter(gap)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let short = vec![blob_chunk(&[1, 2, 3], 3, 0, &[1, 2, 3], true)];
    let e = c
        .upload_blob(futures::stream::iter(short))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // More than the coordinator's blob memory: refused before anything is received.
    let huge = vec![blob_chunk(&blob.digest, 1 << 40, 0, &[0; 8], true)];
    let e = c
        .upload_blob(futures::stream::iter(huge))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    // The real upload succeeds once; the second time nothing is stored again.
    let r = c
        .upload_blob(futures::stream::iter(chunks(&bytes, blob.digest)))
        .await
        .unwrap()
        .into_inner();
    assert!(r.stored);
    let r = c
        .upload_blob(futures::stream::iter(chunks(&bytes, blob.digest)))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.stored);
    let present = c
        .has_blobs(v1::BlobQuery {
            blobs: vec![
                chirpfarm_proto::blob_to_proto(&blob),
                v1::BlobRef {
                    sha256: vec![0; 32],
                    len: 8,
                },
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .present;
    assert_eq!(present, vec![true, false]);
    // A worker fetches it back, byte for byte.
    let mut w = WorkerSessionClient::connect(url).await.unwrap();
    let mut s = w
        .fetch_blob(v1::BlobRequest {
            blob: Some(chirpfarm_proto::blob_to_proto(&blob)),
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(ch) = s.message().await.unwrap() {
        assert!(ch.data.len() <= 1 << 20);
        got.extend_from_slice(&ch.data);
    }
    assert_eq!(got, bytes);
    // A data search naming a blob the coordinator does not have is refused.
    let spec = v1::SearchSpec {
        data: Some(v1::DataSpec {
            strain: Some(v1::BlobRef {
                sha256: vec![7; 32],
                len: 8 * 8192,
            }),
            sample_rate: 1024.0,
            gps_start: 0.0,
            psd: Some(v1::BlobRef {
                sha256: vec![8; 32],
                len: 8 * 2049,
            }),
            segment_samples: 4096,
            pad_samples: 0,
            f_low: 20.0,
            snr_threshold: 5.0,
            cluster_samples: 1024,
            ..Default::default()
        }),
        ..seed_spec(vec![])
    };
    let e = c
        .submit(v1::SubmitRequest {
            spec: Some(spec.clone()),
            chunk_size: 0,
            wait_for_workers: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("upload it first"), "{}", e.message());
    // And one with bad numbers is refused before that.
    let mut bad = spec;
    bad.data.as_mut().unwrap().sample_rate = 1000.0;
    let e = c
        .submit(v1::SubmitRequest {
            spec: Some(bad),
            chunk_size: 0,
            wait_for_workers: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("power of two"), "{}", e.message());
}

#[tokio::test]
async fn malformed_requests_get_actionable_status_codes() {
    let (url, _stop) = start().await;
    let mut c = ClientClient::connect(url).await.unwrap();
    let submit = |spec: Option<v1::SearchSpec>, wait| v1::SubmitRequest {
        spec,
        chunk_size: 0,
        wait_for_workers: wait,
        ..Default::default()
    };
    let e = c.submit(submit(None, true)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = c
        .submit(submit(Some(seed_spec(vec![])), true))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("no signal"), "{}", e.message());
    let e = c
        .submit(submit(Some(seed_spec(vec![-1.0])), true))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("got -1"), "{}", e.message());
    let mut big = seed_spec(vec![1.2]);
    big.bank = Some(v1::Bank {
        kind: Some(v1::bank::Kind::Range(v1::RangeBank {
            start: 0.8,
            stop: 1.74,
            step: 0.0001,
        })),
    });
    let e = c.submit(submit(Some(big), true)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("limit of 1000"), "{}", e.message());
    let mut bad_conv = seed_spec(vec![1.2]);
    bad_conv.convention = 9;
    let e = c.submit(submit(Some(bad_conv), true)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A label that is too long or not printable (a client that skipped the CLI's check).
    for name in ["x".repeat(65), "clear\u{1b}[2J".to_string()] {
        let e = c
            .submit(v1::SubmitRequest {
                name,
                ..submit(Some(seed_spec(vec![1.2])), true)
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("job name"), "{}", e.message());
    }
    // No worker and not willing to wait.
    let e = c
        .submit(submit(Some(seed_spec(vec![1.2])), false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    // Unknown and malformed job ids.
    let e = c
        .get_job(v1::JobRef {
            job_id: "job-42".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .watch(v1::WatchRequest {
            job_id: "42".into(),
            cursor: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A queued job can be cancelled; a second cancel changes nothing and says it had ended.
    let job = c
        .submit(submit(Some(seed_spec(vec![1.2])), true))
        .await
        .unwrap()
        .into_inner()
        .job_id;
    let r = v1::JobRef {
        job_id: job.clone(),
    };
    let info = c.cancel(r.clone()).await.unwrap().into_inner();
    assert_eq!(info.state, v1::JobState::Cancelled as i32);
    assert!(!info.already_ended);
    let again = c.cancel(r).await.unwrap().into_inner();
    assert_eq!(again.state, v1::JobState::Cancelled as i32);
    assert!(again.already_ended);
    let e = c
        .watch(v1::WatchRequest {
            job_id: job,
            cursor: 10_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "a cursor past the end");
}

#[tokio::test]
async fn workers_must_register_first_and_speak_our_protocol() {
    let (url, _stop) = start().await;
    let mut w = WorkerSessionClient::connect(url.clone()).await.unwrap();
    let msg = |m| v1::WorkerMessage { msg: Some(m) };
    // A wrong protocol version is refused with both versions named.
    let old = msg(v1::worker_message::Msg::Register(v1::Register {
        protocol_version: 99,
        name: "old".into(),
        ..Default::default()
    }));
    let e = w.session(tokio_stream::iter(vec![old])).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("protocol version 99")
            && e.message()
                .contains(&format!("speaks {}", chirpfarm_proto::PROTOCOL_VERSION)),
        "{}",
        e.message()
    );
    // A session that does not start with Register is refused.
    let credit = msg(v1::worker_message::Msg::Credit(v1::Credit { credits: 1 }));
    let e = w
        .session(tokio_stream::iter(vec![credit]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A correct registration is confirmed with an id and a heartbeat interval.
    let ok = msg(v1::worker_message::Msg::Register(v1::Register {
        protocol_version: chirpfarm_proto::PROTOCOL_VERSION,
        name: "ok".into(),
        threads: 1,
        ..Default::default()
    }));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(ok).await.unwrap();
    let mut inbound = w
        .session(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    match inbound.message().await.unwrap().and_then(|m| m.msg) {
        Some(v1::coordinator_message::Msg::Registered(r)) => {
            assert!(r.worker_id.starts_with("w-"));
            assert!(r.heartbeat_interval_ms > 0);
        }
        other => panic!("expected Registered, got {other:?}"),
    }
    let mut c = ClientClient::connect(url).await.unwrap();
    let workers = c
        .list_workers(v1::ListWorkersRequest {})
        .await
        .unwrap()
        .into_inner()
        .workers;
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].name, "ok");
    drop(tx);
}
