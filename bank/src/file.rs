//! Bank files in and out: text/CSV with named columns, and PyCBC's HDF5 layout.
//!
//! PyCBC's bank tools (`pycbc_geom_nonspinbank`, `pycbc_brute_bank`, `output_bank_to_hdf`)
//! write one 1-D dataset per parameter at the root — `mass1`, `mass2`, `spin1z`, `spin2z`, and
//! `f_lower`, `approximant`, ... — with string attributes `program` and `arguments`. We read the
//! four parameters (spins default to 0 when absent) and ignore the rest, and write the same
//! layout, so `pycbc_inspiral --bank-file bank.hdf5` takes our banks. HDF5 is recognised by its
//! signature, not the file name. A bank made by `chirpfarm bank` also records how it was made
//! (region, minimal match, band): a `# chirpfarm-bank key=value ...` comment in CSV, root
//! float attributes in HDF5; `bank --check` uses it for its defaults.

use crate::region::{MassRange, Region};
use crate::BankError;
use chirpfarm_core::{BankSpec, TemplateParams};
use chirpfarm_strain::h5::{write_columns, Column, H5Reader};
use std::io::Read;
use std::path::Path;

/// HDF5's format signature; it sits at byte 0 or after a user block of 512·2^k bytes.
const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// How a bank was made, stored beside its templates.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BankMeta {
    /// The (m1, m2) region it covers.
    pub region: Region,
    /// Its minimal match.
    pub min_match: f64,
    /// Lower frequency, Hz.
    pub f_low: f64,
    /// Upper frequency, Hz.
    pub f_high: f64,
}

/// A bank read from a file: the templates (or chirp masses) and, when recorded, how it was made.
#[derive(Debug, Clone)]
pub struct BankFile {
    /// The bank, as a search takes it.
    pub spec: BankSpec,
    /// Region, minimal match and band, if the file records them.
    pub meta: Option<BankMeta>,
}

/// Reads a bank file (`-` = standard input, text only). Errors name the file and the line (text)
/// or the dataset and row (HDF5).
pub fn read_bank_file(path: &Path) -> Result<BankFile, BankError> {
    let name = path.display().to_string();
    let bytes = if name == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).map_err(|e| {
            BankError::Input(format!("cannot read the bank from standard input: {e}"))
        })?;
        v
    } else {
        std::fs::read(path)
            .map_err(|e| BankError::Input(format!("cannot read bank file {name}: {e}")))?
    };
    if is_hdf5(&bytes) {
        if name == "-" {
            return Err(BankError::Input(
                "an HDF5 bank cannot come from standard input: give its file name".into(),
            ));
        }
        return read_hdf5(path);
    }
    let name = if name == "-" {
        "standard input".to_string()
    } else {
        name
    };
    let text = String::from_utf8(bytes)
        .map_err(|e| BankError::Input(format!("{name}: neither HDF5 nor UTF-8 text ({e})")))?;
    let spec = BankSpec::parse_list(&text).map_err(|e| BankError::Input(format!("{name}: {e}")))?;
    Ok(BankFile {
        spec,
        meta: text.lines().find_map(parse_meta_line),
    })
}

/// Whether `bytes` start like an HDF5 file (signature at 0, 512, 1024 or 2048).
pub fn is_hdf5(bytes: &[u8]) -> bool {
    [0usize, 512, 1024, 2048]
        .iter()
        .any(|&at| bytes.get(at..at + 8) == Some(&HDF5_SIGNATURE[..]))
}

/// PyCBC's layout: `mass1`, `mass2` and optional `spin1z`, `spin2z` datasets of one length.
fn read_hdf5(path: &Path) -> Result<BankFile, BankError> {
    let name = path.display();
    let h5 = |e: chirpfarm_strain::h5::H5Error| BankError::Input(e.to_string());
    let r = H5Reader::open(path).map_err(h5)?;
    for need in ["mass1", "mass2"] {
        if !r.has_dataset(need).map_err(h5)? {
            return Err(BankError::Input(format!(
                "{name}: no dataset {need} (a PyCBC HDF5 bank has datasets mass1, mass2, spin1z, spin2z)"
            )));
        }
    }
    let m1 = r.f64_dataset("mass1").map_err(h5)?;
    let m2 = r.f64_dataset("mass2").map_err(h5)?;
    let spin = |ds: &str| -> Result<Vec<f64>, BankError> {
        if r.has_dataset(ds).map_err(h5)? {
            r.f64_dataset(ds).map_err(h5)
        } else {
            Ok(vec![0.0; m1.len()])
        }
    };
    let (s1, s2) = (spin("spin1z")?, spin("spin2z")?);
    for (ds, v) in [("mass2", &m2), ("spin1z", &s1), ("spin2z", &s2)] {
        if v.len() != m1.len() {
            return Err(BankError::Input(format!(
                "{name}: dataset {ds} has {} rows but mass1 has {}",
                v.len(),
                m1.len()
            )));
        }
    }
    let mut templates = Vec::with_capacity(m1.len());
    for i in 0..m1.len() {
        let p = TemplateParams {
            mass1: m1[i],
            mass2: m2[i],
            spin1z: s1[i],
            spin2z: s2[i],
        };
        p.validate()
            .map_err(|e| BankError::Input(format!("{name}: row {i}: {e}")))?;
        templates.push(p);
    }
    // How the bank was made, if we made it; PyCBC's string attributes are not ours to read.
    let attr = |a: &str| r.root_f64_attr(a).ok().flatten();
    let meta = (|| {
        Some(BankMeta {
            region: Region {
                mass1: MassRange {
                    lo: attr("mass1_min")?,
                    hi: attr("mass1_max")?,
                },
                mass2: MassRange {
                    lo: attr("mass2_min")?,
                    hi: attr("mass2_max")?,
                },
            },
            min_match: attr("min_match")?,
            f_low: attr("f_low")?,
            f_high: attr("f_high")?,
        })
    })();
    Ok(BankFile {
        spec: BankSpec::Params(templates),
        meta,
    })
}

/// The `# chirpfarm-bank ...` line of a CSV bank, if this is one.
fn parse_meta_line(line: &str) -> Option<BankMeta> {
    let rest = line.trim().strip_prefix("# chirpfarm-bank ")?;
    let get = |key: &str| {
        rest.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    let num = |key: &str| get(key)?.parse::<f64>().ok();
    Some(BankMeta {
        region: Region {
            mass1: MassRange::parse("mass1", get("mass1")?).ok()?,
            mass2: MassRange::parse("mass2", get("mass2")?).ok()?,
        },
        min_match: num("min_match")?,
        f_low: num("f_low")?,
        f_high: num("f_high")?,
    })
}

/// Writes a bank: PyCBC's HDF5 layout when the name ends in .h5/.hdf/.hdf5, else CSV
/// (`mass1,mass2,spin1z,spin2z`, shortest round-trip decimals, the metadata as a comment).
/// `-` writes CSV to standard output.
pub fn write_bank(
    path: &Path,
    templates: &[TemplateParams],
    meta: &BankMeta,
    psd: &str,
) -> Result<(), BankError> {
    let name = path.display().to_string();
    let lower = name.to_ascii_lowercase();
    if [".h5", ".hdf", ".hdf5"].iter().any(|e| lower.ends_with(e)) {
        let col = |f: fn(&TemplateParams) -> f64| templates.iter().map(f).collect::<Vec<f64>>();
        let (m1, m2) = (col(|p| p.mass1), col(|p| p.mass2));
        let (s1, s2) = (col(|p| p.spin1z), col(|p| p.spin2z));
        let fl = vec![meta.f_low; templates.len()];
        let r = meta.region;
        return write_columns(
            path,
            &[
                ("mass1", Column::F64(&m1)),
                ("mass2", Column::F64(&m2)),
                ("spin1z", Column::F64(&s1)),
                ("spin2z", Column::F64(&s2)),
                ("f_lower", Column::F64(&fl)),
            ],
            &[
                ("mass1_min", r.mass1.lo),
                ("mass1_max", r.mass1.hi),
                ("mass2_min", r.mass2.lo),
                ("mass2_max", r.mass2.hi),
                ("min_match", meta.min_match),
                ("f_low", meta.f_low),
                ("f_high", meta.f_high),
            ],
        )
        .map_err(|e| BankError::Write(e.to_string()));
    }
    let r = meta.region;
    let mut out = format!(
        "# {} templates placed by chirpfarm bank (hexagonal lattice in theta0, theta3; 3.5PN TaylorF2 metric; PSD {psd})\n\
         # chirpfarm-bank mass1={}:{} mass2={}:{} min_match={} f_low={} f_high={}\n\
         mass1,mass2,spin1z,spin2z\n",
        templates.len(),
        r.mass1.lo,
        r.mass1.hi,
        r.mass2.lo,
        r.mass2.hi,
        meta.min_match,
        meta.f_low,
        meta.f_high
    );
    for p in templates {
        out.push_str(&format!(
            "{},{},{},{}\n",
            p.mass1, p.mass2, p.spin1z, p.spin2z
        ));
    }
    if name == "-" {
        use std::io::Write;
        return std::io::stdout()
            .write_all(out.as_bytes())
            .map_err(|e| BankError::Write(format!("standard output: {e}")));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, out)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| BankError::Write(format!("{name}: {e}")))
}
