"""Record files (netCDF4 alone) and xarray files are the same files: each reads what the other writes."""

import numpy as np
import xarray as xr

from implicit_bias.datasets import Dataset
from implicit_bias.netcdf import Record, write_netcdf


def test_a_record_reads_back_alike_with_xarray_and_with_netcdf4(tmp_path):
    rng = np.random.default_rng(0)
    beta = rng.normal(size=(4, 3))
    beta[2] = np.nan  # a checkpoint a run did not reach
    record = Record(
        {
            "beta": (("checkpoint", "coef"), beta, {"long_name": "beta", "units": "1"}),
            "theta_init_1": (("param_1",), rng.normal(size=2), {"long_name": "v_1(0)"}),
        },
        {"experiment": "e", "alpha": 0.5, "seed": 3, "settings": {"depth": 2}},
    )
    path = record.write(tmp_path / "run.nc")
    with xr.open_dataset(path) as ds:
        np.testing.assert_array_equal(ds["beta"].values, beta)
        assert ds["beta"].dims == ("checkpoint", "coef") and ds["beta"].attrs["long_name"] == "beta"
        np.testing.assert_array_equal(ds["checkpoint"].values, np.arange(4))
        assert ds.attrs["experiment"] == "e" and ds.attrs["alpha"] == 0.5 and ds.attrs["seed"] == 3
        assert ds.attrs["settings"] == '{"depth": 2}' and "git_commit" in ds.attrs
    again = Record.read(path)
    np.testing.assert_array_equal(again["beta"], beta)
    assert again.variables["theta_init_1"][0] == ("param_1",) and again.attrs["experiment"] == "e"


def test_a_dataset_written_by_xarray_reads_as_a_dataset(tmp_path):
    data = Dataset(np.array([[1.0, 2.0], [0.0, -3.0]]), np.array([1.0, -1.0]), "classification", "mine")
    write_netcdf(data.record().to_xarray(), tmp_path / "d.nc")
    read = Dataset.read(tmp_path / "d.nc")
    np.testing.assert_array_equal(read.X, data.X)
    np.testing.assert_array_equal(read.y, data.y)
    assert (read.task, read.name, read.basis) == ("classification", "mine", None)


def test_groups_of_strings_integers_and_labelled_dimensions_read_alike_with_xarray_and_netcdf4(tmp_path):
    from implicit_bias.netcdf import read_records, write_records

    group = Record(
        {
            "claim": (("claim",), np.array(["theorem1", "corollary1"], dtype=object), {"long_name": "claim id"}),
            "applicable": (("claim",), np.array([1, 0], dtype=np.int8), {}),
            "reason": (("claim",), np.array(["ok", "α -> 0 (unicode)"], dtype=object), {}),
            "beta_pred": (("claim", "coef"), np.array([[0.5, np.nan], [1.0, 2.0]]), {"units": "1"}),
        },
        {"alpha": 0.5, "architecture_label": "fc_L2"},
    )
    path = write_records({"fc_L2_a0.5_s0": group}, tmp_path / "p.nc", attrs={"experiment": "e"})
    (again,) = read_records(path).values()
    assert again["claim"].tolist() == ["theorem1", "corollary1"] and again["reason"][1] == "α -> 0 (unicode)"
    assert again["applicable"].dtype == np.int8 and again["applicable"].tolist() == [1, 0]
    np.testing.assert_array_equal(again["beta_pred"], group["beta_pred"])
    assert "coef" not in again and again.attrs["architecture_label"] == "fc_L2"
    groups = xr.open_groups(path)
    try:
        ds = groups["/fc_L2_a0.5_s0"]
        assert ds["claim"].values.tolist() == ["theorem1", "corollary1"] and "claim" in ds.coords
        np.testing.assert_array_equal(ds["beta_pred"].sel(claim="corollary1").values, [1.0, 2.0])
        np.testing.assert_array_equal(ds["coef"].values, [0, 1])
        assert groups["/"].attrs["experiment"] == "e" and "git_commit" in groups["/"].attrs
    finally:
        for ds in groups.values():
            ds.close()
