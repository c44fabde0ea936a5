"""Compiled (numba) training loops over the sparse entry list of a linear tensor network.

One run is one flat parameter vector; a batch of runs shares the network and the data and runs in
parallel (``prange``) — runs never interact, so results do not depend on the thread count.
No fastmath: results must be reproducible bit for bit.

Gradient descent is the paper's protocol.  The exact flow integrates gradient flow re-timed by
the log-loss itself: with tau = -log L and g = grad log L,

    d Theta / d tau = -g / |g|^2,

which traces the gradient-flow path (only the clock changes) and reaches any loss level, e.g.
log L = -1e6, in float64; recording at loss levels is then exact.  The integrator is the
Dormand-Prince 5(4) pair with an FSAL stage and standard step control.
"""

import numpy as np
from numba import config, njit, prange

from .cache import numba_cache_directory
from .codes import (
    CLASSIFICATION,
    FLOW_CONVERGED,
    FLOW_MAX_STEPS,
    FLOW_NONFINITE,
    FLOW_STALLED,
    FLOW_STIFF,
    NEAR_TARGET,
)

# numba keys its cache on this file's timestamp alone, but the build bakes in codes.py's constants and
# numba's own version too: the cache lives in a folder named by all of them (training.cache.build_key)
config.CACHE_DIR = str(numba_cache_directory())


@njit(cache=True)
def _beta(theta, pos, coord, weight, beta):
    for k in range(beta.size):  # a loop, not beta[:] = 0: a slice costs a view at every call
        beta[k] = 0.0
    for e in range(pos.shape[0]):
        p = weight[e]
        for l in range(pos.shape[1]):
            p *= theta[pos[e, l]]
        beta[coord[e]] += p


@njit(cache=True)
def _outputs(X, beta, f):
    for i in range(X.shape[0]):
        s = 0.0
        for k in range(X.shape[1]):
            s += X[i, k] * beta[k]
        f[i] = s


@njit(cache=True)
def _pullback(theta, pos, coord, weight, X, r, u, grad):
    """grad = M(X^T r) o (v_1, .., I, .., v_L) for every layer l (eq. 7 without the sign)."""
    for k in range(X.shape[1]):
        s = 0.0
        for i in range(X.shape[0]):
            s += X[i, k] * r[i]
        u[k] = s
    grad[:] = 0.0
    L = pos.shape[1]
    for e in range(pos.shape[0]):
        c = weight[e] * u[coord[e]]
        for l in range(L):
            p = c
            for m in range(L):
                if m != l:
                    p *= theta[pos[e, m]]
            grad[pos[e, l]] += p


@njit(cache=True)
def _log_sum_exp_margins(y, f):
    top = -np.inf
    for i in range(f.size):
        top = max(top, -y[i] * f[i])
    s = 0.0
    for i in range(f.size):
        s += np.exp(-y[i] * f[i] - top)
    return top + np.log(s)


# --- gradient descent --------------------------------------------------------------------------
# Runs are processed in blocks, one column per run, with the loop over the block innermost: one
# run's steps form a dependent chain (each waits for an exp), so interleaving independent runs
# is what keeps the core busy.  Every run sees exactly the same operations in the same order,
# so results do not depend on the block a run lands in.  A run alone takes ``_gd_run`` (no loops
# over a block); under numba, a batch of a small network takes a block kernel generated for it
# (specialised.py).  All three compute the same bits.
@njit(cache=True)
def _gd_block(th, problem, lr, checkpoints, beta_rec, loss_rec, log_loss_rec, theta_rec, failed_at):
    """GD in place on th (P, B), one column per run; records at the given steps."""
    pos, coord, weight, X, y, task = problem
    n, d = X.shape
    E, L = pos.shape
    P, B = th.shape
    beta = np.empty((d, B))
    r = np.empty((n, B))
    u = np.empty((d, B))
    grad = np.empty((P, B))
    prod = np.empty(B)
    f = np.empty((n, B))
    loss = np.empty(B)
    prefix = np.empty((L + 1, B))
    suffix = np.empty(B)
    c = 0
    for t in range(checkpoints[checkpoints.size - 1] + 1):
        beta[:, :] = 0.0
        for e in range(E):
            for b in range(B):
                prod[b] = weight[e]
            for l in range(L):
                row = pos[e, l]
                for b in range(B):
                    prod[b] *= th[row, b]
            k = coord[e]
            for b in range(B):
                beta[k, b] += prod[b]
        loss[:] = 0.0
        for i in range(n):
            f[i, :] = 0.0
            for k in range(d):
                xik = X[i, k]
                for b in range(B):
                    f[i, b] += xik * beta[k, b]
            yi = y[i]
            if task == CLASSIFICATION:
                for b in range(B):
                    ex = np.exp(-yi * f[i, b])
                    r[i, b] = -yi * ex
                    loss[b] += ex
            else:
                for b in range(B):
                    r[i, b] = f[i, b] - yi
                    loss[b] += 0.5 * r[i, b] * r[i, b]
        for b in range(B):
            if failed_at[b] < 0 and not np.isfinite(loss[b]):
                failed_at[b] = t
        if t == checkpoints[c]:
            for b in range(B):
                for k in range(d):
                    beta_rec[b, c, k] = beta[k, b]
                for p in range(P):
                    theta_rec[b, c, p] = th[p, b]
                loss_rec[b, c] = loss[b]
                log_loss_rec[b, c] = _log_sum_exp_margins(y, f[:, b]) if task == CLASSIFICATION else np.log(loss[b])
            c += 1
            if c == checkpoints.size:
                return
        for k in range(d):
            u[k, :] = 0.0
            for i in range(n):
                xik = X[i, k]
                for b in range(B):
                    u[k, b] += xik * r[i, b]
        grad[:, :] = 0.0
        for e in range(E):  # grad_l += w u_k prod_{m<l} v_m prod_{m>l} v_m, by prefix and suffix products
            k = coord[e]
            for b in range(B):
                prefix[0, b] = weight[e] * u[k, b]
            for l in range(L):
                row = pos[e, l]
                for b in range(B):
                    prefix[l + 1, b] = prefix[l, b] * th[row, b]
            suffix[:] = 1.0
            for l in range(L - 1, -1, -1):
                row = pos[e, l]
                for b in range(B):
                    grad[row, b] += prefix[l, b] * suffix[b]
                    suffix[b] *= th[row, b]
        for p in range(P):
            for b in range(B):
                th[p, b] -= lr * grad[p, b]


