//! Noise spectra (being written).
