"""``run.py train``: one-line errors naming the flag, a fast -h, one line per epoch."""

import argparse
import json
import subprocess
import sys

import pytest

from privface_core.errors import UserError
from tests.training.conftest import REPO
from tests.training.tiny_models import tiny_face_backbone
from training.engine.train_cli import add_train_arguments, config_from_args, run_train


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args(argv)


DATA = ["--rec_file", "r.rec", "--idx_file", "r.idx"]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "two"], "--epochs"),
        (["--batch_size", "1.5"], "--batch_size"),
        (["--lr", "nan"], "--lr"),
        (["--model", "resnet"], "--model"),
        (["--head", "triplet"], "--head"),
        (["--accountant", "gdp"], "--accountant"),
        (["--use_dp"], "--use_dp"),
        (["--use_dp", "--target_epsilon", "0"], "--target_epsilon"),
        (["--use_dp", "--noise_multiplier", "-1"], "--noise_multiplier"),
        (["--use_dp", "--target_epsilon", "1", "--noise_multiplier", "1"], "--target_epsilon"),
        (["--noise_multiplier", "1"], "--noise_multiplier"),
        (["--delta", "0"], "--delta"),
        (["--l2_norm_clip", "0"], "--l2_norm_clip"),
        (["--image_size", "8"], "--image_size"),
        (["--lr_steps", "a,b"], "--lr_steps"),
        (["--lr_schedule", "step", "--lr_steps", "30"], "--lr_steps"),
        (["--optimizer", "rmsprop"], "--optimizer"),
    ],
)
def test_bad_flags_raise_a_user_error_naming_the_flag(argv, flag):
    with pytest.raises(UserError) as err:
        config_from_args(parse(DATA + argv))
    message = str(err.value)
    assert message.startswith(flag) and "\n" not in message


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        ([], "--dataset_path"),
        (["--rec_file", "r.rec"], "--idx_file"),
        (["--idx_file", "r.idx"], "--rec_file"),
        (["--dataset_path", "d", "--rec_file", "r.rec", "--idx_file", "r.idx"], "--dataset_path"),
    ],
)
def test_data_flags(argv, flag):
    with pytest.raises(UserError, match=f"^{flag}"):
        config_from_args(parse(argv))


def test_cli_error_is_one_line_exit_2_without_loading_tensorflow(tmp_path):
    probe = (
        "import sys, run\n"
        "code = run.main(['train', '--dataset_path', 'nowhere', '--batch_size', '0'])\n"
        "assert 'tensorflow' not in sys.modules and 'cv2' not in sys.modules, 'heavy import'\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: --batch_size must be a whole number >= 1, got 0\n"
    help_text = subprocess.run(
        [sys.executable, "run.py", "train", "-h"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0 and "--target_epsilon" in help_text.stdout


def test_missing_dataset_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="is not a directory"):
        run_train(parse(["--dataset_path", str(tmp_path / "none"), "--output_dir", str(tmp_path / "out")]))


def test_cli_prints_one_line_per_epoch(webface_tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("training.engine.trainer.build_backbone", tiny_face_backbone)
    argv = [
        "--rec_file", str(webface_tiny / "train.rec"), "--idx_file", str(webface_tiny / "train.idx"),
        "--eval_bin", str(webface_tiny / "lfw_tiny.bin"), "--image_size", "32", "--embedding_size", "8",
        "--epochs", "2", "--batch_size", "8", "--use_dp", "--target_epsilon", "5", "--delta", "1e-3",
        "--output_dir", str(tmp_path / "out"), "--seed", "0", "--json",
    ]
    assert run_train(parse(argv)) == 0
    lines = capsys.readouterr().out.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2
    for line in epochs:
        for part in ("loss ", "accuracy ", "holdout ", "verification ", "epsilon ", "(delta 0.001)"):
            assert part in line, line
    result = json.loads(lines[-1])
    assert result["epsilon"] <= 5 and result["steps"] == 18
    assert any(line.startswith("DP-SGD: epsilon") for line in lines)
    assert (tmp_path / "out" / "export" / "model_card.json").is_file()
