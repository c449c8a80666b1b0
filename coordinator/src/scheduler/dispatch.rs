//! Handing out work: which worker gets which task — the fairest job first (fewest leases held,
//! then least recently served), template affinity within a job — and speculative copies of
//! stragglers.

use super::*;

impl Scheduler {
    /// Hands out tasks to workers with credits: fewest leases held across jobs (ties in
    /// round-robin order), affinity within a job.
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
        if worker_ids.is_empty() {
            return;
        }
        // Leases each job holds now (its attained share of the workers), counted once per
        // dispatch and kept up to date as leases are handed out below.
        let mut held: HashMap<JobId, u32> = HashMap::new();
        for w in self.workers.values() {
            for (job, _, _) in &w.leases {
                *held.entry(*job).or_default() += 1;
            }
        }
        // Straggler candidates, computed at most once per dispatch (only if some worker is idle).
        let mut stragglers: Option<Vec<(JobId, u32, WorkerId)>> = None;
        for wid in worker_ids {
            while self.workers[&wid].credits > 0 {
                let picked = self.pick(wid, &held).or_else(|| {
                    let c = stragglers.get_or_insert_with(|| self.stragglers(now_ms));
                    let i = c.iter().position(|x| x.2 != wid)?;
                    let (j, t, _) = c.remove(i);
                    Some((j, t))
                });
                let Some((job_id, task)) = picked else {
                    break;
                };
                *held.entry(job_id).or_default() += 1;
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

    /// Chooses the next (job, task) for a worker: among jobs with pending tasks, the one holding
    /// the fewest leases (`held`), ties broken by the rotation (least recently served first);
    /// the chosen job moves to the back of the rotation. A job none of whose pending tasks this
    /// worker may take (retries) is passed over for the next.
    fn pick(&mut self, wid: WorkerId, held: &HashMap<JobId, u32>) -> Option<(JobId, u32)> {
        let mut order: Vec<(u32, usize, JobId)> = self
            .rotation
            .iter()
            .enumerate()
            .filter(|(_, j)| {
                let job = &self.jobs[*j];
                !job.pending.is_empty() && !job.paused
            })
            .map(|(i, j)| (held.get(j).copied().unwrap_or(0), i, *j))
            .collect();
        order.sort_unstable();
        for (_, i, job_id) in order {
            if let Some(task) = self.pick_task(wid, job_id) {
                self.rotation.remove(i);
                self.rotation.push_back(job_id);
                return Some((job_id, task));
            }
        }
        None
    }

    /// The task of `job_id` this worker should run next, if any: templates it holds, then
    /// templates nobody else holds, then the first pending task it may take.
    fn pick_task(&self, wid: WorkerId, job_id: JobId) -> Option<u32> {
        let job = &self.jobs[&job_id];
        let w = &self.workers[&wid];
        // Retries go to a worker the task has not failed on, unless every live worker has.
        let workers = &self.workers;
        let eligible = |task: u32| {
            let failed_on = &job.tasks[task as usize].failed_on;
            !failed_on.contains(&wid) || workers.keys().all(|id| failed_on.contains(id))
        };
        // 1. Tasks whose templates this worker holds.
        let mine = w
            .held_blocks(job.bank_key)
            .flat_map(|b| job.tasks_of(b * worker::BLOCK))
            .find(|t| job.pending.contains(t) && eligible(*t));
        if let Some(t) = mine {
            return Some(t);
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
                return Some(t);
            }
        }
        first
    }
}