@njit(cache=True)
def _gd_run(theta, problem, lr, checkpoints, beta_rec, loss_rec, log_loss_rec, theta_rec):
    """GD in place on one run's contiguous theta (P,); returns the step its loss became non-finite, or -1.

    The same operations in the same order as ``_gd_block`` (the same bits), without its loops over a
    block's runs: alone, a run pays their set-up at every step, 2-3x its arithmetic.
    """
    pos, coord, weight, X, y, task = problem
    n, d = X.shape
    E, L = pos.shape
    P = theta.size
    beta = np.empty(d)
    f = np.empty(n)
    r = np.empty(n)
    u = np.empty(d)
    grad = np.empty(P)
    prefix = np.empty(L + 1)
    rows = pos.ravel()  # one index computation per access, not two
    failed_at = -1
    c = 0
    for t in range(checkpoints[checkpoints.size - 1] + 1):
        for k in range(d):
            beta[k] = 0.0
        for e in range(E):
            p = weight[e]
            for l in range(L):
                p *= theta[rows[e * L + l]]
            beta[coord[e]] += p
        loss = 0.0
        for i in range(n):
            fi = 0.0
            for k in range(d):
                fi += X[i, k] * beta[k]
            f[i] = fi
            yi = y[i]
            if task == CLASSIFICATION:
                ex = np.exp(-yi * fi)
                r[i] = -yi * ex
                loss += ex
            else:
                r[i] = fi - yi
                loss += 0.5 * r[i] * r[i]
        if failed_at < 0 and not np.isfinite(loss):
            failed_at = t
        if t == checkpoints[c]:
            beta_rec[c, :] = beta
            theta_rec[c, :] = theta
            loss_rec[c] = loss
            log_loss_rec[c] = _log_sum_exp_margins(y, f) if task == CLASSIFICATION else np.log(loss)
            c += 1
            if c == checkpoints.size:
                return failed_at
        for k in range(d):
            s = 0.0
            for i in range(n):
                s += X[i, k] * r[i]
            u[k] = s
        for p in range(P):
            grad[p] = 0.0
        for e in range(E):  # as in _gd_block: prefix and suffix products
            prefix[0] = weight[e] * u[coord[e]]
            for l in range(L):
                prefix[l + 1] = prefix[l] * theta[rows[e * L + l]]
            suffix = 1.0
            for l in range(L - 1, -1, -1):
                row = rows[e * L + l]
                grad[row] += prefix[l] * suffix
                suffix *= theta[row]
        for p in range(P):
            theta[p] -= lr * grad[p]
    return failed_at


