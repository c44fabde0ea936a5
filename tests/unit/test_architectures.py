"""Each architecture is one module of implicit_bias.architectures: what it declares reaches every part of the
pipeline (build, config schema, label, structured operator, decomposition, the theorems that need one) without
another file. A new architecture, written here as a user would write its module, shows it."""

import numpy as np
import pytest

from implicit_bias import architectures, networks, operators
from implicit_bias.architectures.base import Architecture, check_depth, check_dim, make_network
from implicit_bias.decompositions import OrthogonalDecomposition, orthogonal_decomposition
from implicit_bias.experiments import schema_problems
from implicit_bias.inits import initialize, premise
from implicit_bias.labels import architecture_label
from implicit_bias.training import GradientFlow, Problem
from tests.unit.test_config_validation import REGRESSION, SCHEMA_FILE, edited


# --- a new architecture, as its module would read --------------------------------------------------------
def weighted_diag(dim: int, *, depth: int, weights=None):
    """A diagonal network whose input is weighted first: [M(x)]_{j..j} = w_j x_j."""
    check_dim(dim)
    check_depth(depth)
    weights = [1.0] * dim if weights is None else [float(w) for w in weights]
    if len(weights) != dim or min(weights) <= 0:
        raise ValueError(f"weighted_diag: weights must be {dim} positive numbers, got {weights}")
    entries = lambda: [(j, (j,) * depth, weights[j]) for j in range(dim)]  # noqa: E731
    return make_network(WEIGHTED_DIAG, dim, (dim,) * depth, entries, {"depth": depth, "weights": weights})


class WeightedDiagonal(operators.Operator):
    def __init__(self, network):
        super().__init__(network)
        self.weights = np.asarray(network.settings["weights"])

    def beta_of(self, layers):
        return operators.constant(self.weights, layers[0]) * operators.product(layers)

    def pullback_of(self, u, layers):
        wu = operators.constant(self.weights, u) * u
        return [wu * operators.product(layers[:l] + layers[l + 1 :]) for l in range(len(layers))]


WEIGHTED_DIAG = Architecture(
    name="weighted_diag",
    build=weighted_diag,
    description="a diagonal network on w * x",
    settings={"weights": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}}},
    operator=WeightedDiagonal,
    entry_count=lambda dim, shape, settings: dim,
    label=lambda spec: ["w" + "-".join(f"{w:g}" for w in spec["weights"])] if spec.get("weights") else [],
    decomposition=lambda network, even=False: OrthogonalDecomposition(
        np.diag(network.settings["weights"]), (np.eye(network.dim),) * network.depth
    ),
)


@pytest.fixture
def registered(monkeypatch):
    """What adding the module's name to architectures._MODULES does."""
    monkeypatch.setitem(architectures.ARCHITECTURES, "weighted_diag", WEIGHTED_DIAG)
    return WEIGHTED_DIAG


def test_a_new_architecture_is_built_validated_and_labelled_from_its_module_alone(registered):
    spec = {"name": "weighted_diag", "depth": 2, "weights": [1.0, 2.0, 0.5, 1.0, 3.0]}
    network = architectures.build_network(spec, 5)
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(np.diag(network.data_tensor(x)), np.array(spec["weights"]) * x)
    assert architecture_label(spec) == "weighted_diag_L2_w1-2-0.5-1-3"
    config = {"experiments": {"exp": edited(REGRESSION, ["architectures"], [spec])}}
    assert schema_problems(config, SCHEMA_FILE) == []
    config = {"experiments": {"exp": edited(REGRESSION, ["architectures"], [{**spec, "weights": [1.0, -1.0]}])}}
    assert schema_problems(config, SCHEMA_FILE) == [
        "experiments.exp.architectures.0.weights.1: -1.0 is less than or equal to the minimum of 0"
    ]
    assert "weighted_diag" in architectures.orthogonal()


def test_a_new_architectures_operator_and_decomposition_serve_the_solvers_and_the_theorems(registered, monkeypatch):
    network = architectures.build_network({"name": "weighted_diag", "depth": 3, "weights": [1.0, 2.0, 0.5, 3.0]}, 4)
    rng = np.random.default_rng(0)
    theta, u = rng.standard_normal((2, network.n_params)), rng.standard_normal((2, network.dim))
    structured, reference = operators.operator(network), operators.EntryList(network)
    assert isinstance(structured, WeightedDiagonal)
    np.testing.assert_allclose(structured.beta(theta), reference.beta(theta), rtol=1e-13)
    np.testing.assert_allclose(structured.pullback(u, theta), reference.pullback(u, theta), rtol=1e-13)
    # Assumption 1 from its declaration: eq. (9) rebuilds M(x), and Theorem 2's init and premise follow
    x = rng.standard_normal(4)
    np.testing.assert_allclose(orthogonal_decomposition(network).data_tensor(x), network.data_tensor(x), atol=1e-14)
    vectors = network.unflatten(initialize("theorem2", network, x[None], alpha=1.0, seed=0))
    assert premise("theorem2", network, vectors, x[None]).holds
    # the flow trains it, on the entry list and on its operator alike
    X, y = rng.standard_normal((2, 4)), np.array([1.0, -0.5])
    theta0 = initialize("random", network, X, alpha=0.5, seed=1)[None]
    flow = GradientFlow(checkpoints=20)
    (by_entries,) = flow.run(Problem(network, X, y, "regression"), theta0)
    assert by_entries.status == "converged"
    np.testing.assert_allclose(X @ by_entries.beta[-1], y, atol=1e-8)
    monkeypatch.setattr(networks, "ENTRY_LIMIT", 0)
    monkeypatch.setattr(networks, "PARAM_LIMIT", 0)
    assert network.structured
    (by_operator,) = flow.run(Problem(network, X, y, "regression"), theta0)
    np.testing.assert_allclose(by_operator.beta[-1], by_entries.beta[-1], atol=1e-7)


def test_every_architecture_declares_its_settings_and_each_setting_belongs_to_one():
    owners = {}
    for name, arch in architectures.ARCHITECTURES.items():
        for key in arch.settings:
            assert key not in owners, f"{key} is declared by {owners.get(key)} and {name}"
            owners[key] = name
    assert architectures.orthogonal() == ("diag", "conv", "matrix_sensing", "transform")
    assert [name for name, a in architectures.ARCHITECTURES.items() if a.operator is None] == ["generic"]


def test_an_unknown_architecture_or_setting_is_refused_naming_what_is_known():
    with pytest.raises(ValueError, match=r"^unknown architecture 'resnet'; expected one of \['conv', 'diag'"):
        architectures.build_network({"name": "resnet", "depth": 2}, 3)
    with pytest.raises(ValueError, match=r"^fc: unknown setting\(s\) \['filters'\]; known: \['depth', 'widths'\]$"):
        architectures.build_network({"name": "fc", "depth": 2, "filters": [2]}, 3)
