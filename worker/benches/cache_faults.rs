//! What a long-lived worker pays to fill its template cache: page faults and system time
//! (`cargo bench -p chirpfarm-worker --bench cache_faults`; not criterion: the interesting
//! numbers are the process's own counters around each pass).
//!
//! Three scenarios, each in a fresh process: an engine without a cache, one with a 4 GiB cache
//! and one whose cache holds 300 templates filter a 940-template bank (`0.8:1.74:0.001`) against
//! one signal twice (the evicting one: two different banks, so that every insertion evicts).
//! Prints one JSON line per pass.

use chirpfarm_core::{BankSpec, SignalSpec, SnrConvention};
use chirpfarm_worker::engine::{Engine, TEMPLATE_BYTES};
use std::time::Instant;

/// (minor faults, user seconds, system seconds) of this process so far, from
/// `/proc/self/stat` (fields 10, 14 and 15; times in clock ticks, assumed 100 Hz, so the times
/// have a 10 ms resolution). Linux only; elsewhere the numbers are zero.
fn usage() -> (i64, f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0, 0.0, 0.0);
    };
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    (num(10), num(14) as f64 / 100.0, num(15) as f64 / 100.0)
}

fn pass(label: &str, engine: &Engine, masses: &[f64]) {
    let sig = [SignalSpec::chirp(1.2)];
    let (f0, u0, s0) = usage();
    let t0 = Instant::now();
    let r = engine.filter_block(masses, &sig, SnrConvention::Seed);
    let wall = t0.elapsed().as_secs_f64();
    let (f1, u1, s1) = usage();
    assert_eq!(r[0].len(), masses.len());
    println!(
        "{{\"pass\": \"{label}\", \"templates\": {}, \"wall_s\": {wall:.3}, \"user_s\": {:.2}, \"sys_s\": {:.2}, \"minor_faults\": {}, \"cached\": {}, \"generated\": {}}}",
        masses.len(),
        u1 - u0,
        s1 - s0,
        f1 - f0,
        engine.cached_templates(),
        engine.templates_generated()
    );
}

/// Runs one scenario in this process.
fn scenario(name: &str) {
    let bank = BankSpec::parse_range("0.8:1.74:0.001").unwrap();
    let masses = bank.masses(u64::MAX).unwrap();
    let other: Vec<f64> = masses.iter().map(|m| m + 0.0005).collect();
    match name {
        "uncached" => {
            let e = Engine::new(0);
            pass("uncached, first pass", &e, &masses);
            pass("uncached, second pass", &e, &masses);
        }
        "cached" => {
            let e = Engine::new(4096 << 20);
            pass("cached, first pass (fills the cache)", &e, &masses);
            pass("cached, second pass (hits)", &e, &masses);
        }
        "evicting" => {
            let e = Engine::new(300 * TEMPLATE_BYTES);
            pass("300-template cache, bank 1 (fill, then evict)", &e, &masses);
            pass("300-template cache, bank 2 (evict)", &e, &other);
        }
        _ => panic!("unknown scenario {name}"),
    }
}

fn main() {
    // Each scenario runs in a fresh process, so that none reuses memory another one freed.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        return scenario(&args[i + 1]);
    }
    let exe = std::env::current_exe().expect("own path");
    for name in ["uncached", "cached", "evicting"] {
        let status = std::process::Command::new(&exe)
            .args(["--scenario", name])
            .status()
            .expect("run scenario");
        assert!(status.success(), "scenario {name} failed");
    }
}
