import pytest

from medassist.config import PROFILES, Config, apply_overrides, load_config, load_profile


def test_t4_profile_matches_the_seed_run():
    config = load_profile("t4")
    assert config.model == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert config.data.source == "medalpaca/medical_meadow_medical_flashcards"
    assert (config.data.train_size, config.data.eval_size, config.data.seed, config.data.max_length) == (3000, 200, 42, 512)
    assert (config.lora.r, config.lora.alpha, config.lora.dropout) == (16, 32, 0.05)
    assert set(config.lora.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    train = config.train
    assert (train.epochs, train.batch_size, train.grad_accum, train.learning_rate) == (2, 4, 4, 2e-4)
    assert (train.lr_scheduler, train.warmup_ratio) == ("cosine", 0.05)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_profiles_round_trip_through_files(tmp_path, suffix):
    for name in PROFILES:
        path = tmp_path / f"{name}{suffix}"
        load_profile(name).save(path)
        assert load_config(path) == PROFILES[name]


def test_load_profile_returns_an_independent_copy():
    config = load_profile("cpu")
    config.train.learning_rate = 123.0
    assert PROFILES["cpu"].train.learning_rate != 123.0


def test_overrides_parse_types():
    config = apply_overrides(load_profile("smoke"), ["train.learning_rate=1e-4", "lora.r=8", "model=embedded",
                                                     "lora.target_modules=[q_proj,v_proj]"])
    assert config.train.learning_rate == pytest.approx(1e-4)
    assert config.lora.r == 8 and config.model == "embedded"
    assert config.lora.target_modules == ("q_proj", "v_proj")


@pytest.mark.parametrize("override, message", [
    ("train.nope=1", "unknown config key 'train.nope'"),
    ("nosection.x=1", "unknown config section 'nosection'"),
    ("train.learning_rate", "must look like"),
])
def test_bad_overrides_name_the_problem(override, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(load_profile("smoke"), [override])


def test_unknown_profile_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        load_profile("gpu")
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.json").write_text('{"train": {"epochz": 3}}')
    with pytest.raises(ValueError, match="epochz"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    assert isinstance(Config.from_dict({}), Config)
