"""Fixtures of the workflow tests."""

import shutil

import pytest

from tests.helpers import TINY, snakemake


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """The tiny config run to completion once, shared by the tests that inspect or extend it."""
    workdir = tmp_path_factory.mktemp("tiny")
    shutil.copy(TINY, workdir / "config.yaml")
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir
