//! `chirpfarm simulate`: coloured Gaussian noise plus injections, written in a format
//! `chirpfarm search --data` reads, with the injection list beside it.
//!
//! The math (noise, σ, the injection's time shift, the inverse transform) is in
//! [`chirpfarm_strain::simulate`]; this module checks the flags, builds the PSD on the data's
//! grid, chooses the waveform (the seed's Newtonian chirp or TaylorF2) and writes the files.

use crate::args::SimulateCmd;
use crate::error::CliError;
use chirpfarm_core::Approximant;
use chirpfarm_strain::psd;
use chirpfarm_strain::read::Format;
use chirpfarm_strain::simulate::{
    add_injection, chirp_time_bound, gaussian_noise_fd, parse_inject_spec, read_injection_file,
    sigmasq, to_time_domain, write_injection_file, Injected, InjectionRow, SimGrid, MAX_INJECTIONS,
};
use num_complex::Complex64;
use std::path::{Path, PathBuf};

/// More samples than this is refused: the frequency-domain work needs ~40 bytes per sample
/// (2.7 GB at the limit, 2^26 samples: 4096 s at 16384 Hz).
pub const MAX_SIM_SAMPLES: u64 = 1 << 26;

/// One megaparsec in seconds (physics.md §0, the seed's `MPCS`): the Newtonian chirp is
/// written for a source at 1 light-second, so dividing by this puts it at 1 Mpc.
const MPC_SECONDS: f64 = 1.02927e14;

/// The file the injection list is written to: `<out>.injections.csv`.
pub fn injections_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".injections.csv");
    PathBuf::from(p)
}

/// `chirpfarm simulate`.
pub fn simulate(cmd: &SimulateCmd) -> Result<(), CliError> {
    let input = |m: String| CliError::Input(m);
    let rate = cmd.sample_rate;
    chirpfarm_core::data::validate_sample_rate(rate)
        .map_err(|e| input(format!("--sample-rate: {e}")))?;
    let n = cmd.duration * rate;
    if !(cmd.duration.is_finite() && cmd.duration > 0.0 && n.fract() == 0.0) {
        return Err(input(format!(
            "--duration {} s must be positive and a whole number of samples at {rate} Hz",
            cmd.duration
        )));
    }
    if n > MAX_SIM_SAMPLES as f64 || n < 4.0 || n % 2.0 != 0.0 {
        return Err(input(format!(
            "--duration {} s is {n} samples at {rate} Hz: it must be an even number of samples between 4 and {MAX_SIM_SAMPLES}",
            cmd.duration
        )));
    }
    if !cmd.gps_start.is_finite() {
        return Err(input(format!(
            "--gps-start must be finite, got {}",
            cmd.gps_start
        )));
    }
    let grid = SimGrid::new(n as usize, rate, cmd.f_low).map_err(|e| input(e.to_string()))?;
    let psd_values = psd_on_grid(&cmd.psd, &grid)?;
    let approximant = Approximant::parse(&cmd.approximant).map_err(|e| input(e.to_string()))?;
    let f_final = check_f_final(cmd.f_final, approximant, cmd.f_low)?;
    let rows = injection_rows(&cmd.inject)?;
    let format = Format::from_path(&cmd.output);

    let sim_err = |e: chirpfarm_strain::simulate::SimError| input(e.to_string());
    let mut data = if cmd.no_noise {
        vec![Complex64::new(0.0, 0.0); grid.bins()]
    } else {
        gaussian_noise_fd(&psd_values, &grid, cmd.seed).map_err(sim_err)?
    };
    let mut injected = Vec::with_capacity(rows.len());
    let mut h = vec![Complex64::new(0.0, 0.0); grid.bins()];
    for row in &rows {
        if row.snr.is_none() && row.distance.is_none() {
            return Err(input(format!(
                "{}: give snr (target optimal SNR) or distance (Mpc)",
                row.origin
            )));
        }
        let t0 = check_time(row, &grid, cmd.gps_start)?;
        waveform_at_1mpc((approximant, f_final), row, &grid, &mut h)?;
        let sigma = sigmasq(&h, &psd_values, &grid).sqrt();
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(input(format!(
                "{}: the waveform has no power between --f-low {} Hz and the Nyquist frequency",
                row.origin, cmd.f_low
            )));
        }
        // A row with both (a list written by simulate) is injected at its distance.
        let distance = row
            .distance
            .unwrap_or_else(|| sigma / row.snr.unwrap_or(f64::NAN));
        add_injection(&mut data, &h, 1.0 / distance, row.coa_phase, t0, &grid);
        injected.push(Injected {
            time: row.time,
            params: row.params,
            coa_phase: row.coa_phase,
            distance,
            optimal_snr: sigma / distance,
        });
    }
    let samples = to_time_domain(&data, &grid);
    drop(data);
    chirpfarm_strain::write::write_strain(&cmd.output, format, &samples, rate, cmd.gps_start)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let list = injections_path(&cmd.output);
    if !injected.is_empty() {
        let comment = format!(
            "chirpfarm simulate: data {}, approximant {}{}, psd {}, f_low {} Hz, seed {}, noise {}, gps_start {}, duration {} s, sample_rate {} Hz",
            cmd.output.display(),
            approximant.name(),
            f_final.map_or(String::new(), |f| format!(", f_final {f} Hz")),
            cmd.psd,
            cmd.f_low,
            cmd.seed,
            !cmd.no_noise,
            cmd.gps_start,
            cmd.duration,
            rate
        );
        write_injection_file(&list, &comment, &injected)
            .map_err(|e| CliError::Failed(e.to_string()))?;
    }
    if !cmd.quiet {
        let hint = if format == Format::Npy {
            format!(
                " (search it with --sample-rate {rate} --gps-start {})",
                cmd.gps_start
            )
        } else {
            String::new()
        };
        eprintln!(
            "wrote {}: {} s at {rate} Hz from GPS {}, {} noise (seed {}), {} injection(s){hint}",
            cmd.output.display(),
            cmd.duration,
            cmd.gps_start,
            if cmd.no_noise { "no" } else { &cmd.psd },
            cmd.seed,
            injected.len()
        );
        if !injected.is_empty() {
            eprintln!("wrote {}", list.display());
        }
    }
    Ok(())
}

