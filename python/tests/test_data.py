"""The data search from numpy arrays equals `chirpfarm search --data FILE --json`: the same
strain, simulated by the CLI with an injection, searched both ways."""

import json

import numpy as np
import pytest

import chirpfarm

RATE, GPS = 2048.0, 1000000000.0


@pytest.fixture(scope="module")
def strain(tmp_path_factory, request):
    from conftest import binary
    import subprocess

    path = tmp_path_factory.mktemp("data") / "data.npy"
    subprocess.run(
        [str(binary("chirpfarm")), "simulate", "--duration", "256", "--sample-rate", str(int(RATE)),
         "--psd", "aligo", "--seed", "3", "--gps-start", str(int(GPS)),
         "--inject", f"mass1=1.4,mass2=1.3,snr=12,time={int(GPS) + 200}", "-o", str(path), "-q"],
        check=True, capture_output=True, timeout=120,
    )
    return path


ARGS = ["--bank", "1.1:1.25:0.01", "--psd", "aligo", "--segment-length", "64", "--f-low", "40",
        "--sample-rate", str(int(RATE)), "--gps-start", str(int(GPS)), "--chisq-bins", "8"]


def test_data_search_equals_the_cli(cli, strain):
    out = cli("search", "--data", str(strain), *ARGS, "--json", "--quiet")
    doc = json.loads(out.stdout)
    r = chirpfarm.search("1.1:1.25:0.01", data=np.load(strain), sample_rate=RATE, gps_start=GPS,
                         psd="aligo", segment_length=64.0, f_low=40.0, chisq_bins=8, progress=False)
    assert isinstance(r, chirpfarm.DataResult)
    assert len(r.triggers) == len(doc["triggers"]) > 0
    for name in ("template_index", "segment", "time", "snr", "phase", "sigmasq", "chisq",
                 "newsnr"):
        assert np.array_equal(r.triggers[name], [t[name] for t in doc["triggers"]]), name
    assert np.array_equal(r.templates["max_snr"], [t["max_snr"] for t in doc["templates"]])
    assert np.all(r.triggers["snr"] >= 5.5)
    assert np.all((r.triggers["time"] >= GPS) & (r.triggers["time"] < GPS + 256))
    assert r.to_dict()["triggers"] == doc["triggers"]


def test_a_psd_array_equals_the_same_psd_from_a_file(strain, tmp_path):
    data = np.load(strain)
    n = int(64 * RATE)
    f = np.arange(n // 2 + 1) / 64.0
    psd = 1e-46 * (1.0 + (60.0 / np.maximum(f, 1.0)) ** 4)
    path = tmp_path / "psd.txt"
    np.savetxt(path, np.column_stack([f, psd]), fmt="%.17g")
    kw = dict(data=data, sample_rate=RATE, segment_length=64.0, f_low=40.0, snr_threshold=1.0,
              progress=False)
    a = chirpfarm.search("1.15:1.2:0.01", psd=psd, **kw)
    b = chirpfarm.search("1.15:1.2:0.01", psd=path, **kw)
    assert len(a.triggers) > 0
    assert np.array_equal(a.triggers, b.triggers)
    assert np.array_equal(a.templates, b.templates)
    with pytest.raises(ValueError, match="PSD has 3 values"):
        chirpfarm.search("1.15:1.2:0.01", psd=np.ones(3), **kw)


def test_to_pandas(strain):
    pd = pytest.importorskip("pandas")
    r = chirpfarm.search("1.15:1.2:0.01", data=np.load(strain), sample_rate=RATE, psd="aligo",
                         segment_length=64.0, f_low=40.0, progress=False)
    df = r.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == len(r.triggers)
