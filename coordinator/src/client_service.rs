//! The `Client` gRPC service: a thin translation layer between requests and the coordinator.

use crate::jobs::{client_state, error_of, unix_ms, JobRecord};
use crate::limits::LIST_PAGE;
use crate::scheduler::{Event, JobId};
use crate::state::{Coordinator, Inner};
use crate::submit::{spec_status, Submitter};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_server::Client;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status, Streaming};

/// The `Client` service over a shared [`Coordinator`].
#[derive(Debug, Clone)]
pub struct ClientService {
    coord: Coordinator,
    /// One permit per open watch stream (`--max-watch-streams`).
    watchers: Arc<Semaphore>,
}

impl ClientService {
    /// Serves clients of `coord`.
    pub fn new(coord: Coordinator) -> ClientService {
        let watchers = Arc::new(Semaphore::new(coord.config.service.max_watch_streams));
        ClientService { coord, watchers }
    }
}

fn job_info(inner: &Inner, id: JobId, rec: &JobRecord) -> v1::JobInfo {
    let (tasks_done, tasks_total, attempts, failures) =
        inner.sched.job_counts(id).unwrap_or_default();
    v1::JobInfo {
        job_id: id.to_string(),
        state: client_state(inner.sched.job_state(id)) as i32,
        templates_total: rec.units_total(),
        templates_done: rec.templates_done,
        signals: rec.spec.signals.len() as u32,
        tasks_total,
        tasks_done,
        attempts,
        failures,
        submitted_unix_ms: unix_ms(rec.submitted),
        finished_unix_ms: rec.finished.map(unix_ms).unwrap_or(0),
        error: error_of(inner.sched.job_outcome(id)),
        bank: rec.spec.bank.describe(),
        convention: chirpfarm_proto::convention_to_proto(rec.spec.convention),
        wall_seconds: rec.wall_seconds,
        spec: Some(rec.wire_spec.clone()),
        journal_error: rec.journal_error.clone().unwrap_or_default(),
        name: rec.name.clone(),
        owner: rec.owner_shown(),
        already_ended: false,
    }
}