@njit(parallel=True, cache=True)
def gd_batch(thetas_t, problem, lr, checkpoints, block_starts, beta_rec, loss_rec, log_loss_rec, theta_rec, failed_at):
    """GD on thetas_t (P, runs) in place; ``block_starts`` splits the runs into parallel blocks; ``problem`` is
    (pos, coord, weight, X, y, task), as for the flow."""
    for j in prange(block_starts.size - 1):
        lo, hi = block_starts[j], block_starts[j + 1]
        if hi - lo == 1:  # a run alone (a workflow's training job): no loops over a block
            theta = thetas_t[:, lo].copy()
            failed_at[lo] = _gd_run(
                theta, problem, lr, checkpoints, beta_rec[lo], loss_rec[lo], log_loss_rec[lo], theta_rec[lo]
            )
            thetas_t[:, lo] = theta
        else:
            block = np.ascontiguousarray(thetas_t[:, lo:hi])  # unit stride lets the run loops vectorise
            _gd_block(
                block,
                problem,
                lr,
                checkpoints,
                beta_rec[lo:hi],
                loss_rec[lo:hi],
                log_loss_rec[lo:hi],
                theta_rec[lo:hi],
                failed_at[lo:hi],
            )
            thetas_t[:, lo:hi] = block


# --- exact gradient flow -----------------------------------------------------------------------
# The Dormand-Prince 5(4) pair (Dormand & Prince 1980) as its Butcher tableau: stage s is evaluated
# at theta + step * sum_j DP_A[s, j] k_j; the last row is the 5th-order solution (first same as last:
# its velocity is the next step's first stage); DP_E weighs the stages into the error estimate (the
# 5th- minus the 4th-order solution).
DP_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1 / 5, 0.0, 0.0, 0.0, 0.0, 0.0],
        [3 / 40, 9 / 40, 0.0, 0.0, 0.0, 0.0],
        [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0, 0.0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0, 0.0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0.0],
        [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    ]
)
DP_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])
DP_STAGES = DP_A.shape[0]

# Arguments travel in groups: problem = (pos, coord, weight, X, y, task), the network's entries and
# the data; work = (beta, f, r, u, grad), scratch for one velocity; dp = (ks, stage, new), scratch
# for one Dormand-Prince step; limits = (max_steps, budget); tolerances = (rtol, atol).


@njit(cache=True)
def _velocity(theta, problem, work, out):
    """out = -g/|g|^2 with g = grad log L; returns log L (its value at theta)."""
    pos, coord, weight, X, y, task = problem
    beta, f, r, u, grad = work
    _beta(theta, pos, coord, weight, beta)
    _outputs(X, beta, f)
    if task == CLASSIFICATION:
        log_loss = _log_sum_exp_margins(y, f)
        for i in range(f.size):  # d log L / d f_i = -y_i softmax_i(-y f)
            r[i] = -y[i] * np.exp(-y[i] * f[i] - log_loss)
    else:
        loss = 0.0
        for i in range(f.size):
            loss += 0.5 * (f[i] - y[i]) ** 2
        if not (loss > 0.0 and np.isfinite(loss)):  # an exact fit (loss underflowed) or an overflow
            out[:] = np.nan
            return -np.inf if loss == 0.0 else np.inf
        log_loss = np.log(loss)
        for i in range(f.size):
            r[i] = (f[i] - y[i]) / loss
    _pullback(theta, pos, coord, weight, X, r, u, grad)
    g2 = 0.0
    for p in range(grad.size):
        g2 += grad[p] * grad[p]
    if not (g2 > 0.0 and np.isfinite(g2)):  # a stationary point, or an overflow: no re-timed velocity
        out[:] = np.nan
        return log_loss
    for p in range(grad.size):
        out[p] = -grad[p] / g2
    return log_loss


@njit(cache=True)
def _dp5_step(theta, step, problem, work, dp, tolerances):
    """One Dormand-Prince 5(4) step from theta, whose velocity is ks[0].

    Writes the 5th-order candidate to ``new`` and its velocity to ks[-1] (first-same-as-last);
    returns (RMS error relative to atol + rtol |theta|, log L at the candidate).
    """
    ks, stage, new = dp
    rtol, atol = tolerances
    P = theta.size
    log_loss = 0.0
    for s in range(1, DP_STAGES):
        point = new if s == DP_STAGES - 1 else stage
        for p in range(P):
            increment = 0.0
            for j in range(s):
                increment += DP_A[s, j] * ks[j, p]
            point[p] = theta[p] + step * increment
        log_loss = _velocity(point, problem, work, ks[s])
    err = 0.0
    for p in range(P):
        e = 0.0
        for j in range(DP_STAGES):
            e += DP_E[j] * ks[j, p]
        scale = atol + rtol * max(abs(theta[p]), abs(new[p]))
        err += (step * e / scale) ** 2
    err = np.sqrt(err / P)
    if not (np.isfinite(err) and np.isfinite(log_loss)):
        err = np.inf
    return err, log_loss


