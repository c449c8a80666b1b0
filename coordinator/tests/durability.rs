//! Durability: nothing released that is not on disk, nothing restored that is not whole.
//!
//! Most tests drive the real coordinator state (scheduler, journal thread, store) with instant
//! fake workers whose results are a fixed function of (template, signal), so a run interrupted
//! by a full or read-only disk, a torn or damaged log, or a restart must end with exactly the
//! numbers of an uninterrupted in-memory run. The disk faults use a small tmpfs (we run as
//! root, so permissions would not stop a write); where mounting is not permitted the test
//! prints a SKIP line and returns. The lock, the exit codes and `--retention` are checked on
//! the real `chirpfarm-coordinator` binary.

use chirpfarm_coordinator::client_service::ClientService;
use chirpfarm_coordinator::scheduler::{Event, JobId, JobState, WorkerId};
use chirpfarm_coordinator::state::Session;
use chirpfarm_coordinator::store::{self, Store};
use chirpfarm_coordinator::{Coordinator, CoordinatorConfig};
use chirpfarm_core::{BankSpec, SearchSpec, SignalSpec, SnrConvention};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_server::Client;
use chirpfarm_proto::v1::coordinator_message::Msg;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Templates of the test bank, templates per task (20 tasks), signals: a block is 3 × 100 ×
/// 16 bytes, more than a page, so every append needs fresh space on a full tmpfs.
const TEMPLATES: u64 = 2000;
const CHUNK: u32 = 100;
const SIGNALS: [f64; 3] = [1.2, 1.4, 2.0];

type Inbox = UnboundedReceiver<Result<v1::CoordinatorMessage, tonic::Status>>;

/// A coordinator with four instant fake workers.
struct Farm {
    coord: Coordinator,
    inboxes: Vec<(WorkerId, Inbox)>,
}

fn value(template: u64, signal: usize) -> f64 {
    ((template as f64) * 0.731 + signal as f64).sin() * 10.0
}

impl Farm {
    fn config(dir: Option<&Path>) -> CoordinatorConfig {
        let mut config = CoordinatorConfig::default();
        config.scheduler.heartbeat_timeout_ms = u64::MAX / 2;
        config.data_dir = dir.map(Path::to_path_buf);
        config
    }

    fn open(dir: Option<&Path>) -> Farm {
        Farm::with(Coordinator::open(Farm::config(dir)).expect("open the coordinator"))
    }

    fn with(coord: Coordinator) -> Farm {
        let mut inboxes = Vec::new();
        let mut inner = coord.lock();
        for i in 1..=4 {
            let id = WorkerId(i);
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            inner
                .sessions
                .insert(id, Session::new(tx, 0, v1::Register::default()));
            let joined = Event::WorkerJoined {
                worker: id,
                cache_capacity: 0,
                in_flight: vec![],
            };
            coord.apply(&mut inner, joined, None);
            coord.apply(
                &mut inner,
                Event::Credit {
                    worker: id,
                    credits: 2,
                },
                None,
            );
            inboxes.push((id, rx));
        }
        drop(inner);
        Farm { coord, inboxes }
    }

    fn submit(&self) -> JobId {
        let spec = SearchSpec {
            bank: BankSpec::Range {
                start: 1.0,
                stop: 1.0 + TEMPLATES as f64,
                step: 1.0,
            },
            signals: SIGNALS.iter().map(|&mc| SignalSpec::chirp(mc)).collect(),
            convention: SnrConvention::Seed,
            data: None,
            approximant: Default::default(),
            f_final: None,
        };
        let sub = self.coord.submit(spec, CHUNK, true).expect("submit");
        Coordinator::parse_job_id(&sub.job_id).unwrap()
    }

    /// Answers up to `max` leases; returns how many.
    fn step(&mut self, max: usize) -> usize {
        let mut n = 0;
        for (id, rx) in self.inboxes.iter_mut() {
            while n < max {
                let Ok(Ok(msg)) = rx.try_recv() else { break };
                let Some(Msg::Lease(l)) = msg.msg else {
                    continue;
                };
                let job = Coordinator::parse_job_id(&l.job_id).unwrap();
                let templates = l.start..l.start + l.count as u64;
                let block = v1::ResultBlock {
                    start: l.start,
                    count: l.count,
                    signals: (0..SIGNALS.len())
                        .map(|s| v1::SignalBlock {
                            snr: templates.clone().map(|t| value(t, s)).collect(),
                            lag_seconds: templates.clone().map(|t| t as f64 * 1e-3).collect(),
                        })
                        .collect(),
                    ..Default::default()
                };
                let mut inner = self.coord.lock();
                let done = Event::TaskCompleted {
                    worker: *id,
                    job,
                    task: l.task as u32,
                    attempt: l.attempt,
                };
                self.coord.apply(&mut inner, done, Some(block));
                let credit = Event::Credit {
                    worker: *id,
                    credits: 1,
                };
                self.coord.apply(&mut inner, credit, None);
                n += 1;
            }
        }
        n
    }

