//! Results per second through the journal (`--data-dir`): one fsync per record (journal batch
//! 1, what every result cost before group commit) against group commit, side by side in one run,
//! interleaved round by round. The farm is `chirpfarm_coordinator::sim` (instant fake workers),
//! so the disk is the only cost measured.
//!
//! ```sh
//! cargo bench -p chirpfarm-coordinator --bench journal -- [DIR] [ROUNDS]
//! ```
//! `DIR` must be on the disk to measure (not a tmpfs, where fsync is free); default
//! `target/journal-bench`.

use chirpfarm_coordinator::sim::{simulate, simulate_durable};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let base = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "target/journal-bench".into()),
    );
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    let (workers, templates, chunk) = (16, 50_000, 10); // 5,000 tasks, one signal
    let mut per_record = Vec::new();
    let mut grouped = Vec::new();
    let mut memory = Vec::new();
    for round in 0..rounds {
        let r = simulate(workers, templates, chunk).expect("in-memory simulation");
        println!(
            "round {round}: no data dir (in memory):  {} results in {:.3} s = {:.0} results/s",
            r.tasks, r.seconds, r.tasks_per_second
        );
        memory.push(r.tasks_per_second);
        for (batch, out) in [(1, &mut per_record), (4096, &mut grouped)] {
            let dir = base.join(format!("round{round}-batch{batch}"));
            let _ = std::fs::remove_dir_all(&dir);
            let r = simulate_durable(workers, templates, chunk, &dir, batch)
                .unwrap_or_else(|e| panic!("simulation over {}: {e}", dir.display()));
            println!(
                "round {round}: journal batch {batch:>4}: {} results in {:.3} s = {:.0} results/s",
                r.tasks, r.seconds, r.tasks_per_second
            );
            out.push(r.tasks_per_second);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (a, b, m) = (
        median(&mut per_record),
        median(&mut grouped),
        median(&mut memory),
    );
    println!("medians of {rounds} interleaved rounds, {workers} fake workers, {} tasks of {chunk} templates:", templates / chunk as u64);
    println!(
        "| one write + fsync per result | group commit | speed-up | no data dir (reference) |"
    );
    println!("|---:|---:|---:|---:|");
    println!(
        "| {a:.0} results/s | {b:.0} results/s | {:.1}× | {m:.0} results/s |",
        b / a
    );
}
