//! What a search's figure shows, as plain data: series of points, marked points, labels.
//!
//! Nothing here draws or writes: [`bank`] and [`data`] read a report and say what to plot, so
//! the choices (which template is marked, which axis holds what) are tested without images.
//! Data searches carry no SNR time series (a worker sends per-template peaks and clustered
//! triggers only), so their figure shows exactly those: no curve is interpolated between them.

use crate::data_output::DataReport;
use crate::injections::{Outcome, Status};
use crate::output::Report;
use chirpfarm_core::best_template;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Points joined by a line (one polyline).
    Line,
    /// Filled dots.
    Dots,
    /// Filled triangles.
    Triangles,
}

/// One set of points with its legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend text.
    pub label: String,
    /// How the points are drawn.
    pub style: Style,
    /// (x, y) in axis units; non-finite points are left out when drawn.
    pub points: Vec<(f64, f64)>,
}

/// A single point singled out with a ring and a caption (a best template).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// The caption written beside the ring.
    pub label: String,
    /// Position in axis units.
    pub x: f64,
    /// Position in axis units.
    pub y: f64,
}

/// Everything one figure shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The caption above the plot.
    pub title: String,
    /// The horizontal axis, with its unit.
    pub x_label: String,
    /// The vertical axis, with its unit.
    pub y_label: String,
    /// The x range to show whatever the points (a data search: the whole data span).
    pub x_span: Option<(f64, f64)>,
    /// The series, in legend order.
    pub series: Vec<Series>,
    /// Marked points, drawn over the series.
    pub marks: Vec<Mark>,
}

impl Figure {
    /// The axis ranges: every finite point and mark, padded by 5 % (and by 1 where all values
    /// are equal); y always includes 0, SNR's floor.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .chain(self.marks.iter().map(|m| (m.x, m.y)))
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let (mut x, mut y) = ((f64::INFINITY, f64::NEG_INFINITY), (0.0f64, 0.0f64));
        for (px, py) in pts {
            x = (x.0.min(px), x.1.max(px));
            y = (y.0.min(py), y.1.max(py));
        }
        if let Some(span) = self.x_span.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            x = (x.0.min(span.0), x.1.max(span.1));
        }
        if !x.0.is_finite() {
            x = (0.0, 1.0);
        }
        (pad(x), pad((y.0, y.1 * 1.08)))
    }
}

fn pad((lo, hi): (f64, f64)) -> (f64, f64) {
    if hi > lo {
        let d = (hi - lo) * 0.05;
        (lo - d, hi + d)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

/// A number for a label: four decimals in [0.001, 10^5), scientific notation outside (the
/// seed convention's SNRs are ~10^-9).
pub fn number(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.2e}")
    }
}

/// The most signals named in the legend (beyond it one entry says how many more).
pub const LEGEND_SIGNALS: usize = 10;

/// A bank search: SNR against template chirp mass, one line per signal (templates in
/// chirp-mass order), each signal's best template marked.
pub fn bank(r: &Report) -> Figure {
    let mut order: Vec<usize> = (0..r.masses.len()).collect();
    order.sort_by(|&a, &b| r.masses[a].total_cmp(&r.masses[b]));
    let many = r.signals.len() > LEGEND_SIGNALS;
    let mut series = Vec::new();
    let mut marks = Vec::new();
    for (si, (s, rs)) in r.signals.iter().zip(&r.results).enumerate() {
        let label = if many && si == LEGEND_SIGNALS - 1 {
            format!("… and {} more signals", r.signals.len() - si)
        } else if many && si >= LEGEND_SIGNALS {
            String::new()
        } else {
            format!("signal Mc = {} Msun", s.mc)
        };
        series.push(Series {
            label,
            style: Style::Line,
            points: order
                .iter()
                .filter_map(|&t| Some((r.masses[t], rs.get(t)?.snr)))
                .collect(),
        });
        if let Some(b) = best_template(rs) {
            let label = if many {
                String::new()
            } else {
                format!(
                    "best: Mc = {} Msun, SNR = {}",
                    r.masses[b.template_index],
                    number(b.result.snr)
                )
            };
            marks.push(Mark {
                label,
                x: r.masses[b.template_index],
                y: b.result.snr,
            });
        }
    }
    Figure {
        title: format!(
            "SNR against template chirp mass ({} templates × {} signal{})",
            r.masses.len(),
            r.signals.len(),
            if r.signals.len() == 1 { "" } else { "s" }
        ),
        x_label: "template chirp mass Mc [Msun]".into(),
        y_label: format!("SNR ({} convention, dimensionless)", r.convention.name()),
        // The axis spans the bank, whatever the SNRs (a template without a number still is one).
        x_span: order
            .first()
            .zip(order.last())
            .map(|(&lo, &hi)| (r.masses[lo], r.masses[hi])),
        series,
        marks,
    }
}

