//! The two PNG plots, drawn with plotters' bitmap backend. Text needs a TrueType font
//! (plotters' `ab_glyph` feature, no fontconfig/freetype): [`load_font`] finds one on this
//! machine; without one the plots are drawn without any text and the captions in RESULTS.md
//! describe the axes.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where Debian/Ubuntu, Fedora and Arch put DejaVu Sans (`fonts-dejavu-core`).
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

const FONT: &str = "sans-serif";

/// Finds a TrueType font (`explicit`, then `$CHIRPFARM_BENCH_FONT`, then the usual DejaVu Sans
/// paths, then `fc-match sans-serif`) and registers it with plotters; the path of the font
/// registered, or None when none could be loaded.
pub fn load_font(explicit: Option<&Path>) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(explicit.map(Path::to_path_buf));
    candidates.extend(std::env::var_os("CHIRPFARM_BENCH_FONT").map(PathBuf::from));
    candidates.extend(FONT_CANDIDATES.iter().map(PathBuf::from));
    if let Ok(out) = std::process::Command::new("fc-match")
        .args(["-f", "%{file}", "sans-serif"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if p.ends_with(".ttf") || p.ends_with(".otf") {
            candidates.push(PathBuf::from(p));
        }
    }
    for c in candidates {
        let Ok(bytes) = std::fs::read(&c) else {
            continue;
        };
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
            let _ = plotters::style::register_font(FONT, FontStyle::Bold, bytes);
            return Some(c);
        }
    }
    None
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

