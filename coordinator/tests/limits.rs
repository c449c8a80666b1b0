//! Bounded resources over a real socket: every limit answers RESOURCE_EXHAUSTED with a message
//! naming the limit's flag, and the coordinator keeps serving afterwards.

use chirpfarm_coordinator::limits::ServiceLimits;
use chirpfarm_coordinator::{serve, CoordinatorConfig, Security};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_client::ClientClient;
use tonic::Code;

async fn start(service: ServiceLimits) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let config = CoordinatorConfig {
        service,
        ..CoordinatorConfig::default()
    };
    tokio::spawn(serve(config, listener, Security::open(), async {
        let _ = rx.await;
    }));
    (url, tx)
}

fn search(step: f64, chunk_size: u32) -> v1::SubmitRequest {
    v1::SubmitRequest {
        spec: Some(v1::SearchSpec {
            bank: Some(v1::Bank {
                kind: Some(v1::bank::Kind::Range(v1::RangeBank {
                    start: 0.8,
                    stop: 1.74,
                    step,
                })),
            }),
            signals: vec![v1::Signal {
                mc: 1.2,
                delay_seconds: 0.0,
            }],
            ..Default::default()
        }),
        chunk_size,
        wait_for_workers: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn queued_jobs_are_limited_per_client_and_in_total() {
    let (url, _stop) = start(ServiceLimits {
        max_queued_jobs_per_client: 2,
        ..ServiceLimits::default()
    })
    .await;
    let mut c = ClientClient::connect(url.clone()).await.unwrap();
    let a = c.submit(search(0.01, 0)).await.unwrap().into_inner();
    c.submit(search(0.01, 0)).await.unwrap();
    let e = c.submit(search(0.01, 0)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message().contains("--max-queued-jobs-per-client 2"),
        "{}",
        e.message()
    );
    // A finished (cancelled) job no longer counts.
    c.cancel(v1::JobRef { job_id: a.job_id }).await.unwrap();
    c.submit(search(0.01, 0)).await.unwrap();

    let (url, _stop2) = start(ServiceLimits {
        max_queued_jobs: 3,
        ..ServiceLimits::default()
    })
    .await;
    let mut c = ClientClient::connect(url).await.unwrap();
    for _ in 0..3 {
        c.submit(search(0.01, 0)).await.unwrap();
    }
    let e = c.submit(search(0.01, 0)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message().contains("--max-queued-jobs 3"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn a_tiny_request_cannot_ask_for_a_million_tasks() {
    let (url, _stop) = start(ServiceLimits {
        max_tasks_per_job: 100,
        ..ServiceLimits::default()
    })
    .await;
    let mut c = ClientClient::connect(url).await.unwrap();
    // 9400 templates in tasks of 1.
    let e = c.submit(search(0.0001, 1)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(
        e.message().contains("9400 tasks") && e.message().contains("at least 94"),
        "{}",
        e.message()
    );
    // Automatic sizing stays within the limit.
    let r = c.submit(search(0.0001, 0)).await.unwrap().into_inner();
    assert!(r.tasks <= 100, "{}", r.tasks);
    let r = c.submit(search(0.0001, 94)).await.unwrap().into_inner();
    assert_eq!(r.tasks, 100);
}

#[tokio::test]
async fn client_messages_are_limited_to_16_mib() {
    let (url, _stop) = start(ServiceLimits::default()).await;
    let mut c = ClientClient::connect(url)
        .await
        .unwrap()
        .max_encoding_message_size(64 << 20);
    let mut big = search(0.01, 0);
    big.spec.as_mut().unwrap().bank = Some(v1::Bank {
        kind: Some(v1::bank::Kind::List(v1::ListBank {
            mc: vec![1.2; 2_200_000],
        })),
    });
    let e = c.submit(big).await.unwrap_err();
    assert!(
        matches!(e.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{e:?}"
    );
    // Still serving.
    c.submit(search(0.01, 0)).await.unwrap();
}

#[tokio::test]
async fn list_jobs_is_paged_and_carries_no_specs() {
    let (url, _stop) = start(ServiceLimits::default()).await;
    let mut c = ClientClient::connect(url).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(c.submit(search(0.01, 0)).await.unwrap().into_inner().job_id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .list_jobs(v1::ListJobsRequest {
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.jobs.len() <= 2);
        assert!(page.jobs.iter().all(|j| j.spec.is_none()));
        seen.extend(page.jobs.into_iter().map(|j| j.job_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    // GetJob still has the spec; a bad token is an InvalidArgument.
    let j = c
        .get_job(v1::JobRef {
            job_id: ids[0].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(j.spec.is_some());
    let e = c
        .list_jobs(v1::ListJobsRequest {
            page_size: 2,
            page_token: "garbage".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn watch_streams_are_capped() {
    let (url, _stop) = start(ServiceLimits {
        max_watch_streams: 2,
        ..ServiceLimits::default()
    })
    .await;
    let mut c = ClientClient::connect(url).await.unwrap();
    let job = c.submit(search(0.01, 0)).await.unwrap().into_inner().job_id;
    let watch = || v1::WatchRequest {
        job_id: job.clone(),
        cursor: 0,
        ..Default::default()
    };
    let a = c.watch(watch()).await.unwrap();
    let _b = c.watch(watch()).await.unwrap();
    let e = c.watch(watch()).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message().contains("--max-watch-streams"),
        "{}",
        e.message()
    );
    // Closing one frees its slot.
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match c.watch(watch()).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                assert_eq!(e.code(), Code::ResourceExhausted);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("slot not freed: {e:?}"),
        }
    }
}
