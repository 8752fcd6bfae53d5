"""The generated README block names the command behind each seeds table."""

import pytest

from mnist_drill.report import seeds_command


def test_seeds_command_names_the_step_and_the_variant():
    assert seeds_command({"name": "05_one_cycle", "seeds": [1, 2, 3]}) == (
        "python -m mnist_drill seeds --step 5 --seeds 3")
    assert seeds_command({"name": "05_one_cycle_small", "seeds": [1, 2, 3, 4, 5]}) == (
        "python -m mnist_drill seeds --step 5 --variant small --seeds 5")
    with pytest.raises(ValueError, match="matches no step"):
        seeds_command({"name": "06_nothing", "seeds": [1]})
