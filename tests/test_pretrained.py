import os
import shutil

import numpy as np
import pytest

import keras_vaes as kv
from keras_vaes import pretrained


def test_shipped_preset_loads_with_its_gamma_and_samples():
    preset = pretrained.PRESETS["svae_mnist_10ep"]
    path = os.path.join(pretrained.WEIGHTS_DIR, preset["file"])
    assert pretrained.sha256(path) == preset["sha256"]
    model = kv.load_pretrained("svae_mnist_10ep")
    assert model.count_params() == 12_799_299
    assert 0.0 < model.gamma < 0.05  # trained: gamma fell from 1
    out = model.generate(4, seed=0)
    assert out["x_hat"].shape == (4, 32, 32, 1)
    assert np.all((out["x_hat"] >= 0) & (out["x_hat"] <= 1))


def test_preset_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown preset.*'nope'"):
        kv.load_pretrained("nope")
    with pytest.raises(FileNotFoundError, match="weights_dir"):
        kv.load_pretrained("svae_mnist_10ep", weights_dir=str(tmp_path))
    preset = pretrained.PRESETS["svae_mnist_10ep"]
    copy = tmp_path / preset["file"]
    shutil.copy(os.path.join(pretrained.WEIGHTS_DIR, preset["file"]), copy)
    with open(copy, "r+b") as f:  # corrupt one byte near the end
        f.seek(-100, os.SEEK_END)
        byte = f.read(1)
        f.seek(-100, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum"):
        kv.load_pretrained("svae_mnist_10ep", weights_dir=str(tmp_path))


def test_export_weights_drops_optimizer_state(tmp_path):
    model = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).uniform(size=(20, 16, 16, 1)).astype("float32")
    model.fit(x, batch_size=10, epochs=1, verbose=0)
    full, bare = str(tmp_path / "full.weights.h5"), str(tmp_path / "bare.weights.h5")
    model.save_weights(full)
    digest = pretrained.export_weights(model, bare)
    assert digest == pretrained.sha256(bare)
    assert os.path.getsize(bare) < 0.6 * os.path.getsize(full)  # no Adam moments
    loaded = kv.build_svae((16, 16, 1), 4, base_dim=8, emb_dim=16, num_scale=2)
    assert loaded.load_weights(bare) is True and loaded.gamma == model.gamma
    z = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(loaded.decode(z)["x_hat"], model.decode(z)["x_hat"])


GAMIX = pretrained.PRESETS["gamix_fashion_mnist"]


def test_weights_folders_env_var_and_cache(tmp_path, monkeypatch):
    source = os.path.join(pretrained.WEIGHTS_DIR, GAMIX["file"])
    mine, cache = tmp_path / "mine", tmp_path / "cache"
    mine.mkdir()
    shutil.copy(source, mine / GAMIX["file"])
    monkeypatch.setenv(pretrained.ENV_WEIGHTS, str(mine))
    monkeypatch.setenv(pretrained.ENV_CACHE, str(cache))
    assert pretrained.weights_folders()[:2] == [str(mine), str(cache)]
    assert pretrained.weights_path("gamix_fashion_mnist") == str(mine / GAMIX["file"])
    monkeypatch.delenv(pretrained.ENV_WEIGHTS)
    # A folder, then a file:// URL, into the cache; the cache wins over the bundled files.
    installed = pretrained.install_weights("gamix_fashion_mnist", str(mine))
    assert installed == str(cache / GAMIX["file"])
    assert pretrained.weights_path("gamix_fashion_mnist") == installed
    os.remove(installed)
    url = pretrained.install_weights("gamix_fashion_mnist", (mine / GAMIX["file"]).as_uri())
    assert pretrained.sha256(url) == GAMIX["sha256"]
    # A file with another checksum is refused and not kept.
    other = tmp_path / "other"
    other.mkdir()
    with open(other / GAMIX["file"], "wb") as f:
        f.write(b"not a weight file")
    with pytest.raises(ValueError, match="checksum"):
        pretrained.install_weights("gamix_fashion_mnist", str(other))
    with pytest.raises(FileNotFoundError, match="KERAS_VAES_WEIGHTS"):
        pretrained.weights_path("svae_mnist_10ep", weights_dir=str(other))


