//! Draws a [`Figure`] with plotters to a PNG or SVG file.
//!
//! Text is set in DejaVu Sans, embedded in the binary and registered once with plotters'
//! ab_glyph backend, so a figure looks the same on every machine and needs no fontconfig.
//! Legend swatches are rectangles, so an SVG holds exactly one `<polyline>` per line series.

use super::figure::{number, Figure, Style};
use super::PlotFormat;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans 2.37 (Bitstream Vera licence: client/assets/fonts/LICENSE-DejaVuSans.txt).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name the figures ask plotters for.
const FAMILY: &str = "sans-serif";

/// Figure size in pixels (SVG user units).
pub const SIZE: (u32, u32) = (1200, 750);

/// Series colours, in order (matplotlib's "tab10").
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Registers the bundled font (once per process).
fn register_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the bundled font cannot be read".to_string())
    })
    .clone()
}

/// Writes `fig` to `path` as `format`.
pub fn to_file(fig: &Figure, path: &Path, format: PlotFormat) -> Result<(), String> {
    register_font()?;
    match format {
        PlotFormat::Png => draw(BitMapBackend::new(path, SIZE).into_drawing_area(), fig),
        PlotFormat::Svg => draw(SVGBackend::new(path, SIZE).into_drawing_area(), fig),
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| match e {
        DrawingAreaErrorKind::BackendError(b) => b.to_string(),
        other => other.to_string(),
    };
    root.fill(&WHITE).map_err(err)?;
    let ((x0, x1), (y0, y1)) = fig.bounds();
    // Room for tick labels such as 1.40e-9 beside the axis description.
    let mut chart = ChartBuilder::on(&root)
        .caption(&fig.title, (FAMILY, 26))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(110)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .axis_desc_style((FAMILY, 20))
        .label_style((FAMILY, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .y_label_formatter(&|v| number(*v))
        .draw()
        .map_err(err)?;
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    for (i, s) in fig.series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts = s.points.iter().filter(finite).copied();
        let drawn = match s.style {
            Style::Line => chart.draw_series(LineSeries::new(pts, colour.stroke_width(2))),
            Style::Dots => chart.draw_series(pts.map(|p| Circle::new(p, 4, colour.filled()))),
            Style::Triangles => {
                chart.draw_series(pts.map(|p| TriangleMarker::new(p, 8, colour.filled())))
            }
        }
        .map_err(err)?;
        if !s.label.is_empty() {
            drawn.label(&s.label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], colour.filled())
            });
        }
    }
    let marks = fig
        .marks
        .iter()
        .filter(|m| m.x.is_finite() && m.y.is_finite());
    chart
        .draw_series(marks.map(|m| {
            EmptyElement::at((m.x, m.y))
                + Circle::new((0, 0), 9, BLACK.stroke_width(2))
                + Text::new(m.label.clone(), (12, -22), (FAMILY, 16).into_font())
        }))
        .map_err(err)?;
    if fig.series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FAMILY, 16))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}