/// `--f-final` as `search` takes it: TaylorF2 only (the Newtonian chirp runs to Nyquist), a
/// finite frequency above `--f-low`; `None` ends each injection at its ISCO.
fn check_f_final(
    f_final: Option<f64>,
    approximant: Approximant,
    f_low: f64,
) -> Result<Option<f64>, CliError> {
    let Some(f) = f_final else {
        return Ok(None);
    };
    if approximant != Approximant::TaylorF2 {
        return Err(CliError::Input(
            "--f-final applies to --approximant taylorf2 (newtonian injections run to Nyquist)"
                .into(),
        ));
    }
    if !(f.is_finite() && f > f_low) {
        return Err(CliError::Input(format!(
            "--f-final must be a frequency in Hz above --f-low ({f_low} Hz), got {f}"
        )));
    }
    Ok(Some(f))
}

/// The PSD on the data's grid: `aligo` (physics.md §3.3) or a two-column file interpolated as
/// `pycbc.psd.from_txt`; finite and positive on the band, or an error naming the frequency.
fn psd_on_grid(which: &str, grid: &SimGrid) -> Result<Vec<f64>, CliError> {
    let err = |e: psd::PsdError| CliError::Input(format!("--psd: {e}"));
    let values = match which {
        "aligo" => psd::aligo_series(grid.bins(), grid.delta_f(), grid.f_low),
        "welch" => {
            return Err(CliError::Input(
                "--psd welch estimates a PSD from data; simulate needs aligo or a PSD file".into(),
            ))
        }
        file => {
            let (f, v) = psd::read_psd_file(Path::new(file)).map_err(err)?;
            psd::psd_on_grid(&f, &v, grid.bins(), grid.delta_f(), grid.f_low).map_err(err)?
        }
    };
    psd::check_band(&values, grid.delta_f(), grid.k_low(), grid.k_high()).map_err(err)?;
    Ok(values)
}

/// Every `--inject` value: `key=value,...` inline, or else the name of an injection file.
fn injection_rows(specs: &[String]) -> Result<Vec<InjectionRow>, CliError> {
    let mut rows = Vec::new();
    let input = |e: chirpfarm_strain::simulate::SimError| CliError::Input(e.to_string());
    for s in specs {
        if s.contains('=') {
            rows.push(parse_inject_spec(s).map_err(input)?);
        } else {
            rows.extend(read_injection_file(Path::new(s)).map_err(input)?);
        }
    }
    if rows.len() > MAX_INJECTIONS {
        return Err(CliError::Input(format!(
            "{} injections: at most {MAX_INJECTIONS} per simulation",
            rows.len()
        )));
    }
    Ok(rows)
}

/// The coalescence time in seconds after the first sample, if the whole chirp (from f_low, by
/// LALSimulation's chirp-time bound) fits between the start of the data and its end.
fn check_time(row: &InjectionRow, grid: &SimGrid, gps_start: f64) -> Result<f64, CliError> {
    let t0 = row.time - gps_start;
    let end = gps_start + grid.duration();
    if !(t0 >= 0.0 && t0 < grid.duration()) {
        return Err(CliError::Input(format!(
            "{}: time {} is outside the data [{gps_start}, {end})",
            row.origin, row.time
        )));
    }
    let p = &row.params;
    let chirp = chirp_time_bound(grid.f_low, p.mass1, p.mass2, p.spin1z, p.spin2z);
    if chirp > t0 {
        return Err(CliError::Input(format!(
            "{}: the chirp lasts up to {chirp:.1} s from {} Hz, so it would start before the data (GPS {gps_start}) and wrap onto its end: use a time of at least {:.1}",
            row.origin,
            grid.f_low,
            gps_start + chirp.ceil()
        )));
    }
    Ok(t0)
}

/// The waveform of `row` at 1 Mpc, optimally oriented, coalescing at t = 0 with φ_c = 0, on
/// every bin of `grid` (zero outside the band), written into `h`: the seed's Newtonian chirp
/// (1 light-second ÷ 1 Mpc in seconds) or TaylorF2 (`chirpfarm-waveform`, LAL's h̃+ at 1 Mpc,
/// ending at `f_final` or else the ISCO).
fn waveform_at_1mpc(
    (approximant, f_final): (Approximant, Option<f64>),
    row: &InjectionRow,
    grid: &SimGrid,
    h: &mut [Complex64],
) -> Result<(), CliError> {
    match approximant {
        Approximant::Newtonian => {
            let g = chirpfarm_worker::engine::data::grid::DataGrid::new(
                grid.n,
                grid.sample_rate,
                grid.f_low,
            );
            chirpfarm_worker::engine::data::template::newtonian_template_into(
                row.params.chirp_mass(),
                &g,
                h,
            );
            for v in h.iter_mut() {
                *v /= MPC_SECONDS;
            }
        }
        Approximant::TaylorF2 => {
            chirpfarm_waveform::TaylorF2::new(&row.params)
                .map_err(|e| CliError::Input(format!("{}: {e}", row.origin)))?;
            chirpfarm_waveform::taylorf2_into(
                &row.params,
                1.0,
                grid.f_low,
                f_final,
                grid.delta_f(),
                0,
                h,
            );
        }
    }
    Ok(())
}
