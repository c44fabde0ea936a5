"""Initialisations v_l(0) = alpha * v̄_l, and the check of each theorem's premise on them.

Schemes (``INITS``), each seeded by the run's seed:
- ``paper``: Section 6. A seeded random unit direction z̄ (the same for every architecture, so all
  networks start at the same beta), random v̄_1..v̄_{L-1}, and the least-norm v̄_L with
  beta(v̄) = z̄, then the layers rescaled to equal norms (beta unchanged) and, for 2-layer networks,
  the first layer scaled up and the second down until the gap of Theorems 2, 3 and 5 holds (with
  a factor 2 to spare) in the SVD of M(x) (one point) or Assumption 1's coordinates; hence
  beta(Theta(0)) = alpha^L z̄ (alpha^2 z̄ for the paper's 2-layer networks).
- ``theorem2``: the gap condition |[U_l^T v̄_l]_j|^2 - |[U_L^T v̄_L]_j|^2 >= lambda > 0 in the
  coordinates of Assumption 1 (Theorem 2, Corollaries 2 and 3).
- ``theorem3`` / ``theorem5``: the same gap in the SVD of M(x) for the single data point.
- ``theorem4``: v̄_l = U_l eta̅ (l < L), v̄_L = 0, |eta̅_j| >= 1/2 (Theorem 4, Corollaries 5 and 6; for
  full-length conv the even variant, with even eta̅).
- ``uniform``: the Theorem 4 init with eta̅ = 1 (Woodworth et al.'s uniform scale alpha for diagonal
  networks): Remark 4's two ends are then the min-l1 and min-l2 interpolants themselves.
- ``corollary7``: W_l(0) = alpha I (eta̅ = 1), W_L(0) = 0.
- ``theorem6``: fully-connected, W̄_l random orthogonal and |w̄_L| = 1/2, which meets 6.1's conditions.
- ``random``: every v̄_l ~ N(0, I / k_l).
- ``full_support``: Theorem 2's gap for one data point and L >= 3, in Assumption 1's real coordinates (diag,
  transform), each coordinate scaled so that all of them blow up at the same time: the limit then keeps
  every coordinate, |rho_j| ∝ |[S x]_j|^(-L/(L-2)), the full-support KKT point of the l_(2/L) max-margin
  problem. (From generic inits the coordinate that blows up first takes the whole limit, whose support is
  then no larger than its one active constraint, and stationarity holds for every exponent.)

Or a researcher's own directions, the same for every seed: ``{vectors: [[...], ..., [...]]}`` inline, or
``{file: path.npz}`` holding arrays ``v_1`` .. ``v_L``; checked against the network's layer shapes. The
theorems' premises are judged on whatever directions a run starts from, these included.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .architectures import orthogonal
from .decompositions import is_even, orthogonal_decomposition, single_point_svd
from .networks import LinearTensorNetwork


@dataclass(frozen=True)
class Premise:
    """Whether initial directions meet a theorem's premise, and its margin lambda."""

    theorem: str
    holds: bool
    lam: float
    reason: str


def _random_vectors(rng, shape):
    return [rng.standard_normal(k) / np.sqrt(k) for k in shape]


def _last_layer_map(network: LinearTensorNetwork, vectors) -> np.ndarray:
    """B (d x k_L) with beta(v_1, .., v_{L-1}, v_L) = B v_L."""
    B = np.zeros((network.dim, network.shape[-1]))
    factors = np.prod([vectors[l][network.index[:, l]] for l in range(network.depth - 1)], axis=0)
    np.add.at(B, (network.coord, network.index[:, -1]), network.weight * factors)
    return B


def _paper(network, X, rng):
    direction = rng.standard_normal(network.dim)
    direction /= np.linalg.norm(direction)
    vectors = _random_vectors(rng, network.shape)[:-1]
    B = _last_layer_map(network, vectors)
    last = np.linalg.lstsq(B, direction, rcond=None)[0]
    if not np.allclose(B @ last, direction, atol=1e-10):
        raise ValueError(f"paper init: {network.describe()} cannot start at the chosen beta direction")
    vectors = vectors + [last]
    # Rescale the layers (beta is multilinear, so it is unchanged): to equal norms, and for
    # 2-layer networks further so that the first layer dominates by the gap that Theorems 2, 3
    # and 5 ask for, which the predicted limit points of Figure 1 rely on.
    norms = np.array([np.linalg.norm(v) for v in vectors])
    vectors = [v * np.exp(np.mean(np.log(norms))) / n for v, n in zip(vectors, norms)]
    U = _two_layer_coordinates(network, X)
    if U is not None:
        a, b = np.abs(U[0].T @ vectors[0]), np.abs(U[1].T @ vectors[1])
        c = max(1.0, (2 * np.max(b**2 / np.maximum(a**2, 1e-300))) ** 0.25)
        vectors = [c * vectors[0], vectors[1] / c]
    return vectors


