//! # chirpfarm-strain
//!
//! Everything about strain data that happens before the matched filter, on the machine that has
//! the file (the `chirpfarm` client):
//!
//! * [`read`]: strain files — GWOSC HDF5 (`strain/Strain`, `Xspacing`, `meta/GPSstart`), `.npy`
//!   and text — validated sample by sample, every error naming the file and the position.
//! * [`h5`]: HDF5 in pure Rust (no libhdf5): datasets and attributes in, trigger files out.
//! * [`psd`]: the noise power spectral density — PyCBC-compatible median Welch, a PSD file,
//!   the analytic aLIGO curve, interpolation to the segment grid and inverse-spectrum truncation.
//! * [`simulate`]: coloured Gaussian noise (PyCBC's frequency-domain recipe, seed-stable) and
//!   injections at a target optimal SNR; injection lists in and out.
//! * [`write`]: strain files out (GWOSC HDF5, `.npy`, text), so simulated data is searchable.
//!
//! Nothing here knows about the network or the farm.

pub mod h5;
pub mod psd;
pub mod read;
pub mod simulate;
pub mod write;
