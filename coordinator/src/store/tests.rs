//! Store tests: round trips, and every kind of damage the loader must survive.

use super::*;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chirpfarm-store-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn block(start: u64) -> v1::ResultBlock {
    v1::ResultBlock {
        start,
        count: 10,
        signals: vec![v1::SignalBlock {
            snr: vec![1.5; 10],
            lag_seconds: vec![0.0; 10],
        }],
        ..Default::default()
    }
}

/// Writes a log of `blocks` the way the journal does (magic, then framed records).
fn write_log(store: &Store, job: &str, blocks: &[(u32, v1::ResultBlock)]) -> PathBuf {
    let mut bytes = LOG_MAGIC.to_vec();
    for (t, b) in blocks {
        encode_block(*t, b.clone(), &mut bytes);
    }
    let path = store.log_path(job);
    fs::write(&path, bytes).unwrap();
    path
}

fn meta(job: &str) -> v1::StoredJob {
    v1::StoredJob {
        job_id: job.into(),
        templates: 30,
        chunk: 10,
        ..Default::default()
    }
}

#[test]
fn round_trip_and_torn_tail_is_truncated() {
    let dir = tmp("torn");
    let store = Store::open(&dir).unwrap();
    store.put_job(&meta("job-3")).unwrap();
    let log = write_log(&store, "job-3", &[(1, block(10)), (0, block(0))]);
    let good = fs::metadata(&log).unwrap().len();
    // A crash in the middle of a third record leaves a torn tail.
    let mut third = Vec::new();
    encode_block(2, block(20), &mut third);
    let mut f = OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&third[..third.len() / 2]).unwrap();
    let jobs = store.load().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].meta, meta("job-3"));
    assert_eq!(jobs[0].blocks.len(), 2);
    assert_eq!(jobs[0].blocks[0].0, 1);
    assert_eq!(jobs[0].blocks[1].1, block(0));
    assert_eq!(
        fs::metadata(&log).unwrap().len(),
        good,
        "truncated to the last whole record"
    );
    store.remove_job("job-3").unwrap();
    assert!(store.load().unwrap().is_empty());
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_middle_record_is_dropped_and_the_log_rewritten() {
    let dir = tmp("middle");
    let store = Store::open(&dir).unwrap();
    store.put_job(&meta("job-1")).unwrap();
    let log = write_log(
        &store,
        "job-1",
        &[(0, block(0)), (1, block(10)), (2, block(20))],
    );
    let mut bytes = fs::read(&log).unwrap();
    let mid = bytes.len() / 2; // inside the second record
    bytes[mid] ^= 0x10;
    fs::write(&log, &bytes).unwrap();
    let tasks = |s: &Store| -> Vec<u32> {
        s.load().unwrap()[0]
            .blocks
            .iter()
            .map(|(t, _)| *t)
            .collect()
    };
    assert_eq!(tasks(&store), vec![0, 2]);
    // Rewritten clean: loading again finds the same two records and no damage.
    let scan_after = fs::read(&log).unwrap();
    assert_eq!(record::scan(&scan_after[8..]).damaged, 0);
    assert_eq!(tasks(&store), vec![0, 2]);
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn old_format_files_are_reported_not_misread() {
    let dir = tmp("old");
    let store = Store::open(&dir).unwrap();
    let job_dir = store.job_dir("job-2");
    fs::create_dir_all(&job_dir).unwrap();
    // The format before checksums: a bare job.pb and length-delimited records.
    fs::write(job_dir.join("job.pb"), meta("job-2").encode_to_vec()).unwrap();
    let rec = v1::StoredBlock {
        task: 0,
        block: Some(block(0)),
    };
    fs::write(
        job_dir.join("results.log"),
        rec.encode_length_delimited_to_vec(),
    )
    .unwrap();
    let jobs = store.load().unwrap();
    assert_eq!(jobs[0].meta, meta("job-2"), "an old job.pb is still read");
    assert!(jobs[0].blocks.is_empty(), "old results are not trusted");
    assert!(job_dir.join("results.log.v0").exists(), "moved aside");
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_job_pb_skips_the_job_without_failing_the_load() {
    let dir = tmp("jobpb");
    let store = Store::open(&dir).unwrap();
    store.put_job(&meta("job-1")).unwrap();
    store.put_job(&meta("job-2")).unwrap();
    let p = store.job_dir("job-1").join("job.pb");
    let mut bytes = fs::read(&p).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    fs::write(&p, bytes).unwrap();
    let jobs = store.load().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].meta.job_id, "job-2");
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_job_number_high_water_mark_survives() {
    let dir = tmp("hwm");
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.last_job_number(), 0);
    store.put_last_job_number(41).unwrap();
    assert_eq!(Store::open(&dir).unwrap().last_job_number(), 41);
    fs::remove_dir_all(&dir).ok();
}
