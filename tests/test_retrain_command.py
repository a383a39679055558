"""A model card's retrain command must train exactly the run it describes: parsing the command
with the kit's own command line gives back the run's configuration, for every screen arm."""
import shlex

import pytest

from helpers.ablation import ARMS, arm_changes, arm_config
from helpers.cli import build_parser
from helpers.cli_experiments import train_mix_config
from helpers.cli_models import train_config
from helpers.shipping import retrain_command


def _config_from_command(command: str, folders: dict) -> dict:
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:3] == ["python", "-m", "helpers"]
    words = [folders.get(word, word) for word in words[3:]]
    args = build_parser().parse_args(words)
    return train_mix_config(args) if words[0] == "train-mix" else train_config(args)


@pytest.mark.parametrize("arm", [*ARMS, "more-faces+ema", "mixup+ema", "baseline-seed2+progressive"])
def test_the_retrain_command_gives_back_the_arms_configuration(arm, tmp_path):
    folders = {"SOURCE": str(tmp_path / "UTKFace"), "UTKFACE": str(tmp_path / "UTKFace"),
               "WIKI": str(tmp_path / "wiki_crop")}
    sources = {"utkface": folders["UTKFACE"], "wiki": folders["WIKI"]}
    first = None
    if arm_changes(arm).get("pretrain"):  # it starts from its first run's model, named runs/<folder> in the card
        first = tmp_path / "pretraining" / "full"
        first.mkdir(parents=True)
        (first / "best.keras").touch()
        folders["runs/full"] = str(first)
    config = arm_config(arm, image_size=96, epochs=30, sources=sources,
                        init_from=None if first is None else first / "best.keras")
    command = retrain_command(config, "runs/x")
    mix = "more-faces" in arm.split("+")
    assert command.startswith("python -m helpers train-mix" if mix else "python -m helpers train ")
    assert ("--init-from runs/full" in command) == (first is not None)
    assert _config_from_command(command, folders) == config


def test_a_mix_the_command_line_cannot_name_is_refused(tmp_path):
    from helpers.experiments import mix_config

    config = mix_config({"utkface": ["age"], "wiki": ["age"]}, age_groups="year", profile="cpu", backbone="b0",
                        weights=None, sources={"utkface": str(tmp_path), "wiki": str(tmp_path)})
    with pytest.raises(ValueError, match="only the named mixes"):
        retrain_command(config, "runs/x")
