"""Presets as keras-hub's (`list_presets`, `presets`, `from_preset`), their table and cards,
the wheel's files, LICENSE and CITATION.cff."""

import configparser
import hashlib
import os
import re

import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import pretrained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET_CLASSES = {
    "svae_mnist_10ep": kv.SplitVAE,
    "gamix_fashion_mnist": kv.GamixVAE,
    "fp_vae_mnist_beta0": kv.FlowPriorVAE,
    "two_stage_mnist": kv.TwoStageVAE,
}


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _setup_cfg():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    return config


# --- list_presets, presets, from_preset ---------------------------------------


def test_list_presets_names_every_preset_with_its_summary():
    listed = kv.list_presets()
    assert list(listed) == list(pretrained.PRESETS) == list(PRESET_CLASSES)
    for name, summary in listed.items():
        assert summary == pretrained.PRESETS[name]["summary"]
        assert isinstance(summary, str) and 20 < len(summary) < 100 and "\n" not in summary


def test_each_class_lists_its_own_presets():
    for name, cls in PRESET_CLASSES.items():
        assert list(cls.presets) == [n for n, c in PRESET_CLASSES.items() if c is cls]
        assert name in cls.presets and pretrained.preset_class(name) is cls
    assert kv.PriorAAE.presets == {}
    # A base lists its subclasses' presets (keras-hub's `Backbone.presets`).
    assert kv.GenerativeModel.presets == kv.list_presets()
    assert list(kv.BalancedVAE.presets) == list(kv.SplitVAE.presets)  # SplitVAE is a BalancedVAE


@pytest.mark.parametrize("name", list(PRESET_CLASSES))
def test_from_preset_returns_the_class_with_the_presets_weights(name):
    cls = PRESET_CLASSES[name]
    model = cls.from_preset(name)
    assert type(model) is cls
    assert type(model).__name__ == pretrained.PRESETS[name]["class"]
    reference = kv.load_pretrained(name)
    fresh = cls.from_preset(name, load_weights=False)
    assert type(fresh) is cls
    images = model.generate(4, seed=0)["x_hat"]
    np.testing.assert_allclose(images, reference.generate(4, seed=0)["x_hat"], atol=1e-6)
    # Built only, the same seed and architecture give other images: the weights were loaded.
    assert np.max(np.abs(images - fresh.generate(4, seed=0)["x_hat"])) > 1e-2


def test_from_preset_on_a_base_class_takes_any_of_its_presets():
    model = kv.GenerativeModel.from_preset("gamix_fashion_mnist")
    assert type(model) is kv.GamixVAE
    assert type(kv.BalancedVAE.from_preset("svae_mnist_10ep", load_weights=False)) is kv.SplitVAE


def test_from_preset_of_another_class_names_the_class_it_belongs_to():
    with pytest.raises(ValueError, match=r"builds a TwoStageVAE, not a SplitVAE.*TwoStageVAE\.from_preset"):
        kv.SplitVAE.from_preset("two_stage_mnist")
    with pytest.raises(ValueError, match=r"builds a SplitVAE, not a GamixVAE.*'gamix_fashion_mnist'"):
        kv.GamixVAE.from_preset("svae_mnist_10ep", load_weights=False)
    with pytest.raises(ValueError, match=r"Unknown preset.*Received: 'nope'"):
        kv.SplitVAE.from_preset("nope")


# --- the preset table ----------------------------------------------------------

CARD_FIELDS = {"class", "dataset", "paper", "summary", "training", "matrix", "state",
               "record", "grid", "bytes", "in_wheel", "file", "sha256", "builder", "config"}


def test_every_preset_has_its_card_fields_and_files():
    for name, preset in pretrained.PRESETS.items():
        assert CARD_FIELDS <= set(preset), name
        assert preset["paper"] in pretrained.PAPERS
        assert "prior" in preset["matrix"] and set(preset["matrix"]) <= set(pretrained.SAMPLER_NAMES)
        path = os.path.join(ROOT, "weights", preset["file"])
        assert os.path.getsize(path) == preset["bytes"], name
        for key in ("record", "grid"):
            if preset[key] is not None:
                assert os.path.exists(os.path.join(ROOT, preset[key])), (name, preset[key])


