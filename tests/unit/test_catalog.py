"""The claim catalog (docs/claims.md) is the registry, and the repository stands alone."""

import dataclasses
import re
import subprocess

import pytest
import yaml

from implicit_bias import catalog
from implicit_bias.cli import main
from implicit_bias.theory.registry import CLAIMS
from tests.helpers import ROOT

PAGE = ROOT / catalog.OUTPUT


def shipped():
    return {name: yaml.safe_load((ROOT / name).read_text()) for name in catalog.shipped_configs(ROOT)}


def test_the_catalog_page_is_the_registry():
    expected = catalog.markdown(shipped())
    assert PAGE.read_text() == expected, f"docs/claims.md is out of date: run `{catalog.command(shipped())}`"


def test_the_catalog_changes_with_the_registry(monkeypatch):
    """The comparison above can fail: a changed tolerance (or a new experiment) changes the page."""
    changed = dataclasses.replace(CLAIMS["theorem4"], tolerance="1e-3 (loosened)")
    monkeypatch.setitem(CLAIMS, "theorem4", changed)
    page = catalog.markdown(shipped())
    assert page != PAGE.read_text()
    assert "- **Tolerance**: 1e-3 (loosened)" in page
    monkeypatch.undo()
    configs = shipped()
    configs["config.yaml"]["experiments"]["figure1"]["claims"].append("theorem5")
    assert "`config.yaml`: figure1, single_point_regression" in catalog.markdown(configs)


def test_every_claim_has_its_section_with_metric_tolerance_and_experiments():
    page = PAGE.read_text()
    sections = re.split(r"^## ", page, flags=re.M)
    by_id = {section.split("\n", 1)[0]: section for section in sections[1:]}
    for claim in CLAIMS.values():
        assert claim.metric and claim.tolerance, claim.id
        section = by_id[claim.id]
        assert f"*{claim.where}*" in section
        assert f"- **Statement**: {claim.statement}" in section
        assert f"- **Metric**: {claim.metric}" in section
        assert f"- **Tolerance**: {claim.tolerance}" in section
        for control in claim.controls:
            assert control in section
        assert "- **Tested by**: `config.yaml`: " in section, f"{claim.id}: no shipped experiment tests it"
        assert f"[`{claim.id}`](#{claim.id})" in page  # the overview links the section


def test_every_premise_a_claim_relies_on_is_described():
    for claim in CLAIMS.values():
        schemes = claim.premise.values() if isinstance(claim.premise, dict) else [claim.premise]
        for scheme in filter(None, schemes):
            assert scheme in catalog.PREMISES, f"{claim.id}: describe premise {scheme!r} in inits.PREMISES"


def test_experiments_by_claim_reads_theory_and_experiments():
    configs = {
        "a.yaml": {"theory": {"claims": ["lemma5_1"]}, "experiments": {"e1": {"claims": ["theorem4", "corollary5"]}}},
        "b.yaml": {"experiments": {"e2": {"claims": ["theorem4"]}, "e3": {}}},
    }
    tested = catalog.experiments_by_claim(configs)
    assert tested["lemma5_1"] == [("a.yaml", "theory"), ("b.yaml", "theory")]  # b: the schema's default
    assert tested["theorem4"] == [("a.yaml", "e1"), ("b.yaml", "e2")]
    assert tested["theorem1"] == []
    assert catalog.experiments_by_claim({"c.yaml": {"experiments": {}}})["lemma5_1"] == [("c.yaml", "theory")]
    assert catalog._tested_by(tested["theorem4"]) == "`a.yaml`: e1; `b.yaml`: e2"


def test_claims_verb_lists_every_claim_and_writes_the_page(tmp_path, capsys):
    assert main(["claims"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(CLAIMS)
    out = tmp_path / "claims.md"
    assert main(["-q", "claims", "--markdown", "--config", str(ROOT / "config.yaml"), "--output", str(out)]) == 0
    assert "## theorem4\n" in out.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments: [unclosed\n")
    assert main(["claims", "--markdown", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not valid YAML")


def _tracked_files():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


def test_no_file_of_the_repository_points_outside_it():
    """Every relative path that climbs (../) stays inside the repository, and none names the folder beside it
    that the developers keep their notes in."""
    outside = []
    beside = "../" + "shared"
    for path in _tracked_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if beside in line:
                outside.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
            for match in re.finditer(r"(?:\.\./)+[\w./-]*", line):
                target = (path.parent / match.group(0)).resolve()
                if not target.is_relative_to(ROOT):
                    outside.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not outside, "paths outside the repository:\n" + "\n".join(outside)


def test_the_readme_links_the_docs_pages():
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/claims.md", "docs/notation.md", "docs/development.md", "docs/results.md", "docs/slurm.md"):
        assert (ROOT / page).exists()
        assert f"]({page})" in readme, f"README does not link {page}"