@pytest.mark.slow
def test_wheel_install_loads_every_preset_from_another_directory(tmp_path):
    """A wheel (not editable) holds exactly `wheel_files()`; every preset loads from it.

    The presets in the wheel load from its data folder, the others through
    KERAS_VAES_WEIGHTS (a folder linking the repository's large files only),
    and `install_weights` fills the cache.
    """
    import json
    import subprocess
    import sys
    import zipfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(root, name), src / name)
    shutil.copytree(os.path.join(root, "keras_vaes"), src / "keras_vaes",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (src / "weights").mkdir()
    for name in pretrained.wheel_files():  # only these: the build needs no large file
        shutil.copy(os.path.join(root, "weights", name), src / "weights" / name)
    large = tmp_path / "large"
    large.mkdir()
    for preset in pretrained.PRESETS.values():
        if not preset["in_wheel"]:
            os.symlink(os.path.join(root, "weights", preset["file"]), large / preset["file"])

    def run(*args, cwd=tmp_path, env=None):
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", str(tmp_path / "dist"), "./src")
    (wheel,) = (tmp_path / "dist").glob("keras_vaes-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    data = sorted(n.rsplit("/", 1)[1] for n in names if "/share/keras_vaes/weights/" in n)
    assert data == sorted(pretrained.wheel_files())
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(tmp_path / "venv"))
    python = str(tmp_path / "venv" / "bin" / "python")
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_VAES_CACHE=str(tmp_path / "cache"),
               KERAS_VAES_WEIGHTS=str(large))
    env.pop("PYTHONPATH", None)
    script = (
        "import json, os\n"
        "import keras_vaes as kv\n"
        "from keras_vaes.metrics import classifier\n"
        "out = {'file': kv.__file__, 'paths': {}, 'classes': {}, 'shapes': {}}\n"
        "for name in kv.list_presets():\n"
        "    out['paths'][name] = kv.pretrained.weights_path(name)\n"
        "    model = kv.load_pretrained(name)\n"
        "    out['classes'][name] = type(model).__name__\n"
        "    out['shapes'][name] = list(model.generate(2, seed=0)['x_hat'].shape)\n"
        "out['from_preset'] = type(kv.SplitVAE.from_preset('svae_mnist_10ep')).__name__\n"
        "kv.pretrained.install_weights('svae_mnist_10ep', out['paths']['svae_mnist_10ep'])\n"
        "os.environ.pop('KERAS_VAES_WEIGHTS')\n"
        "out['cached'] = kv.pretrained.weights_path('svae_mnist_10ep')\n"
        "out['classifier'] = classifier.load_classifier('mnist').count_params()\n"
        "print(json.dumps(out))\n"
    )
    out = json.loads(run(python, "-c", script, cwd=elsewhere, env=env).splitlines()[-1])
    assert out["file"].startswith(str(tmp_path / "venv")), out["file"]
    shared = str(tmp_path / "venv" / "share" / "keras_vaes" / "weights")
    for name, preset in pretrained.PRESETS.items():
        folder = shared if preset["in_wheel"] else str(large)
        assert out["paths"][name] == os.path.join(folder, preset["file"]), name
        assert out["classes"][name] == preset["class"]
        assert out["shapes"][name] == [2, *preset["config"]["input_shape"]]
    assert out["from_preset"] == "SplitVAE"
    assert out["cached"] == str(tmp_path / "cache" / "svae_mnist_10ep.weights.h5")
    assert out["classifier"] == 356234


# --- the two-stage preset in the one-file layout (issue 29) ----------------------


def _arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: arrays.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return arrays