type WatchStream = Pin<Box<dyn futures::Stream<Item = Result<v1::WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Client for ClientService {
    async fn upload_blob(
        &self,
        request: Request<Streaming<v1::BlobChunk>>,
    ) -> Result<Response<v1::UploadResponse>, Status> {
        let mut chunks = request.into_inner();
        let first = chunks
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("an upload needs at least one chunk"))?;
        let blob = chirpfarm_proto::blob_from_proto(first.blob.as_ref()).map_err(spec_status)?;
        if self.coord.blobs.contains(&blob) {
            // Already here: nothing to receive.
            return Ok(Response::new(v1::UploadResponse {
                blob: Some(chirpfarm_proto::blob_to_proto(&blob)),
                stored: false,
            }));
        }
        let mut upload = crate::blobs::Upload::start(blob, &self.coord.blobs)?;
        upload.push(first.offset, &first.data)?;
        while let Some(c) = chunks.message().await? {
            upload.push(c.offset, &c.data)?;
        }
        let (blob, bytes) = upload.finish()?;
        let blobs = self.coord.blobs.clone();
        // Hashing and writing a large blob is blocking work: off the async runtime.
        let stored = tokio::task::spawn_blocking(move || blobs.put(&blob, bytes))
            .await
            .map_err(|e| Status::internal(format!("upload task failed: {e}")))??;
        tracing::info!(blob = %blob.hex(), bytes = blob.len, stored, "blob uploaded");
        Ok(Response::new(v1::UploadResponse {
            blob: Some(chirpfarm_proto::blob_to_proto(&blob)),
            stored,
        }))
    }

    async fn has_blobs(
        &self,
        request: Request<v1::BlobQuery>,
    ) -> Result<Response<v1::BlobPresence>, Status> {
        let q = request.into_inner();
        let present = q
            .blobs
            .iter()
            .map(|b| {
                chirpfarm_proto::blob_from_proto(Some(b))
                    .map(|b| self.coord.blobs.contains(&b))
                    .map_err(spec_status)
            })
            .collect::<Result<Vec<bool>, Status>>()?;
        Ok(Response::new(v1::BlobPresence { present }))
    }

    async fn submit(
        &self,
        request: Request<v1::SubmitRequest>,
    ) -> Result<Response<v1::SubmitResponse>, Status> {
        let addr = request
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let req = request.into_inner();
        let spec = chirpfarm_proto::spec_from_proto(req.spec.as_ref()).map_err(spec_status)?;
        let who = Submitter {
            addr,
            user: req.user,
            name: req.name,
        };
        self.coord
            .submit_from(spec, req.chunk_size, req.wait_for_workers, &who)
            .map(Response::new)
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let req = request.into_inner();
        let id = Coordinator::parse_job_id(&req.job_id)?;
        let permit = self.watchers.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{} watch streams are already open on this coordinator (limit --max-watch-streams): close some and retry",
                self.coord.config.service.max_watch_streams
            ))
        })?;
        let changes = {
            let inner = self.coord.lock();
            let rec = inner
                .jobs
                .get(&id)
                .ok_or_else(|| Status::not_found(format!("no job {id}")))?;
            if req.cursor > rec.units_total() {
                return Err(Status::invalid_argument(format!(
                    "cursor {} is past the end of {id} ({} result units)",
                    req.cursor,
                    rec.units_total()
                )));
            }
            rec.subscribe()
        };
        let stream = crate::watch::stream(
            self.coord.clone(),
            id,
            (req.cursor, req.partial),
            changes,
            permit,
        );
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_job(&self, request: Request<v1::JobRef>) -> Result<Response<v1::JobInfo>, Status> {
        let id = Coordinator::parse_job_id(&request.into_inner().job_id)?;
        let inner = self.coord.lock();
        let rec = inner
            .jobs
            .get(&id)
            .ok_or_else(|| Status::not_found(format!("no job {id}")))?;
        Ok(Response::new(job_info(&inner, id, rec)))
    }

    async fn list_jobs(
        &self,
        request: Request<v1::ListJobsRequest>,
    ) -> Result<Response<v1::ListJobsResponse>, Status> {
        let req = request.into_inner();
        let after = match req.page_token.as_str() {
            "" => None,
            t => Some(Coordinator::parse_job_id(t).map_err(|_| {
                Status::invalid_argument(format!("{t:?} is not a page token from ListJobs"))
            })?),
        };
        let page = match req.page_size as usize {
            0 => LIST_PAGE,
            n => n.min(LIST_PAGE),
        };
        let inner = self.coord.lock();
        let mut ids: Vec<JobId> = inner
            .jobs
            .keys()
            .filter(|id| after.is_none_or(|a| **id > a))
            .copied()
            .collect();
        ids.sort();
        let more = ids.len() > page;
        ids.truncate(page);
        let next_page_token = match (more, ids.last()) {
            (true, Some(last)) => last.to_string(),
            _ => String::new(),
        };
        let jobs = ids
            .into_iter()
            .map(|id| v1::JobInfo {
                spec: None, // GetJob has it: a page of 1000 jobs stays small
                ..job_info(&inner, id, &inner.jobs[&id])
            })
            .collect();
        Ok(Response::new(v1::ListJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    async fn cancel(&self, request: Request<v1::JobRef>) -> Result<Response<v1::JobInfo>, Status> {
        let id = Coordinator::parse_job_id(&request.into_inner().job_id)?;
        let mut inner = self.coord.lock();
        if !inner.jobs.contains_key(&id) {
            return Err(Status::not_found(format!("no job {id}")));
        }
        // Idempotent: cancelling a job that already ended changes nothing and says so.
        if inner.sched.job_ended(id) {
            let info = job_info(&inner, id, &inner.jobs[&id]);
            return Ok(Response::new(v1::JobInfo {
                spec: None,
                already_ended: true,
                ..info
            }));
        }
        self.coord
            .apply(&mut inner, Event::CancelJob { job: id }, None);
        let rec = &inner.jobs[&id];
        Ok(Response::new(v1::JobInfo {
            spec: None,
            ..job_info(&inner, id, rec)
        }))
    }

    async fn list_workers(
        &self,
        _request: Request<v1::ListWorkersRequest>,
    ) -> Result<Response<v1::ListWorkersResponse>, Status> {
        let inner = self.coord.lock();
        let counts = inner.sched.worker_counts();
        let mut workers: Vec<v1::WorkerInfo> = counts
            .into_iter()
            .filter_map(|(id, leased, done, _credits)| {
                let s = inner.sessions.get(&id)?;
                Some(v1::WorkerInfo {
                    worker_id: id.to_string(),
                    name: s.register.name.clone(),
                    host: s.register.host.clone(),
                    threads: s.register.threads,
                    tasks_done: done,
                    templates_cached: s.templates_cached,
                    last_heartbeat_ms_ago: s.last_seen.elapsed().as_millis() as u64,
                    leased,
                    build_version: s.register.build_version.clone(),
                })
            })
            .collect();
        workers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Response::new(v1::ListWorkersResponse { workers }))
    }

    async fn list_alloc_queues(
        &self,
        _request: Request<v1::ListAllocQueuesRequest>,
    ) -> Result<Response<v1::ListAllocQueuesResponse>, Status> {
        let now = self.coord.now_ms();
        let m = self.coord.autoalloc.lock();
        Ok(Response::new(crate::autoalloc::rpc::list(&m, now)))
    }

    async fn add_alloc_queue(
        &self,
        request: Request<v1::AllocQueueParams>,
    ) -> Result<Response<v1::AllocQueueInfo>, Status> {
        let now = self.coord.now_ms();
        let mut m = self.coord.autoalloc.lock();
        let q = crate::autoalloc::rpc::add(&mut m, request.get_ref(), now)?;
        tracing::info!(queue = q.id, "autoalloc: queue {} added", q.id);
        Ok(Response::new(q))
    }

    async fn remove_alloc_queue(
        &self,
        request: Request<v1::AllocQueueRef>,
    ) -> Result<Response<v1::AllocQueueInfo>, Status> {
        let now = self.coord.now_ms();
        let mut m = self.coord.autoalloc.lock();
        let q = crate::autoalloc::rpc::remove(&mut m, request.get_ref().id, now)?;
        tracing::info!(
            queue = q.id,
            jobs = q.jobs.len(),
            "autoalloc: queue {} removed; ending its jobs",
            q.id
        );
        Ok(Response::new(q))
    }
}
