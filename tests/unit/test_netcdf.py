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
