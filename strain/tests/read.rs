//! The strain readers against files written by h5py and numpy
//! (`tests/fixtures/strain/gen_strain_fixtures.py`): the same samples in every format, bit for
//! bit, every bad file refused with a message naming the file and the position, and
//! `write_columns` output read back.

use chirpfarm_strain::h5::{self, Column};
use chirpfarm_strain::read::{read_strain, Format, ReadOptions, Strain};
use std::path::{Path, PathBuf};

/// The fixture directory.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/strain")
        .join(name)
}

/// expected.json, written by the generator from the values numpy holds.
fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

/// The options a .npy or one-column file needs.
fn given() -> ReadOptions {
    let e = expected();
    ReadOptions {
        sample_rate: e["sample_rate"].as_f64(),
        gps_start: e["gps_start"].as_f64(),
        format: None,
    }
}

fn read(name: &str, opts: &ReadOptions) -> Strain {
    read_strain(&fixture(name), opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Checks samples against the listed values (IEEE bits) and the left-to-right sum.
fn check_against(strain: &Strain, table: &serde_json::Value, sum: &serde_json::Value) {
    for (index, v) in table.as_object().expect("a table") {
        let i: usize = index.parse().expect("an index");
        let want = u64::from_str_radix(v["bits"].as_str().unwrap().trim_start_matches("0x"), 16);
        assert_eq!(strain.samples[i].to_bits(), want.unwrap(), "sample {i}");
    }
    assert_eq!(
        strain.samples.iter().sum::<f64>().to_bits(),
        sum.as_f64().unwrap().to_bits()
    );
}

#[test]
fn every_format_gives_the_same_samples() {
    let e = expected();
    let n = e["n_samples"].as_u64().unwrap() as usize;
    let reference = read("gwosc_contiguous.hdf5", &ReadOptions::default());
    assert_eq!(reference.samples.len(), n);
    assert_eq!(reference.sample_rate, 4096.0);
    assert_eq!(reference.gps_start, e["gps_start"].as_f64().unwrap());
    check_against(&reference, &e["samples"], &e["sum"]);
    for (name, opts) in [
        ("gwosc_chunked.h5", ReadOptions::default()),
        ("strain.npy", given()),
        ("strain_1col.txt", given()),
        ("strain_2col.csv", ReadOptions::default()),
    ] {
        let s = read(name, &opts);
        assert_eq!(bits(&s.samples), bits(&reference.samples), "{name}");
        assert_eq!(s.sample_rate, reference.sample_rate, "{name}");
        assert_eq!(s.gps_start, reference.gps_start, "{name}");
    }
    let v3 = read("strain_v3.npy", &given());
    assert_eq!(bits(&v3.samples), bits(&reference.samples[..16]));
    assert_eq!(
        v3.samples.iter().sum::<f64>(),
        e["sum_first16"].as_f64().unwrap()
    );
}

#[test]
fn float32_storage_is_widened_exactly() {
    let e = expected();
    let npy = read("strain_f32.npy", &given());
    check_against(&npy, &e["samples_f32"], &e["sum_f32"]);
    // No meta/GPSstart in this one: the start comes from Xstart.
    let h5 = read("gwosc_f32_xstart.hdf5", &ReadOptions::default());
    assert_eq!(bits(&h5.samples), bits(&npy.samples));
    assert_eq!(
        (h5.sample_rate, h5.gps_start),
        (npy.sample_rate, npy.gps_start)
    );
    let direct = h5::read_f64_dataset(&fixture("gwosc_f32_xstart.hdf5"), "strain/Strain").unwrap();
    assert_eq!(bits(&direct), bits(&npy.samples));
}

#[test]
fn scalars_and_attributes() {
    let f = fixture("gwosc_contiguous.hdf5");
    let gps = h5::read_f64_attr_or_scalar(&f, "meta/GPSstart").unwrap();
    assert_eq!(gps, Some(1126259446.0)); // an int64 scalar
    let g = fixture("gwosc_chunked.h5");
    assert_eq!(
        h5::read_f64_attr_or_scalar(&g, "meta/GPSstart").unwrap(),
        gps
    ); // float64
    let dx = h5::read_f64_attr_or_scalar(&f, "strain/Strain/Xspacing").unwrap();
    assert_eq!(dx, Some(1.0 / 4096.0));
    let npoints = h5::read_f64_attr_or_scalar(&f, "strain/Strain/Npoints").unwrap();
    assert_eq!(npoints, Some(expected()["n_samples"].as_f64().unwrap()));
    assert_eq!(
        h5::read_f64_attr_or_scalar(&f, "strain/Strain/Nope").unwrap(),
        None
    );
    assert_eq!(h5::read_f64_attr_or_scalar(&f, "nope/Nope").unwrap(), None);
    let e = h5::read_f64_attr_or_scalar(&f, "meta/Detector").unwrap_err();
    assert!(
        e.to_string().contains("meta/Detector: expected a number"),
        "{e}"
    );
    let e = h5::read_f64_dataset(&f, "meta").unwrap_err();
    assert!(
        e.to_string().ends_with("meta: is a group, not a dataset"),
        "{e}"
    );
    let e = h5::read_f64_dataset(&f, "strain/Nope").unwrap_err();
    assert!(e.to_string().ends_with("no dataset strain/Nope"), "{e}");
}

#[test]
fn options_must_agree_with_the_file() {
    let mut opts = ReadOptions {
        sample_rate: Some(2048.0),
        ..ReadOptions::default()
    };
    for name in ["gwosc_chunked.h5", "strain_2col.csv"] {
        let e = read_strain(&fixture(name), &opts).unwrap_err().to_string();
        assert!(
            e.contains(name) && e.contains("sample rate 4096 but --sample-rate 2048"),
            "{e}"
        );
    }
    opts.sample_rate = Some(4096.0);
    opts.gps_start = Some(1126259446.5);
    let e = read_strain(&fixture("gwosc_chunked.h5"), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("GPS start 1126259446 but --gps-start 1126259446.5"),
        "{e}"
    );
    opts.gps_start = Some(1126259446.0);
    read("gwosc_chunked.h5", &opts);
}

#[test]
fn format_option_overrides_the_extension() {
    let tmp = std::env::temp_dir().join(format!("chirpfarm-npy-as-dat-{}.dat", std::process::id()));
    std::fs::copy(fixture("strain.npy"), &tmp).unwrap();
    let opts = ReadOptions {
        format: Some(Format::Npy),
        ..given()
    };
    let s = read_strain(&tmp, &opts).unwrap();
    assert_eq!(s.samples.len(), 512);
    std::fs::remove_file(&tmp).unwrap();
}

#[test]
fn bad_files_are_refused_with_file_and_position() {
    let g = given();
    let none = ReadOptions::default();
    let cases: &[(&str, &ReadOptions, &[&str])] = &[
        ("bad_nan.hdf5", &none, &["sample 10 is NaN"]),
        ("bad_nan.npy", &g, &["sample 10 is NaN"]),
        ("bad_nan.txt", &g, &["line 13: sample 10 is NaN"]),
        ("bad_rate_1000.hdf5", &none, &["power of two", "got 1000"]),
        (
            "bad_missing_dataset.hdf5",
            &none,
            &["no dataset strain/Strain (is this a GWOSC strain file?)"],
        ),
        (
            "bad_truncated.hdf5",
            &none,
            &["not a readable HDF5 file (truncated: the file has 6984 bytes"],
        ),
        (
            "bad_empty.hdf5",
            &none,
            &["not a readable HDF5 file", "empty"],
        ),
        ("bad_not_hdf5.h5", &none, &["not a readable HDF5 file"]),
        ("bad_2d.npy", &g, &["header: ", "1-D", "(4, 8)"]),
        ("bad_bigendian.npy", &g, &["header: ", "big-endian"]),
        (
            "bad_huge.npy",
            &g,
            &["header: ", "2147483648 samples is more than the limit"],
        ),
        (
            "bad_huge.hdf5",
            &none,
            &[
                "strain/Strain: ",
                "2147483648 samples is more than the limit",
            ],
        ),
        (
            "bad_nonuniform.csv",
            &none,
            &["line 8: ", "uniformly spaced"],
        ),
        (
            "bad_number.txt",
            &g,
            &["line 5: ", "\"1e-21x\" is not a number"],
        ),
        (
            "strain.npy",
            &none,
            &["a .npy file has no sample rate: pass --sample-rate"],
        ),
        (
            "strain_1col.txt",
            &none,
            &["a one-column text file has no sample rate"],
        ),
        ("does_not_exist.npy", &g, &["cannot read the file"]),
    ];
    for (name, opts, needles) in cases {
        let path = fixture(name);
        let msg = match read_strain(&path, opts) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            msg.starts_with(&path.display().to_string()),
            "{name}: {msg}"
        );
        for needle in *needles {
            assert!(msg.contains(needle), "{name}: {msg:?} lacks {needle:?}");
        }
    }
}

#[test]
fn truncated_copies_never_panic() {
    // Every prefix length class of a real file: header cut, metadata cut, data cut.
    let whole = std::fs::read(fixture("gwosc_chunked.h5")).unwrap();
    let contiguous = std::fs::read(fixture("gwosc_contiguous.hdf5")).unwrap();
    let npy = std::fs::read(fixture("strain.npy")).unwrap();
    let dir = std::env::temp_dir().join(format!("chirpfarm-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (bytes, ext) in [(&whole, "h5"), (&contiguous, "hdf5"), (&npy, "npy")] {
        for cut in (0..bytes.len()).step_by(97) {
            let p = dir.join(format!("cut.{ext}"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = read_strain(&p, &given()).expect_err("a truncated file");
            assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_columns_reads_back() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("triggers.h5");
    let snr = [5.5, 7.25, f64::MAX, -0.0, 1e-300];
    let idx = [0u64, 1, u64::MAX, 42, 7];
    let lag = [-3i64, 0, i64::MIN, i64::MAX, 9];
    h5::write_columns(
        &p,
        &[
            ("snr", Column::F64(&snr)),
            ("sample", Column::U64(&idx)),
            ("lag", Column::I64(&lag)),
            ("empty", Column::F64(&[])),
        ],
        &[("sample_rate", 4096.0), ("gps_start", 1126259446.25)],
    )
    .unwrap();
    assert_eq!(bits(&h5::read_f64_dataset(&p, "snr").unwrap()), bits(&snr));
    let file = hdf5_pure::File::open(&p).unwrap();
    assert_eq!(file.dataset("sample").unwrap().read_u64().unwrap(), idx);
    assert_eq!(file.dataset("lag").unwrap().read_i64().unwrap(), lag);
    assert_eq!(file.dataset("empty").unwrap().shape().unwrap(), vec![0]);
    let attrs = file.root().attrs().unwrap();
    assert_eq!(
        attrs.get("gps_start"),
        Some(&hdf5_pure::AttrValue::F64(1126259446.25))
    );
    assert_eq!(
        attrs.get("sample_rate"),
        Some(&hdf5_pure::AttrValue::F64(4096.0))
    );
    // A column file is not a strain file, and read_strain says so.
    let e = read_strain(&p, &ReadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no dataset strain/Strain"), "{e}");
    // For tests/fixtures/strain/check_written.py (run by hand): keep a copy for h5py.
    if let Some(keep) = std::env::var_os("CHIRPFARM_KEEP_WRITTEN_H5") {
        std::fs::copy(&p, keep).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupted_bytes_never_panic() {
    // Flip bytes all over real files (metadata, B-tree, compressed chunks, attributes): the
    // reader may accept a flip that lands in the samples, but must never panic or hang.
    let dir = std::env::temp_dir().join(format!("chirpfarm-flip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["gwosc_chunked.h5", "gwosc_contiguous.hdf5"] {
        let whole = std::fs::read(fixture(name)).unwrap();
        let p = dir.join(name);
        for pos in (0..whole.len()).step_by(11) {
            let mut bytes = whole.clone();
            bytes[pos] ^= 0xA5;
            std::fs::write(&p, &bytes).unwrap();
            if let Err(e) = read_strain(&p, &ReadOptions::default()) {
                assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
