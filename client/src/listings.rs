//! What `chirpfarm jobs` and `chirpfarm workers` print: aligned tables whose headers name their
//! units, and `--json` documents (one array of objects, stable field names, absent values
//! omitted rather than null).
//!
//! Sans-IO: everything here turns the coordinator's replies (and the current time) into text,
//! so the formats are tested without a coordinator; the commands fetch and print.

use chirpfarm_proto::v1;
use serde_json::{json, Map, Value};

/// Text from the coordinator made safe for a terminal (no control characters, bounded).
fn esc(text: &str, max_chars: usize) -> String {
    chirpfarm_core::logging::escape(text, max_chars)
}

/// A job state as users read it (`running`, `cancelled`...), never the protobuf name.
pub fn state_name(s: i32) -> &'static str {
    match v1::JobState::try_from(s) {
        Ok(v1::JobState::Queued) => "queued",
        Ok(v1::JobState::Running) => "running",
        Ok(v1::JobState::Succeeded) => "succeeded",
        Ok(v1::JobState::Failed) => "failed",
        Ok(v1::JobState::Cancelled) => "cancelled",
        Ok(v1::JobState::Unspecified) | Err(_) => "unknown",
    }
}

/// A table being laid out: columns as wide as their widest cell, numbers right-aligned.
struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; `right[i]` right-aligns column `i`.
    fn new(header: &[&str], right: &[bool]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    /// The table, one line per row after the header; the last column is never padded.
    fn render(&self) -> String {
        let n = self.header.len();
        let mut width = vec![0usize; n];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let pad = width[i].saturating_sub(cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if i + 1 < n {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 in UTC, to the second
/// (`2026-12-03T18:04:11Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The calendar date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A duration as people say it: `42s`, `5m07s`, `3h12m`, `4d03h`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Templates per second a job has done: over its wall time once finished, since submission
/// while it runs; `None` before any time has passed or any template is done.
fn rate(j: &v1::JobInfo, now_ms: u64) -> Option<f64> {
    let secs = if j.finished_unix_ms > 0 {
        j.wall_seconds
    } else {
        now_ms.saturating_sub(j.submitted_unix_ms) as f64 / 1000.0
    };
    (secs > 0.0 && j.templates_done > 0).then(|| j.templates_done as f64 / secs)
}

/// A rate with three significant figures, however large or small.
fn rate_text(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(r) if r >= 100.0 => format!("{r:.0}"),
        Some(r) if r >= 10.0 => format!("{r:.1}"),
        Some(r) => format!("{r:.2}"),
    }
}

/// The state shown: `paused` while results cannot be stored (it resumes by itself).
fn shown_state(j: &v1::JobInfo) -> &'static str {
    if j.journal_error.is_empty() {
        state_name(j.state)
    } else {
        "paused"
    }
}

/// `chirpfarm jobs` as a table, `now_ms` being the current time (for ages and rates).
pub fn jobs_table(jobs: &[v1::JobInfo], now_ms: u64) -> String {
    let mut t = Table::new(
        &[
            "JOB",
            "NAME",
            "STATE",
            "OWNER",
            "SUBMITTED (UTC)",
            "AGE",
            "DONE/TOTAL (templates)",
            "RATE (templates/s)",
            "SIGNALS",
            "FAILURES",
            "WALL (s)",
            "BANK / ERROR",
        ],
        &[
            false, false, false, false, false, true, true, true, true, true, true, false,
        ],
    );
    for j in jobs {
        let tail = if !j.journal_error.is_empty() {
            format!("journal: {}", j.journal_error)
        } else if !j.error.is_empty() {
            j.error.clone()
        } else {
            j.bank.clone()
        };
        let submitted = rfc3339(j.submitted_unix_ms).replace('T', " ");
        let wall = if j.finished_unix_ms > 0 {
            format!("{:.3}", j.wall_seconds)
        } else {
            "-".into()
        };
        t.rows.push(vec![
            esc(&j.job_id, 40),
            if j.name.is_empty() {
                "-".into()
            } else {
                esc(&j.name, 64)
            },
            shown_state(j).into(),
            if j.owner.is_empty() {
                "-".into()
            } else {
                esc(&j.owner, 80)
            },
            submitted.trim_end_matches('Z').to_string(),
            age(now_ms.saturating_sub(j.submitted_unix_ms) / 1000),
            format!("{}/{}", j.templates_done, j.templates_total),
            rate_text(rate(j, now_ms)),
            j.signals.to_string(),
            j.failures.to_string(),
            wall,
            esc(&tail, 1024),
        ]);
    }
    t.render()
}

/// Sets `key` to `text` unless it is empty (absent fields are omitted, never null).
fn put_text(o: &mut Map<String, Value>, key: &str, text: &str) {
    if !text.is_empty() {
        o.insert(key.into(), json!(text));
    }
}

/// `chirpfarm jobs --json`: an array of job objects (see README for the fields).
pub fn jobs_json(jobs: &[v1::JobInfo], now_ms: u64) -> Value {
    let list = jobs
        .iter()
        .map(|j| {
            let mut o = Map::new();
            o.insert("job_id".into(), json!(j.job_id));
            put_text(&mut o, "name", &j.name);
            o.insert("state".into(), json!(state_name(j.state)));
            o.insert("paused".into(), json!(!j.journal_error.is_empty()));
            put_text(&mut o, "owner", &j.owner);
            o.insert("submitted".into(), json!(rfc3339(j.submitted_unix_ms)));
            o.insert("submitted_unix_ms".into(), json!(j.submitted_unix_ms));
            if j.finished_unix_ms > 0 {
                o.insert("finished".into(), json!(rfc3339(j.finished_unix_ms)));
                o.insert("finished_unix_ms".into(), json!(j.finished_unix_ms));
                o.insert("wall_seconds".into(), json!(j.wall_seconds));
            }
            o.insert("templates_done".into(), json!(j.templates_done));
            o.insert("templates_total".into(), json!(j.templates_total));
            o.insert("tasks_done".into(), json!(j.tasks_done));
            o.insert("tasks_total".into(), json!(j.tasks_total));
            o.insert("signals".into(), json!(j.signals));
            o.insert("attempts".into(), json!(j.attempts));
            o.insert("failures".into(), json!(j.failures));
            if let Some(r) = rate(j, now_ms) {
                o.insert("templates_per_second".into(), json!(r));
            }
            put_text(&mut o, "bank", &j.bank);
            put_text(&mut o, "error", &j.error);
            put_text(&mut o, "journal_error", &j.journal_error);
            Value::Object(o)
        })
        .collect();
    Value::Array(list)
}

/// `chirpfarm workers` as a table.
pub fn workers_table(workers: &[v1::WorkerInfo]) -> String {
    let mut t = Table::new(
        &[
            "ID",
            "NAME",
            "HOST",
            "THREADS",
            "TASKS DONE",
            "LEASED (tasks)",
            "CACHED (templates)",
            "HEARTBEAT (s ago)",
            "VERSION",
        ],
        &[false, false, false, true, true, true, true, true, false],
    );
    for w in workers {
        t.rows.push(vec![
            esc(&w.worker_id, 24),
            esc(&w.name, 64),
            esc(&w.host, 64),
            w.threads.to_string(),
            w.tasks_done.to_string(),
            w.leased.to_string(),
            w.templates_cached.to_string(),
            format!("{:.1}", w.last_heartbeat_ms_ago as f64 / 1000.0),
            esc(&w.build_version, 32),
        ]);
    }
    t.render()
}

/// `chirpfarm workers --json`: an array of worker objects.
pub fn workers_json(workers: &[v1::WorkerInfo]) -> Value {
    let list = workers
        .iter()
        .map(|w| {
            let mut o = Map::new();
            o.insert("worker_id".into(), json!(w.worker_id));
            o.insert("name".into(), json!(w.name));
            o.insert("host".into(), json!(w.host));
            o.insert("threads".into(), json!(w.threads));
            o.insert("tasks_done".into(), json!(w.tasks_done));
            o.insert("leased_tasks".into(), json!(w.leased));
            o.insert("cached_templates".into(), json!(w.templates_cached));
            o.insert(
                "last_heartbeat_seconds_ago".into(),
                json!(w.last_heartbeat_ms_ago as f64 / 1000.0),
            );
            put_text(&mut o, "build_version", &w.build_version);
            Value::Object(o)
        })
        .collect();
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc_and_ages_read_naturally() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_320_451_999), "2026-12-03T17:54:11Z");
        assert_eq!(age(42), "42s");
        assert_eq!(age(307), "5m07s");
        assert_eq!(age(3 * 3600 + 12 * 60 + 5), "3h12m");
        assert_eq!(age(4 * 86_400 + 3 * 3600), "4d03h");
    }

    fn job(name: &str, state: v1::JobState) -> v1::JobInfo {
        v1::JobInfo {
            job_id: "job-12".into(),
            name: name.into(),
            state: state as i32,
            owner: "alice@127.0.0.1".into(),
            submitted_unix_ms: 1_000_000,
            templates_done: 50,
            templates_total: 94,
            bank: "0.8:1.74:0.01".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_jobs_table_aligns_its_columns_and_names_its_units() {
        let jobs = [
            job("a much longer label", v1::JobState::Running),
            job("", v1::JobState::Cancelled),
        ];
        let text = jobs_table(&jobs, 1_010_000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].contains("DONE/TOTAL (templates)") && lines[0].contains("RATE (templates/s)")
        );
        // Every row's STATE column starts where the header's does.
        let col = lines[0].find("STATE").unwrap();
        assert!(lines[1][col..].starts_with("running"), "{text}");
        assert!(lines[2][col..].starts_with("cancelled"), "{text}");
        assert!(
            lines[1].contains("10s") && lines[1].contains("5.00"),
            "{text}"
        );
    }

    #[test]
    fn json_omits_absent_fields_and_has_no_null() {
        let v = jobs_json(&[job("", v1::JobState::Running)], 11_000);
        let o = v[0].as_object().unwrap();
        assert!(!o.contains_key("name") && !o.contains_key("error") && !o.contains_key("finished"));
        assert_eq!(o["submitted"], "1970-01-01T00:16:40Z");
        assert_eq!(o["state"], "running");
        assert!(!v.to_string().contains("null"));
        let w = workers_json(&[v1::WorkerInfo {
            worker_id: "w-1".into(),
            last_heartbeat_ms_ago: 1500,
            ..Default::default()
        }]);
        assert_eq!(w[0]["last_heartbeat_seconds_ago"], 1.5);
        assert!(!w.to_string().contains("null"));
    }
}
