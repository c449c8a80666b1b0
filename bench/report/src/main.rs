//! `chirpfarm-bench-report`: turns a results file written by `bench/harness.py`
//! (`bench/results/<date>.json`) into two PNG plots and the generated block of
//! `bench/RESULTS.md`.
//!
//! ```text
//! chirpfarm-bench-report [RESULTS_JSON] [--results-md FILE] [--out-dir DIR] [--font TTF]
//!                        [--no-text] [--force]
//! ```
//!
//! Without RESULTS_JSON the newest `*.json` of `bench/results/` is used. The plots go to the
//! JSON's folder (`<stem>-scale.png`, `<stem>-per-template.png`), RESULTS.md defaults to the
//! folder above it. Only the part of RESULTS.md between the `BEGIN GENERATED` and
//! `END GENERATED` markers is rewritten; everything else in the file is kept. The results of a
//! `--quick` run do not replace a block that shows a full run unless `--force` is given.

mod markdown;
mod plots;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    json: Option<PathBuf>,
    results_md: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    font: Option<PathBuf>,
    no_text: bool,
    force: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options> {
    let mut o = Options::default();
    let mut it = args;
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(PathBuf::from)
                .with_context(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--results-md" => o.results_md = Some(value("--results-md")?),
            "--out-dir" => o.out_dir = Some(value("--out-dir")?),
            "--font" => o.font = Some(value("--font")?),
            "--no-text" => o.no_text = true,
            "--force" => o.force = true,
            "-h" | "--help" => {
                println!(
                    "usage: chirpfarm-bench-report [RESULTS_JSON] [--results-md FILE] \
                     [--out-dir DIR] [--font TTF] [--no-text] [--force]"
                );
                std::process::exit(0);
            }
            s if s.starts_with('-') => bail!("unknown option {s}"),
            s => {
                if o.json.is_some() {
                    bail!("only one results file, got a second: {s}");
                }
                o.json = Some(PathBuf::from(s));
            }
        }
    }
    Ok(o)
}

/// The newest `*.json` file of `dir` (by modification time).
fn newest_json(dir: &Path) -> Result<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.extension().and_then(|x| x.to_str()) != Some("json") || name.starts_with('.') {
            continue;
        }
        let t = std::fs::metadata(&p)?.modified()?;
        if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
            best = Some((t, p));
        }
    }
    best.map(|(_, p)| p)
        .with_context(|| format!("no results JSON in {}", dir.display()))
}

fn main() -> Result<()> {
    let o = parse_args(std::env::args().skip(1))?;
    let json_path = match o.json {
        Some(p) => p,
        None => newest_json(Path::new("bench/results"))?,
    };
    let text = std::fs::read_to_string(&json_path)
        .with_context(|| format!("reading {}", json_path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", json_path.display()))?;
    let json_dir = json_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let out_dir = o.out_dir.unwrap_or_else(|| json_dir.clone());
    let results_md = o.results_md.unwrap_or_else(|| {
        json_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("RESULTS.md")
    });
    let stem = doc["stem"]
        .as_str()
        .or_else(|| json_path.file_stem().and_then(|s| s.to_str()))
        .unwrap_or("results")
        .to_string();

    let font = if o.no_text {
        None
    } else {
        plots::load_font(o.font.as_deref())
    };
    match &font {
        Some(p) => eprintln!("plots: text in {}", p.display()),
        None => eprintln!(
            "plots: no TrueType font found (install fonts-dejavu-core or pass --font); \
             drawing without text"
        ),
    }
    let text_ok = font.is_some();
    std::fs::create_dir_all(&out_dir)?;
    let scale_png = out_dir.join(format!("{stem}-scale.png"));
    let per_png = out_dir.join(format!("{stem}-per-template.png"));
    let mut images = markdown::Images::default();
    if plots::scale(&doc, &scale_png, text_ok)? {
        images.scale = Some(scale_png.clone());
        eprintln!("wrote {}", scale_png.display());
    }
    if plots::per_template(&doc, &per_png, text_ok)? {
        images.per_template = Some(per_png.clone());
        eprintln!("wrote {}", per_png.display());
    }
    let md_dir = results_md
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let rel = |p: &Path| relative_to(p, &md_dir);
    let block = markdown::render(
        &doc,
        &rel(&json_path),
        images.scale.as_deref().map(rel),
        images.per_template.as_deref().map(rel),
        text_ok,
    );
    let existing = std::fs::read_to_string(&results_md).ok();
    if !o.force
        && doc["mode"].as_str() == Some("quick")
        && existing.as_deref().is_some_and(markdown::shows_full_run)
    {
        eprintln!(
            "{} shows a full run: a --quick run does not replace it (plots written; pass \
             --force to replace it anyway)",
            results_md.display()
        );
        return Ok(());
    }
    let new = markdown::splice(existing.as_deref(), &block);
    std::fs::write(&results_md, new)
        .with_context(|| format!("writing {}", results_md.display()))?;
    eprintln!(
        "regenerated the generated block of {}",
        results_md.display()
    );
    Ok(())
}

/// `p` relative to `base` when `p` lies below it (as a '/'-separated string), else `p` as is.
fn relative_to(p: &Path, base: &Path) -> String {
    let abs = |x: &Path| std::fs::canonicalize(x).unwrap_or_else(|_| x.to_path_buf());
    let (pa, ba) = (abs(p), abs(base));
    match pa.strip_prefix(&ba) {
        Ok(r) => r
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => p.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        let o = parse_args(
            ["r.json", "--results-md", "X.md", "--font", "f.ttf"]
                .iter()
                .map(|s| s.to_string()),
        )
        .unwrap();
        assert_eq!(o.json.unwrap(), PathBuf::from("r.json"));
        assert_eq!(o.results_md.unwrap(), PathBuf::from("X.md"));
        assert_eq!(o.font.unwrap(), PathBuf::from("f.ttf"));
        assert!(parse_args(["--bogus".to_string()].into_iter()).is_err());
        assert!(parse_args(["--out-dir".to_string()].into_iter()).is_err());
    }

    #[test]
    fn relative_paths() {
        let d = std::env::temp_dir().join(format!("cbr-rel-{}", std::process::id()));
        std::fs::create_dir_all(d.join("results")).unwrap();
        std::fs::write(d.join("results/a.png"), b"x").unwrap();
        assert_eq!(relative_to(&d.join("results/a.png"), &d), "results/a.png");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