    /// Waits until the journal has written (or failed) everything it was given.
    fn settle(&self) {
        let t0 = Instant::now();
        while self.coord.journal_in_flight() > 0 {
            assert!(t0.elapsed() < Duration::from_secs(20), "journal stuck");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn state(&self, job: JobId) -> Option<JobState> {
        self.coord.lock().sched.job_state(job)
    }

    fn outcome_succeeded(&self, job: JobId) -> bool {
        let inner = self.coord.lock();
        inner.sched.job_state(job) == Some(chirpfarm_coordinator::scheduler::JobState::Succeeded)
    }

    /// Runs the farm (with ticks, which probe paused jobs) until `job` has ended.
    fn run_to_end(&mut self, job: JobId) {
        let t0 = Instant::now();
        while !self.coord.lock().sched.job_ended(job) {
            assert!(t0.elapsed() < Duration::from_secs(30), "job never ended");
            if self.step(usize::MAX) == 0 {
                self.settle();
                self.coord.tick();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.settle();
    }

    /// Released results: one vector of SNRs per signal, in bank order.
    fn results(&self, job: JobId) -> Vec<Vec<f64>> {
        let inner = self.coord.lock();
        let blocks = inner.jobs[&job].blocks_from(0, usize::MAX);
        (0..SIGNALS.len())
            .map(|s| {
                blocks
                    .iter()
                    .flat_map(|b| b.signals[s].snr.clone())
                    .collect()
            })
            .collect()
    }

    fn released(&self, job: JobId) -> u64 {
        self.coord.lock().jobs[&job].released()
    }
}

/// The numbers of an uninterrupted run.
fn reference() -> Vec<Vec<f64>> {
    let mut farm = Farm::open(None);
    let job = farm.submit();
    farm.run_to_end(job);
    assert!(farm.outcome_succeeded(job));
    farm.results(job)
}

fn assert_whole(farm: &Farm, job: JobId, want: &[Vec<f64>]) {
    assert!(farm.outcome_succeeded(job), "job did not succeed");
    let got = farm.results(job);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.len(), TEMPLATES as usize, "a hole in the results");
        assert!(
            g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits()),
            "results differ from an uninterrupted run"
        );
    }
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chirpfarm-dur-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        let dir = tmp_dir(name);
        fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("SKIP {name}: cannot mount a tmpfs here (needs root and mount permission)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn remount(&self, mode: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(st.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs a third of the job, breaks the disk with `break_it`, shows the job pauses with the
/// error reported (never succeeding with holes), repairs it, and checks the job completes with
/// the reference numbers — live and after a restart from the same directory.
fn pause_and_resume(
    name: &str,
    break_it: impl FnOnce(&Tmpfs),
    repair: impl FnOnce(&Tmpfs),
    error: &str,
) {
    let want = reference();
    let Some(fs_) = Tmpfs::mount(name, "4m") else {
        return;
    };
    let data = fs_.dir.join("data");
    let mut farm = Farm::open(Some(&data));
    let job = farm.submit();
    farm.step(7);
    farm.settle();
    assert!(farm.released(job) > 0);
    break_it(&fs_);
    // The leases in flight come back: their results cannot be written.
    for _ in 0..5 {
        farm.step(usize::MAX);
        farm.settle();
        farm.coord.tick();
        farm.settle();
    }
    let (paused, err, released) = {
        let inner = farm.coord.lock();
        let rec = &inner.jobs[&job];
        (
            inner.sched.job_paused(job),
            rec.journal_error.clone(),
            rec.released(),
        )
    };
    assert!(paused, "the job pauses");
    let err = err.expect("the journal error is kept");
    assert!(err.contains(error) && err.contains("results.log"), "{err}");
    assert_ne!(farm.state(job), Some(JobState::Succeeded));
    assert!(released < TEMPLATES, "nothing unstored is released");
    assert_eq!(
        farm.step(usize::MAX),
        0,
        "no leases while the journal fails"
    );
    // The error is reported to clients.
    let info = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(
            ClientService::new(farm.coord.clone()).get_job(tonic::Request::new(v1::JobRef {
                job_id: job.to_string(),
            })),
        )
        .unwrap()
        .into_inner();
    assert!(info.journal_error.contains(error), "{info:?}");
    assert_eq!(info.state, v1::JobState::Running as i32);
    // Writes work again: the tick's probe resumes the job by itself.
    repair(&fs_);
    farm.run_to_end(job);
    assert_whole(&farm, job, &want);
    assert!(farm.coord.lock().jobs[&job].journal_error.is_none());
    // And the disk holds all of it.
    drop(farm);
    let farm = wait_open(&data);
    assert_whole(&farm, job, &want);
}

/// Opens a farm over `dir` once the previous coordinator (dropped) has let go of its lock.
/// (It can take a moment: a process spawned meanwhile by another test holds a copy of the lock's
/// descriptor between its fork and its exec.)
fn wait_open(dir: &Path) -> Farm {
    let t0 = Instant::now();
    loop {
        match Coordinator::open(Farm::config(Some(dir))) {
            Ok(c) => return Farm::with(c),
            Err(e) if t0.elapsed() < Duration::from_secs(10) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_read_only_data_dir_pauses_the_job_until_it_is_writable() {
    pause_and_resume(
        "readonly",
        |t| t.remount("ro"),
        |t| t.remount("rw"),
        "Read-only file system",
    );
}

#[test]
fn a_full_data_dir_pauses_the_job_until_space_is_freed() {
    pause_and_resume(
        "full",
        |t| {
            use std::io::Write;
            let mut f = fs::File::create(t.dir.join("filler")).unwrap();
            let chunk = vec![7u8; 4096];
            while f.write_all(&chunk).is_ok() {}
            let _ = f.sync_all();
        },
        |t| fs::remove_file(t.dir.join("filler")).unwrap(),
        "No space left on device",
    );
}

/// Runs `tasks` tasks of a job over a fresh data dir, then drops the coordinator.
fn partial_run(name: &str, tasks: usize) -> (PathBuf, JobId) {
    let dir = tmp_dir(name);
    let mut farm = Farm::open(Some(&dir));
    let job = farm.submit();
    let mut n = 0;
    while n < tasks {
        n += farm.step(tasks - n);
        farm.settle();
    }
    (dir, job)
}

fn log_of(dir: &Path, job: JobId) -> PathBuf {
    dir.join("jobs").join(job.to_string()).join("results.log")
}

/// Restarts over `dir`, finishes the job and checks its numbers.
fn resume_and_check(dir: &Path, job: JobId, want: &[Vec<f64>]) {
    let mut farm = wait_open(dir);
    assert_ne!(farm.state(job), Some(JobState::Succeeded));
    farm.run_to_end(job);
    assert_whole(&farm, job, want);
    drop(farm);
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_torn_tail_is_truncated_and_the_job_resumes() {
    let want = reference();
    let (dir, job) = partial_run("torn", 8);
    let log = log_of(&dir, job);
    let good = fs::metadata(&log).unwrap().len();
    // The start of a record whose length runs past the end: a write cut short.
    let mut bytes = fs::read(&log).unwrap();
    bytes.extend_from_slice(&[0xff, 0xff, 0, 0, 1, 2]);
    fs::write(&log, &bytes).unwrap();
    {
        let farm = wait_open(&dir);
        assert_eq!(
            fs::metadata(&log).unwrap().len(),
            good,
            "cut to the last whole record"
        );
        drop(farm);
    }
    resume_and_check(&dir, job, &want);
}

#[test]
fn a_damaged_record_in_the_middle_is_computed_again() {
    let want = reference();
    let (dir, job) = partial_run("middle", 10);
    let log = log_of(&dir, job);
    let mut bytes = fs::read(&log).unwrap();
    // A flipped bit inside the second record's payload (after the magic and the first record).
    let len0 = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    bytes[8 + 8 + len0 + 8 + 100] ^= 0x04;
    fs::write(&log, &bytes).unwrap();
    let farm = wait_open(&dir);
    let done = farm.coord.lock().sched.job_counts(job).unwrap().0;
    assert_eq!(done, 9, "one record dropped, nine kept");
    drop(farm);
    resume_and_check(&dir, job, &want);
}

#[test]
fn a_block_of_the_wrong_size_is_computed_again() {
    let want = reference();
    let (dir, job) = partial_run("misfit", 5);
    // A well-formed, checksummed record whose block does not fit its task: one value short.
    let store = Store::open(&dir).unwrap();
    let loaded = store.load().unwrap();
    let (task, mut block) = loaded[0].blocks[0].clone();
    block.signals[1].snr.pop();
    let mut rec = Vec::new();
    // Replace the log by the four good blocks and the misfit one.
    let mut bytes = chirpfarm_coordinator::record::LOG_MAGIC.to_vec();
    for (t, b) in loaded[0].blocks.iter().skip(1) {
        store::encode_block(*t, b.clone(), &mut bytes);
    }
    store::encode_block(task, block, &mut rec);
    bytes.extend_from_slice(&rec);
    fs::write(log_of(&dir, job), &bytes).unwrap();
    let farm = wait_open(&dir);
    assert_eq!(farm.coord.lock().sched.job_counts(job).unwrap().0, 4);
    drop(farm);
    resume_and_check(&dir, job, &want);
}

#[test]
fn a_job_recorded_as_succeeded_with_missing_results_resumes() {
    let want = reference();
    let dir = tmp_dir("holes");
    let mut farm = Farm::open(Some(&dir));
    let job = farm.submit();
    farm.run_to_end(job);
    drop(farm);
    let store = Store::open(&dir).unwrap();
    let loaded = store.load().unwrap();
    let mut meta = loaded[0].meta.clone();
    assert_eq!(meta.state, v1::JobState::Succeeded as i32);
    // job.pb's counts disagree with its spec, and half the results are gone.
    meta.templates = 47;
    store.put_job(&meta).unwrap();
    let mut bytes = chirpfarm_coordinator::record::LOG_MAGIC.to_vec();
    for (t, b) in loaded[0].blocks.iter().take(10) {
        store::encode_block(*t, b.clone(), &mut bytes);
    }
    fs::write(log_of(&dir, job), &bytes).unwrap();
    let farm = wait_open(&dir);
    {
        let inner = farm.coord.lock();
        let rec = &inner.jobs[&job];
        assert!(!inner.sched.job_ended(job), "never SUCCEEDED with holes");
        assert_eq!(rec.templates, TEMPLATES, "counts come from the spec");
    }
    drop(farm);
    resume_and_check(&dir, job, &want);
}

#[test]
fn job_ids_are_never_reused() {
    // With a data dir: numbers continue after a restart, even past jobs removed by retention.
    let dir = tmp_dir("ids");
    let farm = Farm::open(Some(&dir));
    let (a, b) = (farm.submit(), farm.submit());
    assert_eq!(
        (a.to_string(), b.to_string()),
        ("job-1".into(), "job-2".into())
    );
    drop(farm);
    fs::remove_dir_all(dir.join("jobs")).unwrap(); // as retention would
    let farm = wait_open(&dir);
    assert_eq!(farm.submit().to_string(), "job-3");
    drop(farm);
    let _ = fs::remove_dir_all(&dir);
    // Without one: each instance tags its ids, so a restarted coordinator does not answer for
    // an id handed out by the one before.
    let first = Farm::open(None).submit();
    let second = Farm::open(None);
    let again = second.submit();
    assert_ne!(first, again);
    assert!(
        first.to_string().starts_with("job-") && first.to_string().ends_with("-1"),
        "{first}"
    );
    assert!(!second.coord.lock().jobs.contains_key(&first));
    assert_eq!(
        Coordinator::parse_job_id(&again.to_string()).unwrap(),
        again
    );
    let e = Coordinator::parse_job_id("job-x").unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("expected job-N"), "{}", e.message());
}

// --- the binary -----------------------------------------------------------------------------

fn coordinator_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chirpfarm-coordinator"));
    c.args(["--listen", "127.0.0.1:0"]).args(args);
    c
}

#[test]
fn a_second_coordinator_on_the_same_data_dir_exits_2_naming_the_holder() {
    let dir = tmp_dir("lock");
    let d = dir.to_str().unwrap();
    let mut first = coordinator_cmd(&["--data-dir", d])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !fs::read_to_string(dir.join("lock")).is_ok_and(|t| t.contains("pid")) {
        assert!(t0.elapsed() < Duration::from_secs(20), "first never locked");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = coordinator_cmd(&["--data-dir", d]).output().unwrap();
    let _ = first.kill();
    let _ = first.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains(d), "{err}");
    assert!(
        !err.contains("listening"),
        "refused before listening: {err}"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn data_dir_errors_and_bare_retention_numbers_exit_2() {
    let dir = tmp_dir("notadir");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("file");
    fs::write(&file, b"x").unwrap();
    let out = coordinator_cmd(&["--data-dir", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not a directory") && err.contains(file.to_str().unwrap()),
        "{err}"
    );
    assert!(!err.contains("listening"), "{err}");
    let out = coordinator_cmd(&["--retention", "7"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("s, m, h or d"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}
