#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one short run (a few minutes): the CUDA tests (the torch backend's GD and the
# flow's batch on cuda against the cpu), then scale.py's batched flows on cuda beside the same runs on the default
# backend, a batch of 16 runs and of one. Run it from the repository's root on a machine with a GPU and numpy, scipy,
# numba, torch, threadpoolctl and pytest (the package itself need not be installed: src/ is put on the path).
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'; print(torch.cuda.get_device_name())"
python3 -m pytest -q -p no:cacheprovider tests/unit/test_batched_flow.py tests/unit/test_training.py -k cuda
python3 benchmarks/scale.py --cases batched --device cuda --runs 16
python3 benchmarks/scale.py --cases batched --device cuda --runs 1
