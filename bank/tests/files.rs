//! Bank files: PyCBC's HDF5 layout (fixtures written by PyCBC and h5py), CSV round trips, and
//! errors that name the file and the line.

use chirpfarm_bank::file::{read_bank_file, write_bank, BankMeta};
use chirpfarm_bank::region::{MassRange, Region};
use chirpfarm_core::{BankSpec, TemplateParams};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bank")
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("banks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chirpfarm-bank-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn pycbc_hdf5_bank_reads_back_equal() {
    let bank = read_bank_file(&fixtures().join("pycbc_bank.hdf5")).unwrap();
    let want = expected();
    let want = want["pycbc_bank"].as_array().unwrap();
    let got = bank.spec.params().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let w: Vec<f64> = w
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(
            [g.mass1, g.mass2, g.spin1z, g.spin2z],
            [w[0], w[1], w[2], w[3]]
        );
    }
    // PyCBC's string attributes are not chirpfarm's metadata.
    assert!(bank.meta.is_none());
}

#[test]
fn h5py_chunked_float32_bank_without_spins() {
    let bank = read_bank_file(&fixtures().join("h5py_nospin.hdf5")).unwrap();
    let got = bank.spec.params().unwrap();
    let want = expected();
    let want = want["h5py_nospin"].as_array().unwrap();
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.mass1, w[0].as_f64().unwrap());
        assert_eq!(g.mass2, w[1].as_f64().unwrap());
        assert_eq!((g.spin1z, g.spin2z), (0.0, 0.0));
    }
}

#[test]
fn written_banks_read_back_equal_with_their_metadata() {
    let templates = vec![
        TemplateParams {
            mass1: 2.9876543210123,
            mass2: 1.0123456789,
            spin1z: 0.0,
            spin2z: 0.0,
        },
        TemplateParams {
            mass1: 1.4,
            mass2: 1.4,
            spin1z: 0.1,
            spin2z: -0.3,
        },
    ];
    let meta = BankMeta {
        region: Region {
            mass1: MassRange { lo: 1.0, hi: 3.0 },
            mass2: MassRange { lo: 1.0, hi: 2.5 },
        },
        min_match: 0.97,
        f_low: 30.0,
        f_high: 1024.0,
    };
    for name in ["bank.csv", "bank.hdf5"] {
        let p = tmp(name);
        write_bank(&p, &templates, &meta, "aligo").unwrap();
        let back = read_bank_file(&p).unwrap();
        assert_eq!(back.spec, BankSpec::Params(templates.clone()), "{name}");
        assert_eq!(back.meta, Some(meta), "{name}");
    }
}

#[test]
fn bad_files_name_the_file_and_the_line() {
    let p = tmp("bad.csv");
    std::fs::write(&p, "\u{feff}# bank\nmass1,mass2\n1.4,1.4 # ok\n1.4,oops\n").unwrap();
    let e = read_bank_file(&p).unwrap_err().to_string();
    assert!(e.contains("bad.csv") && e.contains("line 4"), "{e}");
    std::fs::write(&p, "mass1,mass2\n1.4,0\n").unwrap();
    let e = read_bank_file(&p).unwrap_err().to_string();
    assert!(e.contains("bad.csv") && e.contains("line 2"), "{e}");
    // An HDF5 file without the datasets, and a truncated one.
    let h = tmp("nomass.hdf5");
    chirpfarm_strain::h5::write_columns(
        &h,
        &[("snr", chirpfarm_strain::h5::Column::F64(&[1.0]))],
        &[],
    )
    .unwrap();
    let e = read_bank_file(&h).unwrap_err().to_string();
    assert!(e.contains("nomass.hdf5") && e.contains("mass1"), "{e}");
    let bytes = std::fs::read(fixtures().join("pycbc_bank.hdf5")).unwrap();
    let t = tmp("truncated.hdf5");
    std::fs::write(&t, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_bank_file(&t).unwrap_err().to_string();
    assert!(e.contains("truncated.hdf5"), "{e}");
    let e = read_bank_file(&tmp("missing.csv")).unwrap_err().to_string();
    assert!(e.contains("missing.csv"), "{e}");
}