@njit(cache=True)
def _advance(theta, tau, goal, h, steps, limits, problem, work, dp, tolerances):
    """Integrate theta in place from tau to exactly ``goal``; h is the proposed step size.

    Returns (status, tau, h, log L at theta, steps taken so far); FLOW_STIFF when this call alone
    took more than ``budget`` steps (the explicit method is then the wrong tool).
    """
    max_steps, budget = limits
    ks, _, new = dp
    log_loss = -tau
    first = steps
    while tau < goal:
        if steps >= max_steps:
            return FLOW_MAX_STEPS, tau, h, log_loss, steps
        if steps - first > budget:
            return FLOW_STIFF, tau, h, log_loss, steps
        clamped = tau + h >= goal
        step = goal - tau if clamped else h
        err, new_log_loss = _dp5_step(theta, step, problem, work, dp, tolerances)
        factor = 5.0 if err == 0.0 else min(5.0, max(0.2, 0.9 * err**-0.2))
        if err <= 1.0:
            steps += 1
            theta[:] = new
            ks[0, :] = ks[DP_STAGES - 1]
            log_loss = new_log_loss
            if clamped:
                tau = goal
                h = min(h, step * factor)  # keep the unclamped proposal unless the step was hard
            else:
                tau += step
                h = step * factor
        else:
            h = step * factor
            if h < 1e-13 * max(1.0, abs(tau)):
                return (FLOW_NONFINITE if not np.isfinite(err) else FLOW_STALLED), tau, h, log_loss, steps
    return FLOW_CONVERGED, tau, h, log_loss, steps


@njit(cache=True)
def _flow_run(theta, problem, levels, tolerances, limits, beta_rec, log_loss_rec, level_rec, theta_rec, resume):
    """Integrate in place from tau = -log L(theta) through the ascending ``levels`` of tau.

    Records beta, theta and the measured log L each time tau reaches a level (the measured loss
    and tau drift apart by the integration error; ``GradientFlow`` then pushes the measured loss
    to the target).  Returns (status, steps); on FLOW_STIFF, ``resume`` holds (the next level's
    index, tau) for an implicit method to carry on from theta.
    """
    pos, coord, weight, X, y, task = problem
    n, d = X.shape
    P = theta.size
    work = (np.empty(d), np.empty(n), np.empty(n), np.empty(d), np.empty(P))
    beta = work[0]
    dp = (np.empty((DP_STAGES, P)), np.empty(P), np.empty(P))
    ks = dp[0]
    log_loss = _velocity(theta, problem, work, ks[0])
    tau = -log_loss
    if not (np.isfinite(tau) and np.all(np.isfinite(ks[0]))):
        if tau >= levels[levels.size - 1]:  # e.g. an exact fit: nothing to integrate
            _beta(theta, pos, coord, weight, beta)
            for c in range(levels.size):
                beta_rec[c, :], theta_rec[c, :], log_loss_rec[c], level_rec[c] = beta, theta, log_loss, tau
            return FLOW_CONVERGED, 0
        return FLOW_NONFINITE, 0
    norm_theta = np.sqrt(np.sum(theta * theta))
    norm_k1 = np.sqrt(np.sum(ks[0] * ks[0]))
    h = 0.01 * norm_theta / norm_k1 if norm_theta > 1e-5 and norm_k1 > 1e-5 else 1e-6
    steps = 0
    target = levels[levels.size - 1]
    c = 0
    while c < levels.size:
        if levels[c] > tau:
            status, tau, h, log_loss, steps = _advance(
                theta, tau, levels[c], h, steps, limits, problem, work, dp, tolerances
            )
            if status == FLOW_STIFF:
                resume[0], resume[1] = c, tau
                return status, steps
            if status == FLOW_STALLED and target + log_loss <= NEAR_TARGET:
                c = levels.size - 1  # at the round-off floor, within a factor 2 of a residual target
            elif status != FLOW_CONVERGED:
                return status, steps
        _beta(theta, pos, coord, weight, beta)
        beta_rec[c, :], theta_rec[c, :], log_loss_rec[c], level_rec[c] = beta, theta, log_loss, tau
        c += 1
    return FLOW_CONVERGED, steps


@njit(parallel=True, cache=True)
def flow_batch(
    thetas, problem, levels, tolerances, limits, beta_rec, log_loss_rec, level_rec, theta_rec, status, steps, resume
):
    """The flow of every run (a row of ``thetas``, its own row of ``levels``) in parallel, in place."""
    for run in prange(thetas.shape[0]):
        status[run], steps[run] = _flow_run(
            thetas[run],
            problem,
            levels[run],
            tolerances,
            limits,
            beta_rec[run],
            log_loss_rec[run],
            level_rec[run],
            theta_rec[run],
            resume[run],
        )


@njit(cache=True)
def flow_velocity(theta, problem):
    """(-g/|g|^2, log L) at theta, for an implicit integrator outside the kernel."""
    X = problem[3]
    n, d = X.shape
    out = np.empty(theta.size)
    log_loss = _velocity(
        theta, problem, (np.empty(d), np.empty(n), np.empty(n), np.empty(d), np.empty(theta.size)), out
    )
    return out, log_loss
