//! `--plot FILE.png|FILE.svg`: a finished search drawn as a figure, after the results are
//! printed.
//!
//! What is drawn is decided here and in [`figure`] from the report alone (no I/O: a
//! [`figure::Figure`] is plain data, tested without files); [`render`] turns a figure into
//! pixels or SVG with plotters, its text set in the bundled DejaVu Sans (no system fonts).

mod figure;
mod render;

use crate::data_output::DataReport;
use crate::error::CliError;
use crate::injections::WithInjections;
use crate::output::Report;
use figure::Figure;
use std::path::{Path, PathBuf};

/// The two file formats a figure can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    /// A 1200 × 750 RGB PNG.
    Png,
    /// An SVG document of the same size (text as `<text>`, lines as `<polyline>`).
    Svg,
}

/// Where `--plot` writes and in which format: parsed from the flag, so a bad extension is
/// refused (exit 2) before any search runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotTarget {
    /// The file to write.
    pub path: PathBuf,
    /// Its format, from the extension.
    pub format: PlotFormat,
}

impl PlotTarget {
    /// Parses `--plot`: the format follows the extension (`.png` or `.svg`, any case).
    pub fn parse(arg: &str) -> Result<PlotTarget, String> {
        let path = PathBuf::from(arg);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("png") => PlotFormat::Png,
            Some("svg") => PlotFormat::Svg,
            Some(other) => {
                return Err(format!(
                    "the plot format follows the file's extension, .png or .svg, not .{other}"
                ))
            }
            None => {
                return Err(
                    "the plot file needs an extension, .png or .svg, to choose its format".into(),
                )
            }
        };
        Ok(PlotTarget { path, format })
    }
}

/// A finished search that can be drawn.
pub trait Plot {
    /// The figure of this report.
    fn figure(&self) -> Figure;
}

impl Plot for Report {
    fn figure(&self) -> Figure {
        figure::bank(self)
    }
}

impl Plot for crate::partial::PartialReport {
    fn figure(&self) -> Figure {
        figure::bank(&self.report)
    }
}

impl Plot for DataReport {
    fn figure(&self) -> Figure {
        figure::data(self, None)
    }
}

impl Plot for crate::partial_data::PartialDataReport {
    /// The figure of what arrived (with the injections, when given).
    fn figure(&self) -> Figure {
        match &self.injections {
            Some((rows, window)) => WithInjections::new(&self.report, rows, *window).figure(),
            None => self.report.figure(),
        }
    }
}

impl Plot for WithInjections<'_> {
    fn figure(&self) -> Figure {
        figure::data(self.report, Some(&self.outcomes))
    }
}

/// Draws `report` to `target`. A file that cannot be written is a failure (exit 1) naming it.
pub fn write(report: &impl Plot, target: &PlotTarget) -> Result<(), CliError> {
    let fig = report.figure();
    if let Some(dir) = target.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(CliError::Failed(format!(
                "cannot write the plot {}: no directory {}",
                show(&target.path),
                show(dir)
            )));
        }
    }
    render::to_file(&fig, &target.path, target.format)
        .map_err(|e| CliError::Failed(format!("cannot write the plot {}: {e}", show(&target.path))))
}

fn show(path: &Path) -> String {
    chirpfarm_core::logging::escape(&path.display().to_string(), 512)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_extension() {
        assert_eq!(
            PlotTarget::parse("a/b.png").unwrap().format,
            PlotFormat::Png
        );
        assert_eq!(PlotTarget::parse("b.SVG").unwrap().format, PlotFormat::Svg);
        let e = PlotTarget::parse("b.jpg").unwrap_err();
        assert!(e.contains(".jpg"), "{e}");
        assert!(PlotTarget::parse("plot").unwrap_err().contains("extension"));
    }
}