/// Seconds as a short label.
pub fn fmt_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.1} s")
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Job time against bank size (log-log), every sample, the medians and the linear fit.
/// Returns false when the results hold no scale data.
pub fn scale(doc: &Value, path: &Path, text: bool) -> Result<bool> {
    let Some(points) = doc["plots"]["scale"]["points"].as_array() else {
        return Ok(false);
    };
    let pts: Vec<(f64, Vec<f64>, f64)> = points
        .iter()
        .filter_map(|p| {
            Some((
                p["templates"].as_f64()?,
                floats(&p["samples_seconds"]),
                p["median_seconds"].as_f64()?,
            ))
        })
        .filter(|(n, _, m)| *n > 0.0 && *m > 0.0)
        .collect();
    if pts.len() < 2 {
        return Ok(false);
    }
    let fit = &doc["plots"]["scale"]["fit"];
    let (a, b) = (
        fit["intercept"].as_f64().unwrap_or(0.0),
        fit["slope"].as_f64().unwrap_or(0.0),
    );
    let r2 = fit["r2"].as_f64().unwrap_or(f64::NAN);
    let nmin = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let nmax = pts.iter().map(|p| p.0).fold(0.0, f64::max);
    let (xmin, xmax) = (nmin / 1.6, nmax * 1.6);
    let all_y = pts
        .iter()
        .flat_map(|p| p.1.iter().copied().chain([p.2]))
        .filter(|y| *y > 0.0);
    let (ylo, yhi) = all_y.fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let (ymin, ymax) = (ylo / 2.0, yhi * 2.0);

    let root = BitMapBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut cb = ChartBuilder::on(&root);
    cb.margin(24);
    if text {
        cb.caption(
            "chirpfarm search (embedded cluster): job time vs bank size",
            (FONT, 26),
        )
        .x_label_area_size(56)
        .y_label_area_size(80);
    } else {
        cb.x_label_area_size(10).y_label_area_size(10);
    }
    let mut chart = cb
        .build_cartesian_2d((xmin..xmax).log_scale(), (ymin..ymax).log_scale())
        .map_err(err)?;
    let xfmt = |x: &f64| format!("{x:.0}");
    let yfmt = |y: &f64| fmt_secs(*y);
    if text {
        chart
            .configure_mesh()
            .x_desc("templates in the bank (log scale)")
            .y_desc("job time, stats.wall_seconds (log scale)")
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .y_labels(8)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(err)?;
    } else {
        // plotters' mesh needs a font even without labels: a frame and grid lines at the
        // powers of ten instead
        let decades = |lo: f64, hi: f64| {
            (lo.log10().ceil() as i32..=hi.log10().floor() as i32).map(|e| 10f64.powi(e))
        };
        let g = RGBColor(200, 200, 200);
        let mut lines: Vec<PathElement<(f64, f64)>> = decades(xmin, xmax)
            .map(|x| PathElement::new(vec![(x, ymin), (x, ymax)], g))
            .collect();
        lines.extend(decades(ymin, ymax).map(|y| PathElement::new(vec![(xmin, y), (xmax, y)], g)));
        lines.push(PathElement::new(
            vec![
                (xmin, ymin),
                (xmax, ymin),
                (xmax, ymax),
                (xmin, ymax),
                (xmin, ymin),
            ],
            BLACK,
        ));
        chart.draw_series(lines).map_err(err)?;
    }

    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(
            pts.iter()
                .flat_map(|p| p.1.iter().map(move |y| (p.0, *y)))
                .map(|(x, y)| Circle::new((x, y), 3, grey.filled())),
        )
        .map_err(err)?;
    let fit_line: Vec<(f64, f64)> = (0..=200)
        .map(|i| xmin * (xmax / xmin).powf(i as f64 / 200.0))
        .map(|x| (x, a + b * x))
        .filter(|(_, y)| *y > ymin && *y < ymax)
        .collect();
    let red = RGBColor(200, 40, 40);
    let s = chart
        .draw_series(LineSeries::new(fit_line, red.stroke_width(2)))
        .map_err(err)?;
    if text {
        s.label(format!(
            "least squares t = a + b·N: a = {}, b = {:.3} ms/template, R² = {:.5}",
            fmt_secs(a),
            b * 1e3,
            r2
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    }
    // t ∝ N through the largest bank: points above it cost more per template than that bank
    let (n_big, t_big) =
        pts.iter()
            .map(|p| (p.0, p.2))
            .fold((0.0, 0.0), |acc, p| if p.0 > acc.0 { p } else { acc });
    let per = t_big / n_big;
    let (x0, x1) = (xmin.max(ymin / per), xmax.min(ymax / per));
    let prop = vec![(x0, per * x0), (x1, per * x1)];
    let green = RGBColor(40, 150, 80);
    let s = chart
        .draw_series(DashedLineSeries::new(prop, 10, 6, green.stroke_width(2)))
        .map_err(err)?;
    if text {
        s.label(format!(
            "t ∝ N through the largest bank ({} per template)",
            fmt_secs(t_big / n_big)
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], green.stroke_width(2)));
    }
    let blue = RGBColor(30, 90, 200);
    let s = chart
        .draw_series(
            pts.iter()
                .map(|p| Circle::new((p.0, p.2), 7, blue.filled())),
        )
        .map_err(err)?;
    if text {
        s.label("median of the rounds")
            .legend(move |(x, y)| Circle::new((x + 10, y), 6, blue.filled()));
        chart
            .draw_series(pts.iter().map(|p| {
                // right of the point, or left of it for the largest bank (room in the chart)
                let x = if p.0 >= nmax { p.0 / 3.2 } else { p.0 * 1.12 };
                Text::new(
                    format!("{:.0}: {}", p.0, fmt_secs(p.2)),
                    (x, p.2 / 1.35),
                    (FONT, 17),
                )
            }))
            .map_err(err)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 16))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(true)
}

/// One entry of the per-template plot.
struct Bar {
    label: String,
    median: Option<f64>,
    samples: Vec<f64>,
}