def _two_layer_coordinates(network, X):
    """(U_1, U_2) of the gap condition for a 2-layer network: the SVD of M(x) for one point, else Assumption 1."""
    if network.depth != 2:
        return None
    if X.shape[0] == 1:
        U1, _, U2 = single_point_svd(network, X[0])
        return U1, U2
    decomposition = orthogonal_decomposition(network)
    return None if decomposition is None else decomposition.U


def _gap_init(U, rng, shape):
    """Random v̄_1..v̄_{L-1}; v̄_L scaled so that the gap holds with half the smallest |U_l^T v̄_l|^2."""
    vectors = _random_vectors(rng, shape)
    smallest = min(np.min(np.abs(u.T @ v) ** 2) for u, v in zip(U[:-1], vectors[:-1]))
    largest_last = np.max(np.abs(U[-1].T @ vectors[-1]) ** 2)
    vectors[-1] *= np.sqrt(0.5 * smallest / largest_last) if largest_last > 0 else 0.0
    return vectors


def _decomposition(network, scheme, *, real=False, X=None):
    decomposition = None
    if real and network.name == "conv":
        if X is not None and not all(is_even(x) for x in X):
            raise ValueError(f"{scheme} init on full-length conv needs even data (Corollary 6)")
        decomposition = orthogonal_decomposition(network, even=True)
    else:
        decomposition = orthogonal_decomposition(network)
    if decomposition is None:
        raise ValueError(
            f"{scheme} init needs the orthogonal decomposition of Assumption 1, "
            f"which {network.describe()} does not have (the architectures that can: {', '.join(orthogonal())}; "
            "conv with full-length filters)"
        )
    if real and not decomposition.is_real:
        raise ValueError(f"{scheme} init needs a real decomposition (Theorem 4)")
    return decomposition


def _theorem2(network, X, rng):
    return _gap_init(_decomposition(network, "theorem2").U, rng, network.shape)


def _single_point(scheme):
    def init(network, X, rng):
        if network.depth != 2 or X.shape[0] != 1:
            raise ValueError(f"{scheme} init needs a 2-layer network and one data point (n = 1)")
        U1, _, U2 = single_point_svd(network, X[0])
        return _gap_init((U1, U2), rng, network.shape)

    return init