def _sampler_matrix():
    """benchmarks/results/sampler_matrix.md as {preset: {sampler: (FD, recall)}}."""
    matrix, current = {}, None
    for line in _read("benchmarks/results/sampler_matrix.md").splitlines():
        heading = re.match(r"^## (\S+) ", line)
        if heading:
            current = matrix.setdefault(heading.group(1), {})
        row = re.match(r"^\| (\w+) \| \**([\d.]+)\** \| \**[\d.]+\** \| \**([\d.]+)\** \|", line)
        if row and current is not None:
            current[row.group(1)] = (float(row.group(2)), float(row.group(3)))
    return matrix


def test_the_tables_scores_are_the_sampler_matrix_files():
    matrix = _sampler_matrix()
    for name, preset in pretrained.PRESETS.items():
        rows = matrix[name]
        for sampler, scores in preset["matrix"].items():
            assert rows[sampler] == scores, (name, sampler)
        # The best sampler the table shows is the lowest FD of the whole matrix.
        shown = min(preset["matrix"], key=lambda s: preset["matrix"][s][0])
        assert shown == min(rows, key=lambda s: rows[s][0]), name


def test_presets_page_holds_the_rendered_table_and_a_card_per_preset():
    page = _read("docs/presets.md")
    table = pretrained.presets_table(docs="")
    assert table in page
    assert table.count("\n") == len(pretrained.PRESETS) + 2
    for name, preset in pretrained.PRESETS.items():
        card = page.split(f"\n## `{name}`\n")[1].split("\n## ")[0]
        assert "**Limits.**" in card and "**Cite.**" in card and "**Budget.**" in card
        assert "python " in card  # a command for the scores
        if preset["grid"] is not None:
            # Linked as the site sees it: docs/hooks.py adds weights/ at its root.
            assert f"]({preset['grid']})" in card, name
        else:
            assert "No sample grid is committed" in card, name
    # The collapsed and under-trained presets say so, with their figures.
    assert "Collapsed" in page.split("## `gamix_fashion_mnist`")[1] and "0.001" in page
    assert "Under-trained" in page.split("## `fp_vae_mnist_beta0`")[1].split("\n## ")[0]


def test_the_readme_table_links_existing_files():
    table = pretrained.presets_table()
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert table.strip() in f.read(), "README.md's presets table differs from presets_table(): paste it again"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", table)
    assert len(links) == 2 * len(pretrained.PRESETS)
    for link in links:
        assert os.path.isfile(os.path.join(ROOT, link)), link
    for name, preset in pretrained.PRESETS.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` "))
        assert ("| yes (" in row) == preset["in_wheel"]
        assert ("KERAS_VAES_WEIGHTS" in row) == (not preset["in_wheel"])


# --- the wheel -------------------------------------------------------------------


def test_in_wheel_follows_the_size_rule_and_setup_cfg_lists_the_same_files():
    for name, preset in pretrained.PRESETS.items():
        assert preset["in_wheel"] == (preset["bytes"] <= pretrained.WHEEL_MAX_BYTES), name
    assert pretrained.PRESETS["two_stage_mnist"]["in_wheel"] is False  # 11.6 MB
    listed = _setup_cfg()["options.data_files"]["share/keras_vaes/weights"].split()
    assert listed == [f"weights/{name}" for name in pretrained.wheel_files()]
    for path in listed:
        assert os.path.isfile(os.path.join(ROOT, path)), path
    in_wheel = {p["file"] for p in pretrained.PRESETS.values() if p["in_wheel"]}
    assert in_wheel == {"gamix_fashion_mnist.weights.h5"}
    assert in_wheel < set(pretrained.wheel_files())


# --- LICENSE and CITATION.cff ------------------------------------------------------

# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, as Debian's
# /usr/share/common-licenses/Apache-2.0 and many wheels ship it.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_license_file_is_the_license_setup_cfg_names():
    assert _setup_cfg()["metadata"]["license"] == "Apache-2.0"
    text = _read("LICENSE")
    assert text.split()[:5] == ["Apache", "License", "Version", "2.0,", "January"]
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == APACHE_2_SHA256


def test_citation_cff_cites_the_package_and_the_four_papers():
    text = _read("CITATION.cff")
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load(text)
    assert cff["cff-version"] == "1.2.0"
    assert cff["title"] == "keras_vaes" and cff["type"] == "software"
    assert cff["license"] == _setup_cfg()["metadata"]["license"]
    assert cff["version"] == kv.__version__
    assert all(author.get("name") or author.get("family-names") for author in cff["authors"])
    references = cff["references"]
    assert len(references) == 4
    titles = {paper["title"] for paper in pretrained.PAPERS.values()}
    assert {reference["title"] for reference in references} == titles
    for reference in references:
        assert reference["type"] and reference["authors"], reference["title"]