/// Per-template time by implementation: bars at the median, whiskers over min–max.
pub fn per_template(doc: &Value, path: &Path, text: bool) -> Result<bool> {
    let Some(items) = doc["plots"]["per_template"].as_array() else {
        return Ok(false);
    };
    let bars: Vec<Bar> = items
        .iter()
        .map(|it| Bar {
            label: it["label"].as_str().unwrap_or("?").to_string(),
            median: it["median_seconds"].as_f64().map(|s| s * 1e6),
            samples: floats(&it["samples_seconds"])
                .into_iter()
                .map(|s| s * 1e6)
                .collect(),
        })
        .collect();
    if bars.iter().all(|b| b.median.is_none()) {
        return Ok(false);
    }
    let reference = bars
        .iter()
        .find(|b| b.label == "chirpfarm")
        .and_then(|b| b.median);
    let top = bars
        .iter()
        .flat_map(|b| b.samples.iter().copied().chain(b.median))
        .fold(0.0f64, f64::max)
        * 1.25;
    let n = bars.len();

    let root = BitMapBackend::new(path, (1080, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut cb = ChartBuilder::on(&root);
    cb.margin(24);
    if text {
        cb.caption(
            "One template: multiply + inverse real FFT (n = 2^17) + max, f64, one core",
            (FONT, 24),
        )
        .x_label_area_size(56)
        .y_label_area_size(80);
    } else {
        cb.x_label_area_size(10).y_label_area_size(10);
    }
    let mut chart = cb
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)
        .map_err(err)?;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let xfmt = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    let yfmt = |y: &f64| format!("{y:.0}");
    if text {
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .y_desc("per-template time [µs]")
            .x_desc("implementation")
            .label_style((FONT, 17))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(err)?;
    } else {
        // no font: a frame and a grid line every 500 µs instead of the mesh
        let (x0, x1) = (-0.5, n as f64 - 0.5);
        let g = RGBColor(200, 200, 200);
        let mut lines: Vec<PathElement<(f64, f64)>> = (1..)
            .map(|k| k as f64 * 500.0)
            .take_while(|y| *y < top)
            .map(|y| PathElement::new(vec![(x0, y), (x1, y)], g))
            .collect();
        lines.push(PathElement::new(
            vec![(x0, 0.0), (x1, 0.0), (x1, top), (x0, top), (x0, 0.0)],
            BLACK,
        ));
        chart.draw_series(lines).map_err(err)?;
    }

    let colours = [
        RGBColor(217, 95, 2),
        RGBColor(30, 90, 200),
        RGBColor(27, 158, 119),
        RGBColor(117, 112, 179),
    ];
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64;
        let c = colours[i % colours.len()];
        match b.median {
            Some(m) => {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.3, 0.0), (x + 0.3, m)],
                        c.filled(),
                    )))
                    .map_err(err)?;
                if let (Some(lo), Some(hi)) = (
                    b.samples.iter().copied().reduce(f64::min),
                    b.samples.iter().copied().reduce(f64::max),
                ) {
                    let k = BLACK.stroke_width(2);
                    chart
                        .draw_series([
                            PathElement::new(vec![(x, lo), (x, hi)], k),
                            PathElement::new(vec![(x - 0.06, lo), (x + 0.06, lo)], k),
                            PathElement::new(vec![(x - 0.06, hi), (x + 0.06, hi)], k),
                        ])
                        .map_err(err)?;
                }
                if text {
                    let hi = b.samples.iter().copied().fold(m, f64::max);
                    let mut lines = vec![format!("{m:.0} µs")];
                    lines.extend(reference.map(|r| format!("{:.3}× chirpfarm", m / r)));
                    chart
                        .draw_series(lines.into_iter().enumerate().map(|(k, l)| {
                            Text::new(
                                l,
                                (x - 0.3, hi + top * (0.11 - 0.045 * k as f64)),
                                (FONT, 16),
                            )
                        }))
                        .map_err(err)?;
                }
            }
            None if text => {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "skipped".to_string(),
                        (x - 0.12, top * 0.06),
                        (FONT, 17),
                    )))
                    .map_err(err)?;
            }
            None => {}
        }
    }
    root.present().map_err(err)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Only the no-text path is tested here: registering a font is process-wide.
    #[test]
    fn draws_without_text() {
        let dir = std::env::temp_dir().join(format!("cbr-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let doc = json!({"plots": {
            "scale": {"points": [
                {"templates": 94, "samples_seconds": [0.06, 0.07], "median_seconds": 0.065},
                {"templates": 940, "samples_seconds": [0.5], "median_seconds": 0.5},
                {"templates": 9400, "samples_seconds": [3.4, 3.5], "median_seconds": 3.45}],
                "fit": {"intercept": 0.03, "slope": 0.00036, "r2": 0.9999}},
            "per_template": [
                {"label": "chirpfarm", "median_seconds": 3.6e-4, "samples_seconds": [3.6e-4, 3.7e-4]},
                {"label": "numpy", "median_seconds": 2.6e-3, "samples_seconds": [2.6e-3]},
                {"label": "pyfftw", "median_seconds": null, "samples_seconds": []}]}});
        let a = dir.join("s.png");
        let b = dir.join("p.png");
        assert!(scale(&doc, &a, false).unwrap());
        assert!(per_template(&doc, &b, false).unwrap());
        for p in [&a, &b] {
            let bytes = std::fs::read(p).unwrap();
            assert_eq!(&bytes[1..4], b"PNG");
        }
        assert!(!scale(&json!({}), &a, false).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn seconds_labels() {
        assert_eq!(fmt_secs(3.6e-4), "360 µs");
        assert_eq!(fmt_secs(0.065), "65 ms");
        assert_eq!(fmt_secs(3.45), "3.5 s");
    }
}
