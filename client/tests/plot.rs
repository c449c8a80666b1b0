//! `--plot FILE.png|FILE.svg`: real searches drawn to real files, decoded and inspected.
//!
//! PNGs are decoded with the `png` crate (signature, IHDR size, and pixels of the first
//! series' colour); SVGs are read as text (axis labels, one `<polyline>` per signal, one dot per
//! trigger). Searches run on the embedded cluster with one thread, or on a coordinator and a
//! worker on 127.0.0.1 for `watch`.

mod common;
use common::{chirpfarm, coordinator, json, wait_workers, worker};
use std::path::{Path, PathBuf};

/// The first series' colour (matplotlib's tab:blue), as client/src/plot/render.rs draws it.
const BLUE: [u8; 3] = [31, 119, 180];

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("chirpfarm-plot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Decodes a PNG: (width, height, RGB pixels), after checking the signature and IHDR by hand.
fn decode_png(path: &str) -> (u32, u32, Vec<[u8; 3]>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h));
    let step = info.color_type.samples();
    assert!(step >= 3, "an RGB image, got {:?}", info.color_type);
    let px = buf[..info.buffer_size()]
        .chunks(step)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (w, h, px)
}

fn run_ok(args: &[&str]) -> std::process::Output {
    let out = chirpfarm(args);
    assert!(
        out.status.success(),
        "chirpfarm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_bank_search_draws_a_png_with_its_line_after_the_results() {
    let dir = TempDir::new("png");
    let png = dir.file("seed.png");
    let out = run_ok(&[
        "search",
        "--signal-mc",
        "1.2",
        "--threads",
        "1",
        "--quiet",
        "--json",
        "--plot",
        &png,
    ]);
    // The results on stdout are unchanged by --plot.
    let v = json(&out);
    assert_eq!(v["signals"][0]["snr"].as_array().unwrap().len(), 94);
    let (w, h, px) = decode_png(&png);
    assert_eq!((w, h), (1200, 750));
    assert_eq!(px.len(), (w * h) as usize);
    let blue = px.iter().filter(|p| **p == BLUE).count();
    let white = px.iter().filter(|p| **p == [255, 255, 255]).count();
    assert!(blue > 500, "only {blue} pixels of the line's colour");
    assert!(white > px.len() / 2, "a white background");
    assert!(
        blue + white < px.len(),
        "text and axes are drawn besides the line"
    );
}

/// The text of an SVG file, checked to be one well-formed-looking `<svg>` document.
fn read_svg(path: &str) -> String {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.contains("<svg"), "an SVG document");
    assert!(
        svg.trim_end().ends_with("</svg>"),
        "a complete SVG document"
    );
    assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    svg
}

#[test]
fn a_bank_search_draws_an_svg_with_one_polyline_per_signal_and_labelled_axes() {
    let dir = TempDir::new("svg");
    let svg = dir.file("two.svg");
    run_ok(&[
        "search",
        "--bank",
        "0.8:1.74:0.02",
        "--signal-mc",
        "1.0,1.5",
        "--threads",
        "1",
        "--quiet",
        "--plot",
        &svg,
    ]);
    let text = read_svg(&svg);
    // Axes and ticks are 1-pixel black polylines; the signals' lines are 2 pixels wide.
    let lines: Vec<&str> = text
        .split("<polyline")
        .skip(1)
        .filter(|e| e.contains("stroke-width=\"2\""))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("#1F77B4") && lines[1].contains("#FF7F0E"));
    for label in [
        "template chirp mass Mc [Msun]",
        "SNR (seed convention, dimensionless)",
        "signal Mc = 1 Msun",
        "signal Mc = 1.5 Msun",
        "SNR against template chirp mass (47 templates × 2 signals)",
    ] {
        assert!(text.contains(label), "no {label:?} in the SVG");
    }
}

#[test]
fn a_plot_file_without_png_or_svg_is_refused_before_searching() {
    let dir = TempDir::new("bad");
    for name in ["plot.jpg", "plot"] {
        let path = dir.file(name);
        let out = chirpfarm(&["search", "--signal-mc", "1.2", "--plot", &path]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(".png or .svg"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "no search ran");
        assert!(!Path::new(&path).exists());
    }
}

#[test]
fn an_unwritable_plot_file_fails_after_printing_the_results() {
    let dir = TempDir::new("unwritable");
    let path = dir.file("no/such/dir/plot.png");
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--threads",
        "1",
        "--quiet",
        "--json",
        "--plot",
        &path,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write the plot"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // The results were printed first.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signals"][0]["snr"].as_array().unwrap().len(), 94);
}

#[test]
fn a_data_search_draws_its_triggers_the_injection_and_the_best_peak() {
    let dir = TempDir::new("data");
    let data = dir.file("sim.hdf5");
    run_ok(&[
        "simulate",
        "--duration",
        "64",
        "--sample-rate",
        "1024",
        "--f-low",
        "60",
        "--seed",
        "3",
        "--inject",
        "mass1=1.4,mass2=1.3,snr=15,time=1000000040",
        "-q",
        "-o",
        &data,
    ]);
    let svg = dir.file("data.svg");
    let out = run_ok(&[
        "search",
        "--data",
        &data,
        "--bank",
        "1.1:1.3:0.05",
        "--psd",
        "aligo",
        "--f-low",
        "60",
        "--segment-length",
        "32",
        "--segment-pad",
        "4",
        "--injections",
        &format!("{data}.injections.csv"),
        "--threads",
        "1",
        "--quiet",
        "--json",
        "--plot",
        &svg,
    ]);
    let v = json(&out);
    let triggers = v["triggers"].as_array().unwrap().len();
    assert!(triggers >= 1, "the injection makes triggers");
    let text = read_svg(&svg);
    // One dot per trigger, plus the ring marking the best template's peak.
    assert_eq!(text.matches("<circle").count(), triggers + 1, "{text}");
    assert!(text.contains("time since GPS 1000000000 [s]"));
    assert!(text.contains("SNR |z| (dimensionless)"));
    assert!(text.contains("injections at expected SNR ("), "{text}");
    assert!(text.contains("best template"), "{text}");
    assert!(text.contains("<polygon"), "the injection's triangle");
}

#[test]
fn watch_draws_the_plot_of_a_submitted_job() {
    let (_coord, url) = coordinator(&[]);
    let _w = worker(&url, "plot-w", 1, &[]);
    wait_workers(&url, 1);
    let out = run_ok(&["submit", "--coordinator", &url, "--signal-mc", "1.2"]);
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = TempDir::new("watch");
    let png = dir.file("watched.png");
    let out = run_ok(&[
        "watch",
        &job,
        "--coordinator",
        &url,
        "--quiet",
        "--plot",
        &png,
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&job));
    let (w, h, px) = decode_png(&png);
    assert_eq!((w, h), (1200, 750));
    assert!(px.iter().filter(|p| **p == BLUE).count() > 500);
}