def _even_eta(rng, dim):
    """A random even vector with entries of size between 1/2 and 3/2."""
    half = rng.choice([-1.0, 1.0], size=dim // 2 + 1) * rng.uniform(0.5, 1.5, size=dim // 2 + 1)
    return np.concatenate([half, half[1 : (dim + 1) // 2][::-1]])


def _theorem4(network, X, rng):
    decomposition = _decomposition(network, "theorem4", real=True, X=X)
    m = decomposition.S.shape[0]
    if network.name == "conv":
        eta = _even_eta(rng, m)
    else:
        eta = rng.choice([-1.0, 1.0], size=m) * rng.uniform(0.5, 1.5, size=m)
    return [u @ eta for u in decomposition.U[:-1]] + [np.zeros(network.shape[-1])]


def _eta_one(theorem):
    """Theorem 4's init with eta̅ = 1 (even, so full conv may use it too)."""

    def init(network, X, rng):
        decomposition = _decomposition(network, theorem, real=True, X=X)
        eta = np.ones(decomposition.S.shape[0])
        return [u @ eta for u in decomposition.U[:-1]] + [np.zeros(network.shape[-1])]

    return init


def _theorem6(network, X, rng):
    if network.name != "fc" or any(w != network.dim for w in network.settings["widths"]):
        raise ValueError("theorem6 init needs a fully-connected network with every width equal to d")
    d = network.dim
    layers = [np.linalg.qr(rng.standard_normal((d, d)))[0].ravel(order="F") for _ in range(network.depth - 1)]
    last = rng.standard_normal(d)
    return layers + [0.5 * last / np.linalg.norm(last)]


def blow_up_time(r: float, L: int) -> float:
    """When the scalar flow of one coordinate, v_1 = .. = v_{L-1} = a, v_L = b, from (1, .., 1, r) with
    da/ds = a^(L-2) b and db/ds = a^(L-1), blows up: a^2 - b^2 = 1 - r^2 is conserved, so
    s* = int_r^inf db / (b^2 + 1 - r^2)^((L-1)/2)."""
    from scipy.integrate import quad

    c = 1.0 - r * r
    return quad(lambda b: (b * b + c) ** (-(L - 1) / 2), r, np.inf, epsabs=0.0, epsrel=1e-13)[0]


def _full_support(network, X, rng):
    if network.depth < 3 or X.shape[0] != 1:
        raise ValueError("full_support init needs a network of depth >= 3 and one data point (n = 1)")
    decomposition = _decomposition(network, "full_support")
    if not decomposition.is_real:
        raise ValueError("full_support init needs a real decomposition (diag, transform)")
    s = decomposition.S @ X[0]
    if np.any(np.abs(s) < 1e-12 * np.abs(s).max()):
        raise ValueError("full_support init needs every coordinate [S x]_j of the data point to be non-zero")
    L = network.depth
    r = rng.uniform(0.2, 0.8, size=s.size)  # the last layer's share of each coordinate: the gap is k^2 (1 - r^2)
    # Coordinate j runs the scalar flow at speed |s_j| k_j^(L-2) (the flow's common clock times |s_j|, the scale
    # k_j sped up by k_j^(L-2)): equal blow-up times when k_j^(L-2) = s*(r_j) / |s_j|.
    k = (np.array([blow_up_time(rj, L) for rj in r]) / np.abs(s)) ** (1.0 / (L - 2))
    k /= k.max()
    eta = [k] * (L - 1) + [np.sign(s) * r * k]  # every coordinate grows from the start (s is y x's)
    return [u @ e for u, e in zip(decomposition.U, eta)]


def _random(network, X, rng):
    return _random_vectors(rng, network.shape)


INITS = {
    "paper": _paper,
    "theorem2": _theorem2,
    "theorem3": _single_point("theorem3"),
    "theorem4": _theorem4,
    "theorem5": _single_point("theorem5"),
    "theorem6": _theorem6,
    "corollary7": _eta_one("corollary7"),
    "uniform": _eta_one("theorem4"),
    "random": _random,
    "full_support": _full_support,
}
LABELLED = {"full_support"}  # schemes that see the points y_i x_i


def initial_directions(scheme: str, network: LinearTensorNetwork, X, *, seed: int, y=None) -> list[np.ndarray]:
    """The directions v̄_1..v̄_L of ``scheme`` for this network and data, seeded by ``seed``. A scheme of
    ``LABELLED`` sees the points y_i x_i (classification labels ``y``: the flow depends on nothing else).

    Raises:
        ValueError: unknown scheme, or a network/data the scheme cannot serve.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of {sorted(INITS)}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if scheme in LABELLED:
        if y is None:
            raise ValueError(f"{scheme} init needs the data's classification labels")
        X = X * np.asarray(y, dtype=np.float64)[:, None]
    return INITS[scheme](network, X, rng)


def initialize(scheme: str | dict, network: LinearTensorNetwork, X, *, alpha: float, seed: int, y=None) -> np.ndarray:
    """Flat initial parameters v_l(0) = alpha * v̄_l, for a scheme or given directions (a dict)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
    if isinstance(scheme, dict):
        return alpha * network.flatten(given_directions(scheme, network))
    return alpha * network.flatten(initial_directions(scheme, network, X, seed=seed, y=y))


def resolve_scheme(scheme: str | dict, network: LinearTensorNetwork, X, y=None) -> tuple[str | dict, str]:
    """The scheme to use for this network: ``scheme`` where it applies, else ``random``, with a note.

    An experiment may mix networks that a theorem's init cannot serve (e.g. theorem5 and a depth-3
    net); those are trained from the random init, and their checks of that theorem come out
    not-applicable. Given directions (a dict) never fall back: they fit the network or are an error.
    """
    if isinstance(scheme, dict):
        return scheme, ""
    if scheme not in INITS:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of {sorted(INITS)}")
    try:
        initial_directions(scheme, network, X, seed=0, y=y)
    except ValueError as error:
        return "random", f"{scheme} does not apply ({error}); trained from the random init"
    return scheme, ""


# --- a researcher's own initial directions --------------------------------------------------------
GIVEN = ("vectors", "file")  # init: {vectors: [[...], ...]} inline, or {file: path.npz} with arrays v_1..v_L


def describe_init(init: str | dict) -> str:
    """The init as run files and check rows store it: a scheme name, or the given directions' source as JSON."""
    return init if isinstance(init, str) else json.dumps(init, sort_keys=True)


def read_init_file(path) -> tuple[list[np.ndarray], str]:
    """(v̄_1..v̄_L, SHA-256 of the file) from a .npz file holding arrays v_1 .. v_L (and nothing else)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(
            f"{path}: an init file is a .npz with arrays v_1 .. v_L, got a {path.suffix or 'suffix-less'} file"
        )
    try:
        data = path.read_bytes()
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            named = {name: arrays[name] for name in arrays.files}
    except FileNotFoundError:
        raise ValueError(f"{path}: no such init file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    for name, values in named.items():  # np.asarray(complex, float64) would drop the imaginary part, warning only
        if values.dtype.kind not in "biuf":
            raise ValueError(f"{path}: {name} holds {values.dtype} values; expected real numbers")
    named = {name: values.astype(np.float64) for name, values in named.items()}
    layers = sorted(named, key=lambda name: int(name[2:]) if name.startswith("v_") and name[2:].isdigit() else -1)
    expected = [f"v_{l}" for l in range(1, len(named) + 1)]
    if layers != expected:
        raise ValueError(f"{path}: expected arrays named v_1 .. v_L (one per layer), got {sorted(named)}")
    return [named[name] for name in expected], hashlib.sha256(data).hexdigest()


def given_directions(init: dict, network: LinearTensorNetwork) -> list[np.ndarray]:
    """The directions v̄_1..v̄_L given by ``init`` ({vectors: ...} or {file: ...}), checked against the
    network's layer shapes k_1..k_L."""
    if not isinstance(init, dict) or len(init) != 1 or next(iter(init)) not in GIVEN:
        raise ValueError(
            f"init must be a scheme name {sorted(INITS)} or one of {{vectors: [...]}}, {{file: path.npz}}; got {init!r}"
        )
    if "file" in init:
        vectors, _ = read_init_file(init["file"])
    else:
        vectors = init["vectors"]
        if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
            raise ValueError("init.vectors: expected a list of L lists of numbers, one per layer")
        try:
            vectors = [np.asarray(v, dtype=np.float64) for v in vectors]
        except (TypeError, ValueError):
            raise ValueError("init.vectors: expected numbers only") from None
    shape = tuple(network.shape)
    if len(vectors) != len(shape):
        raise ValueError(f"{len(vectors)} initial vectors given; {network.describe()} has L = {len(shape)} layers")
    for l, (v, k) in enumerate(zip(vectors, shape), 1):
        if v.ndim != 1 or v.size != k:
            raise ValueError(f"v_{l} has shape {v.shape}; layer {l} of {network.describe()} has k_{l} = {k} entries")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"v_{l} holds non-finite values (NaN or inf)")
    if all(not np.any(v) for v in vectors):
        raise ValueError("every initial vector is zero: the flow has nowhere to start")
    return vectors


# --- premises ---------------------------------------------------------------------------------
def _gap_premise(theorem, U, vectors) -> Premise:
    last = np.abs(U[-1].T @ vectors[-1]) ** 2
    lam = min(float(np.min(np.abs(u.T @ v) ** 2 - last)) for u, v in zip(U[:-1], vectors[:-1]))
    if lam > 0:
        return Premise(theorem, True, lam, f"gap condition holds with lambda = {lam:.3g}")
    return Premise(theorem, False, lam, f"gap condition fails: min_j (|U_l^T v̄_l|^2 - |U_L^T v̄_L|^2) = {lam:.3g} <= 0")


# each premise ``premise`` checks, in words (the claim catalog, docs/claims.md, prints them)
PREMISES = {
    "theorem2": "the gap condition of Theorem 2: min_j (|U_lᵀv̄_l|²_j − |U_Lᵀv̄_L|²_j) > 0 for every l < L",
    "theorem3": "Theorem 3's gap condition on the top singular vectors of M(x) (2 layers, one data point)",
    "theorem4": "v̄_l = U_l η̄ for l < L and v̄_L = 0, with a real decomposition (full conv: even data and init)",
    "theorem5": "Theorem 5's gap condition on the top singular vectors of M(x) (2 layers, one data point)",
    "theorem6": "conditions (1) and (2) of Theorem 6.1 (fc networks with every width d)",
    "corollary7": "a Theorem 4 init in the sensors' eigenbasis",
}


def premise(theorem: str, network: LinearTensorNetwork, vectors, X) -> Premise:
    """Does the initialisation (directions ``vectors``) meet ``theorem``'s premise on data X?

    ``theorem`` is the premise's scheme: theorem2 .. theorem6 (the claim registry says which premise
    each claim relies on).
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    vectors = [np.asarray(v, dtype=np.float64) for v in vectors]
    try:
        if theorem == "theorem2":
            return _gap_premise(theorem, _decomposition(network, theorem).U, vectors)
        if theorem in ("theorem3", "theorem5"):
            if network.depth != 2 or X.shape[0] != 1:
                return Premise(theorem, False, np.nan, "needs a 2-layer network and a single data point")
            U1, _, U2 = single_point_svd(network, X[0])
            return _gap_premise(theorem, (U1, U2), vectors)
        if theorem in ("theorem4", "corollary7"):  # Corollary 7's init is a Theorem 4 init
            return _theorem4_premise(theorem, network, vectors, X)
        if theorem == "theorem6":
            return _theorem6_premise(theorem, network, vectors)
    except ValueError as error:
        return Premise(theorem, False, np.nan, str(error))
    raise ValueError(f"no initialisation premise is defined for {theorem!r}")


def _theorem4_premise(theorem, network, vectors, X) -> Premise:
    decomposition = _decomposition(network, theorem, real=True, X=X)
    if network.name == "conv" and not all(is_even(v) for v in vectors):
        return Premise(theorem, False, np.nan, "Corollary 6 needs even initial directions")
    if np.max(np.abs(vectors[-1])) > 0:
        return Premise(theorem, False, np.nan, "Theorem 4 needs v̄_L = 0")
    eta = decomposition.U[0].T @ vectors[0]
    for u, v in zip(decomposition.U[:-1], vectors[:-1]):
        if not np.allclose(u @ eta, v, atol=1e-10 * max(1.0, np.abs(v).max())):
            return Premise(theorem, False, np.nan, "Theorem 4 needs v̄_l = U_l eta̅ with one eta̅ for all l < L")
    lam = float(np.min(eta**2))
    if lam > 0:
        return Premise(theorem, True, lam, f"v̄_l = U_l eta̅, v̄_L = 0, min eta̅_j^2 = {lam:.3g}")
    return Premise(theorem, False, lam, "Theorem 4 needs every eta̅_j != 0")


def _theorem6_premise(theorem, network, vectors) -> Premise:
    if network.name != "fc" or any(w != network.dim for w in network.settings["widths"]):
        return Premise(theorem, False, np.nan, "Theorem 6 is stated for fc networks with all widths d")
    d, L = network.dim, network.depth
    W = [v.reshape(d, d, order="F") for v in vectors[:-1]]
    for l in range(L - 2):
        gap = np.linalg.eigvalsh(W[l].T @ W[l] - W[l + 1] @ W[l + 1].T).min()
        if gap < -1e-12:
            return Premise(theorem, False, gap, f"condition (1) fails at layer {l + 1}: min eigenvalue {gap:.3g}")
    lam = float(np.linalg.eigvalsh(W[-1].T @ W[-1] - np.outer(vectors[-1], vectors[-1])).min())
    if lam > 0:
        return Premise(theorem, True, lam, f"conditions (1) and (2) hold with lambda = {lam:.3g}")
    return Premise(theorem, False, lam, f"condition (2) fails: min eigenvalue {lam:.3g} <= 0")