/// A data search: the triggers' SNR against time since the data's start, the best template's
/// loudest sample marked, and, when given, the injections at their expected optimal SNR (or on
/// the time axis when the list gives none).
pub fn data(r: &DataReport, injections: Option<&[Outcome]>) -> Figure {
    let d = &r.spec;
    let t = |sample: u64| r.spec.time_of(sample) - d.gps_start;
    let mut series = vec![Series {
        label: format!(
            "triggers (SNR ≥ {}, {} of them)",
            d.snr_threshold,
            r.triggers.len()
        ),
        style: Style::Dots,
        points: r.triggers.iter().map(|g| (t(g.sample), g.snr)).collect(),
    }];
    if let Some(outcomes) = injections {
        let (with, without): (Vec<&Outcome>, Vec<&Outcome>) =
            outcomes.iter().partition(|o| o.row.snr.is_some());
        let found = |v: &[&Outcome]| v.iter().filter(|o| o.status == Status::Found).count();
        if !with.is_empty() {
            series.push(Series {
                label: format!(
                    "injections at expected SNR ({}/{} found)",
                    found(&with),
                    with.len()
                ),
                style: Style::Triangles,
                points: with
                    .iter()
                    .map(|o| (o.row.time - d.gps_start, o.row.snr.unwrap_or(0.0)))
                    .collect(),
            });
        }
        if !without.is_empty() {
            series.push(Series {
                label: format!(
                    "injection times, no SNR listed ({}/{} found)",
                    found(&without),
                    without.len()
                ),
                style: Style::Triangles,
                points: without
                    .iter()
                    .map(|o| (o.row.time - d.gps_start, 0.0))
                    .collect(),
            });
        }
    }
    let best = r.peaks.iter().enumerate().max_by(|(ia, a), (ib, b)| {
        let (ra, rb) = (d.rank.of(a.snr, a.newsnr), d.rank.of(b.snr, b.newsnr));
        ra.total_cmp(&rb).then(ib.cmp(ia))
    });
    let marks = best
        .map(|(i, p)| Mark {
            label: format!(
                "best template {} (Mc = {} Msun): SNR = {} at GPS {:.4}",
                r.bank_index(i as u64),
                r.masses[i],
                number(p.snr),
                r.spec.time_of(p.sample)
            ),
            x: t(p.sample),
            y: p.snr,
        })
        .into_iter()
        .collect();
    let duration = r.meta.samples as f64 / d.sample_rate;
    Figure {
        title: format!(
            "Triggers of {} templates over {:.0} s of data",
            r.masses.len(),
            duration
        ),
        x_label: format!("time since GPS {} [s]", d.gps_start),
        y_label: "SNR |z| (dimensionless)".into(),
        x_span: Some((0.0, duration)),
        series,
        marks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chirpfarm_core::{SignalSpec, SnrConvention, TemplateResult};

    fn report(masses: Vec<f64>, snrs: Vec<Vec<f64>>) -> Report {
        Report {
            convention: SnrConvention::Seed,
            params: None,
            signals: (0..snrs.len())
                .map(|i| SignalSpec {
                    mc: 1.0 + i as f64,
                    delay_seconds: 0.0,
                })
                .collect(),
            results: snrs
                .iter()
                .map(|v| {
                    v.iter()
                        .map(|&snr| TemplateResult {
                            snr,
                            lag_seconds: 0.0,
                        })
                        .collect()
                })
                .collect(),
            masses,
            wall_seconds: 0.0,
            workers: 1,
            job_id: Some("job-1".into()),
        }
    }

    #[test]
    fn a_bank_figure_has_one_line_per_signal_in_mass_order_and_marks_each_best() {
        let r = report(
            vec![1.3, 1.1, 1.2],
            vec![vec![5.0, 7.0, 6.0], vec![9.0, 1.0, 2.0]],
        );
        let f = bank(&r);
        assert_eq!(f.series.len(), 2);
        assert_eq!(f.series[0].points, vec![(1.1, 7.0), (1.2, 6.0), (1.3, 5.0)]);
        assert_eq!(
            f.marks.iter().map(|m| (m.x, m.y)).collect::<Vec<_>>(),
            vec![(1.1, 7.0), (1.3, 9.0)]
        );
        assert!(f.x_label.contains("[Msun]"));
        let ((x0, x1), (y0, y1)) = f.bounds();
        assert!(x0 < 1.1 && x1 > 1.3 && y0 <= 0.0 && y1 > 9.0);
    }

    #[test]
    fn many_signals_share_one_legend_entry() {
        let r = report(vec![1.0, 2.0], vec![vec![1.0, 2.0]; 15]);
        let f = bank(&r);
        let named = f.series.iter().filter(|s| !s.label.is_empty()).count();
        assert_eq!(named, LEGEND_SIGNALS);
        assert!(f.series[LEGEND_SIGNALS - 1].label.contains("6 more"));
    }

    #[test]
    fn bounds_survive_empty_and_flat_figures() {
        let f = bank(&report(vec![], vec![vec![]]));
        let ((x0, x1), (y0, y1)) = f.bounds();
        assert!(x0 < x1 && y0 < y1);
        let f = bank(&report(vec![1.2], vec![vec![f64::NAN]]));
        let ((x0, x1), (y0, y1)) = f.bounds();
        assert!(x0 < 1.2 && x1 > 1.2 && y0 < y1);
    }
}