def test_two_stage_preset_restores_every_variable(tmp_path):
    """Every array of the shipped file lands in a variable, and every variable comes from it."""
    preset = pretrained.PRESETS["two_stage_mnist"]
    path = pretrained.weights_path("two_stage_mnist")
    assert pretrained.sha256(path) == preset["sha256"]
    model = kv.load_pretrained("two_stage_mnist")
    assert isinstance(model, kv.TwoStageVAE)
    shipped = _arrays(path)
    # The model written back out holds the shipped arrays at the same paths, unchanged.
    model.save_weights(tmp_path / "again.weights.h5")
    again = _arrays(tmp_path / "again.weights.h5")
    assert set(shipped) <= set(again)
    for name, value in shipped.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)
    # Only the seed generators' state is new; each weight of both stages is one shipped array.
    assert all("seed_generator_state" in name for name in set(again) - set(shipped))
    gammas = [n for n in shipped if n.rsplit("/", 1)[-1].startswith("balancer_")]
    assert len(gammas) == 4  # gamma and the MSE estimate of each stage
    # A file exported by `export_weights` also holds the seed generators' state (not in `model.weights`).
    seeds = [n for n in shipped if "seed_generator_state" in n]
    assert len(shipped) - len(gammas) - len(seeds) == len(model.weights) == 186
    assert 0.0 < model.first_stage.gamma < 0.2 and 0.0 < model.second_stage.gamma < 1.0
    z = model.prior.sample(3, seed=0)
    assert z.shape == (3, 64) and np.all(np.isfinite(z))


def _old_layout(new_path, old_path=None, prefix=None):
    """Writes `new_path`'s arrays in the layouts before issue 29 (the inverse of the conversion)."""
    import h5py

    def old_name(name):
        for stage, group in (("first_stage", "first_stage/"), ("second_stage", "layers/second_stage/")):
            if name.startswith(group):
                rest = name[len(group):]
                for new, old in (("encoder/", "layers/functional/"), ("decoder/", "layers/functional_1/")):
                    if rest.startswith(new):
                        rest = old + rest[len(new):]
                return stage, rest
        return None, None

    # Files of those days held no seed generators' state.
    arrays = {n: v for n, v in _arrays(new_path).items() if "seed_generator_state" not in n}
    if old_path is not None:
        with h5py.File(old_path, "w") as f:
            for name, value in arrays.items():
                stage, rest = old_name(name)
                if stage is not None:
                    f[f"{stage}/{rest}"] = value
    if prefix is not None:
        for stage in ("first_stage", "second_stage"):
            with h5py.File(f"{prefix}.{stage}.weights.h5", "w") as f:
                for name, value in arrays.items():
                    owner, rest = old_name(name)
                    if owner == stage:
                        f[rest] = value


def _convert_module():
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location(
        "convert_two_stage_weights", os.path.join(root, "tools", "convert_two_stage_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_old_two_stage_files_convert_to_one_file_with_every_array(tmp_path):
    convert = _convert_module()
    build = lambda seed: kv.build_two_stage_vae((16, 16, 1), 8, base_dim=8, num_scale=2, fc_dim=16,
                                                second_dim=16, seed=seed)
    model = build(1)
    model.first_stage.balancer.reset(0.04)
    model.second_stage.balancer.reset(0.3)
    exported = tmp_path / "model.weights.h5"
    model.export_weights(exported)
    expected = {n: v for n, v in _arrays(exported).items() if "seed_generator_state" not in n}
    _old_layout(exported, old_path=tmp_path / "old.weights.h5", prefix=tmp_path / "pair")
    for source in (tmp_path / "old.weights.h5", tmp_path / "pair"):
        target = tmp_path / "converted.weights.h5"
        written = convert.convert_two_stage_weights(source, target)
        assert written == sorted(expected)
        converted = _arrays(target)
        for name, value in expected.items():
            np.testing.assert_array_equal(converted[name], value, err_msg=name)
        other = build(2)
        assert other.load_weights(target) is True
        assert other.first_stage.mse_estimate == pytest.approx(0.04)
        assert other.second_stage.mse_estimate == pytest.approx(0.3)
        for a, b in zip(other.weights, model.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # In place, through a temporary file; a converted file is refused, a missing pair named.
    convert.convert_two_stage_weights(tmp_path / "old.weights.h5", tmp_path / "old.weights.h5")
    assert sorted(_arrays(tmp_path / "old.weights.h5")) == sorted(expected)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")) == []
    with pytest.raises(ValueError, match="old layout"):
        convert.convert_two_stage_weights(tmp_path / "old.weights.h5", tmp_path / "x.weights.h5")
    with pytest.raises(FileNotFoundError, match="missing"):
        convert.convert_two_stage_weights(tmp_path / "nothing", tmp_path / "x.weights.h5")
