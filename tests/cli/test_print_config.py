"""`python -m ifns_train` prints the resolved config as a tree when it starts (rank 0 only),
unless `print_config=false`."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from lightning.fabric.utilities.rank_zero import rank_zero_only

from ifns_train.cli.train import print_config_tree
from ifns_train.config import CONF_DIR
from tests.conftest import run_cli


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"paths.root_dir={tmp_path}",
                                            f"paths.output_dir={tmp_path / 'run'}", *overrides])


def test_the_tree_shows_the_resolved_config(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    print_config_tree(_cfg(tmp_path, "seed=7"))
    out = capsys.readouterr().out
    assert out.startswith("config\n")
    assert "family_id: MF_DIR_CORE_V1" in out
    assert f"registry_dir: {tmp_path}/registry" in out  # resolved, not ${paths.root_dir}
    assert "seed: 7" in out and "print_config: true" in out


def test_only_rank_zero_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    print_config_tree(_cfg(tmp_path))
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_the_cli_prints_it_unless_told_not_to(registry: Path, tmp_path: Path) -> None:
    smoke = [f"paths.registry_dir={registry}", "+trainer.fast_dev_run=true"]  # records nothing
    shown = run_cli(*smoke, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert shown.stdout.startswith("config\n") and "├── family" in shown.stdout
    hidden = run_cli(*smoke, "print_config=false", cwd=tmp_path)
    assert hidden.returncode == 0, hidden.stderr[-3000:]
    assert "├── family" not in hidden.stdout
