"""The integer codes the compiled kernels share with Python (tasks and flow outcomes): here, not in
``kernels``, so that code using an ahead-of-time build of the kernels never imports numba."""

import math

CLASSIFICATION = 0
REGRESSION = 1

FLOW_CONVERGED = 0
FLOW_MAX_STEPS = 1
FLOW_STALLED = 2
FLOW_NONFINITE = 3
FLOW_STIFF = 4  # explicit steps exhausted their budget for one level: hand over to an implicit method
NEAR_TARGET = math.log(4.0)  # log-loss slack: a factor 2 in the residual of a regression target
