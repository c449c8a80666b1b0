//! Handing out work: which worker gets which task, round-robin over jobs with template
//! affinity within a job, and speculative copies of stragglers.

use super::*;

impl Scheduler {
    /// Hands out tasks to workers with credits: round-robin over jobs, affinity within a job.
    pub(super) fn dispatch(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        if self.stopped {
            return;
        }
        let worker_ids: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.credits > 0)
            .map(|(id, _)| *id)
            .collect();
        // Straggler candidates, computed at most once per dispatch (only if some worker is idle).
        let mut stragglers: Option<Vec<(JobId, u32, WorkerId)>> = None;
        for wid in worker_ids {
            while self.workers[&wid].credits > 0 {
                let picked = self.pick(wid).or_else(|| {
                    let c = stragglers.get_or_insert_with(|| self.stragglers(now_ms));
                    let i = c.iter().position(|x| x.2 != wid)?;
                    let (j, t, _) = c.remove(i);
                    Some((j, t))
                });
                let Some((job_id, task)) = picked else {
                    break;
                };
                let job = self.jobs.get_mut(&job_id).expect("picked job exists");
                job.pending.remove(&task);
                job.state = JobState::Running;
                let attempt = job.next_attempt;
                job.next_attempt += 1;
                job.attempts += 1;
                let t = &mut job.tasks[task as usize];
                t.state = TaskState::Leased;
                t.leases.push((wid, attempt, now_ms));
                let (start, count, segments) = (t.start, t.count, t.segments);
                let w = self.workers.get_mut(&wid).expect("worker exists");
                w.credits -= 1;
                w.leases.insert((job_id, task, attempt));
                if w.known_jobs.insert(job_id) {
                    out.push(Action::SendJob {
                        worker: wid,
                        job: job_id,
                    });
                }
                out.push(Action::Lease {
                    worker: wid,
                    job: job_id,
                    task,
                    attempt,
                    start,
                    count,
                    segments,
                });
            }
        }
    }

    /// Candidates for speculative copies, oldest first: lone leases of jobs with nothing pending
    /// that have run for more than [`STRAGGLER_FACTOR`] times the job's mean task time (and at
    /// least [`MIN_STRAGGLER_MS`]), with the worker holding each. An idle worker other than that
    /// one runs a copy; the first result wins and the other copy is revoked.
    fn stragglers(&self, now_ms: u64) -> Vec<(JobId, u32, WorkerId)> {
        if !self.config.speculate {
            return Vec::new();
        }
        let mut found: Vec<(u64, JobId, u32, WorkerId)> = Vec::new();
        for job_id in &self.rotation {
            let job = &self.jobs[job_id];
            if !job.pending.is_empty() || job.state.is_final() || job.paused {
                continue;
            }
            let Some(mean) = job.mean_run_ms() else {
                continue;
            };
            let threshold = (mean * STRAGGLER_FACTOR).max(MIN_STRAGGLER_MS);
            for (i, t) in job.tasks.iter().enumerate() {
                if let [(w, _, at)] = t.leases[..] {
                    let age = now_ms.saturating_sub(at);
                    if age > threshold {
                        found.push((age, *job_id, i as u32, w));
                    }
                }
            }
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.into_iter().map(|(_, j, t, w)| (j, t, w)).collect()
    }

    /// Chooses the next (job, task) for a worker, rotating the job queue.
    fn pick(&mut self, wid: WorkerId) -> Option<(JobId, u32)> {
        for _ in 0..self.rotation.len() {
            let job_id = *self.rotation.front()?;
            self.rotation.rotate_left(1);
            let job = &self.jobs[&job_id];
            if job.pending.is_empty() || job.paused {
                continue;
            }
            let w = &self.workers[&wid];
            // Retries go to a worker the task has not failed on, unless every live worker has.
            let workers = &self.workers;
            let eligible = |task: u32| {
                let failed_on = &job.tasks[task as usize].failed_on;
                !failed_on.contains(&wid) || workers.keys().all(|id| failed_on.contains(id))
            };
            // 1. Tasks whose templates this worker holds.
            let held = w
                .held_blocks(job.bank_key)
                .flat_map(|b| job.tasks_of(b * worker::BLOCK))
                .find(|t| job.pending.contains(t) && eligible(*t));
            if let Some(t) = held {
                return Some((job_id, t));
            }
            // 2. Tasks no other live worker holds (bounded scan), 3. the first eligible one.
            let mut first = None;
            for &t in job.pending.iter().take(64) {
                if !eligible(t) {
                    continue;
                }
                first.get_or_insert(t);
                let task = &job.tasks[t as usize];
                let (b0, b1) = (
                    task.start.div_ceil(worker::BLOCK),
                    (task.start + task.count as u64) / worker::BLOCK,
                );
                let held_elsewhere = (b0..b1).any(|b| {
                    self.holders
                        .get(&(job.bank_key, b))
                        .is_some_and(|h| *h != wid && self.workers.contains_key(h))
                });
                if !held_elsewhere {
                    return Some((job_id, t));
                }
            }
            if let Some(t) = first {
                return Some((job_id, t));
            }
        }
        None
    }
}
