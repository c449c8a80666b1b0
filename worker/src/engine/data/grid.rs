//! [`DataGrid`]: the time/frequency grid of one analysis segment.

/// The grid of one analysis segment: `n` samples at `sample_rate` Hz, filtered from `f_low`.
///
/// The filter band is `k ∈ [k_low, n/2)` with `k_low = floor(f_low/Δf)`: the bin at exactly
/// `f_low` is included, DC and Nyquist are excluded (PyCBC's `get_cutoff_indices` with no
/// upper cut-off, whose `kmax = floor((n+1)/2)` is exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataGrid {
    /// Samples per segment (a power of two).
    pub n: usize,
    /// Samples per second.
    pub sample_rate: f64,
    /// Lower frequency cut-off of the filter, Hz.
    pub f_low: f64,
}

impl DataGrid {
    /// A grid; panics unless `n ≥ 4` is even and the band `[k_low, n/2)` is non-empty with
    /// `k_low ≥ 1` (the daemon validates specs before it gets here).
    pub fn new(n: usize, sample_rate: f64, f_low: f64) -> DataGrid {
        let g = DataGrid {
            n,
            sample_rate,
            f_low,
        };
        assert!(
            n >= 4 && n.is_multiple_of(2),
            "segment length {n} must be even and >= 4"
        );
        assert!(
            sample_rate.is_finite() && sample_rate > 0.0,
            "bad sample rate {sample_rate}"
        );
        assert!(
            f_low.is_finite() && g.k_low() >= 1 && g.k_low() < n / 2,
            "f_low {f_low} Hz leaves no band on a {n}-sample grid at {sample_rate} Hz"
        );
        g
    }

    /// Frequency resolution `Δf = sample_rate/n`, Hz.
    pub fn delta_f(&self) -> f64 {
        self.sample_rate / self.n as f64
    }

    /// Sample spacing `Δt = 1/sample_rate`, seconds.
    pub fn delta_t(&self) -> f64 {
        1.0 / self.sample_rate
    }

    /// First bin of the band, `floor(f_low/Δf)` (PyCBC: `int(flow / df)`).
    pub fn k_low(&self) -> usize {
        (self.f_low / self.delta_f()) as usize
    }

    /// One past the last bin of the band: `n/2` (Nyquist excluded).
    pub fn k_high(&self) -> usize {
        self.n / 2
    }

    /// Number of band bins, `n/2 − k_low`.
    pub fn band_len(&self) -> usize {
        self.k_high() - self.k_low()
    }

    /// Bins of a one-sided frequency series, `n/2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_indices_match_pycbc() {
        // 30 Hz at Δf = 1/64: exactly bin 1920, included.
        let g = DataGrid::new(65536, 1024.0, 30.0);
        assert_eq!(g.delta_f(), 1.0 / 64.0);
        assert_eq!((g.k_low(), g.k_high(), g.bins()), (1920, 32768, 32769));
        // Between bins: floor.
        let g = DataGrid::new(1 << 19, 2048.0, 40.003);
        assert_eq!(g.k_low(), 10240);
        assert_eq!(g.band_len(), (1 << 18) - 10240);
    }

    #[test]
    #[should_panic]
    fn band_below_one_bin_is_rejected() {
        DataGrid::new(4096, 4096.0, 0.5);
    }
}
