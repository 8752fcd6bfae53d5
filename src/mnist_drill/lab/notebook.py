"""What every step's notebook does, one call per cell, so that each notebook's own code tells its step's story:
what changed, the model, the run, the plots, the stored seeds and the claims.

    nb = StepNotebook(5)          # the step's config; a smoke run under MNIST_DRILL_SMOKE=1 (CI)
    nb.show_changes()             # the diff from the previous step
    model = nb.show_model()       # torchsummary's table and the receptive fields
    history = nb.train()          # the full run, epoch lines and tqdm bars; stored under `make notebooks`
    nb.plot(history)              # accuracy, loss and LR per epoch
    seeds = nb.show_seeds()       # the stored seeds 1-5 and the held-out ones, tables and curves
    nb.show_series()              # the whole series and the frontier, in the last step's notebook only
    nb.compare_with_stored(history, seeds)  # this run against the stored seed 1, digit for digit on its machine
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..config import LAST_STEP, STEPS, format_config, format_diff, smoke
from ..models import build_model, count_params, describe_arch
from ..paths import env_flag
from ..train import History
from . import layout
from .inspection import format_receptive_fields, misclassified, receptive_fields, summary_text
from .plots import plot_compare, plot_frontier, plot_history, plot_misclassified, plot_seeds
from .provenance import notebook_command
from .report import format_frontier, frontier_rows, load_seed_summaries, load_step_histories, smallest_holding_phrase
from .results import format_seeds_table, steps_table, summarize_seeds
from .runs import train
from .seeds import load_seeds
from .verify import same_machine, side_by_side


class StepNotebook:
    def __init__(self, step: int):
        plt.rcParams["figure.dpi"] = 80  # legible on GitHub, and the stored notebook stays light
        self.step, self.config = step, STEPS[step]
        self.smoke = env_flag("MNIST_DRILL_SMOKE")  # set by CI and nbval: one epoch on 2k images, nothing saved
        self.run_config = smoke(self.config) if self.smoke else self.config
        print(("SMOKE run of " if self.smoke else "Full run of ") + self.config.name)

    def show_changes(self) -> None:
        """The step as the previous step plus its change (the first step: every setting)."""
        previous = STEPS.get(self.step - 1)
        print(format_diff(previous, self.config) if previous else format_config(self.config))

    def show_model(self):
        """The model: its layer spec, torchsummary's table (on a copy: neither the RNG nor BatchNorm moves), and the
        receptive field of one unit after each layer, in input pixels (jump: input pixels between neighbours)."""
        model = build_model(self.config)
        print(describe_arch(self.config.arch))
        print(summary_text(model))
        print(f"Parameters: {count_params(model):,}\n")
        print(format_receptive_fields(receptive_fields(model)))
        return model

    def train(self) -> History:
        """The step's run. Under `make notebooks` it replaces the cited results/<step>.json; run by hand it goes to
        results/runs/<step>_notebook.json, a scratch file git ignores; a smoke run saves nothing."""
        save_to = None if self.smoke else layout.notebook_run_path(self.config.name)
        return train(self.run_config, save_to, command=notebook_command(self.config.name))

    def plot(self, history: History, size=(11, 3.8)) -> None:
        plot_history(history, size=size)
        plt.show()

    def plot_mistakes(self, history: History, limit: int = 16) -> None:
        """Evaluation digits the trained model gets wrong at the last epoch, in one view (true -> predicted)."""
        images, labels, preds = misclassified(history, limit=limit)
        last = history.epochs[-1]
        plot_misclassified(images, labels, preds, title=self.config.name, total=last["eval_total"],
                           wrong=last["eval_total"] - last["eval_correct"], eval_name=history.eval_name)
        plt.show()

    def show_seeds(self) -> list[History]:
        """The stored seeds of this step, 1-5 and, where stored, the held-out 6-10 (and any later five): a table of
        each set, one view (five views beside it where read), and the curves of every seed. Returns the Histories,
        seeds in order."""
        runs = []
        for folder in [layout.seeds_dir(self.config.name), *layout.held_out_dirs(self.config.name).values()]:
            runs += (part := load_seeds(folder))
            print(format_seeds_table(summarize_seeds(part)) + "\n")
        plot_seeds(runs)
        plt.show()
        return runs

    def compare_with_stored(self, history: History, seeds: list[History]) -> None:
        """This run is seed 1 again: beside the stored seed 1, and equal to it digit for digit on the machine that
        made it (another machine takes another floating-point path, so there it is only shown)."""
        stored = next((run for run in seeds if run.seed == history.seed), None)
        if self.smoke or stored is None:
            print("a smoke run: nothing to compare" if self.smoke else f"no stored seed {history.seed} to compare with")
            return
        print(side_by_side(stored, history))
        if same_machine(stored, history) and stored.compiled == history.compiled:
            assert history.one_view == stored.one_view

    def show_series(self) -> None:
        """In the last step's notebook: every step's stored run (its seeds' range shaded), and the frontier of every
        recipe stored on the test set, seeds 1-5 and held-out ones as one. Elsewhere a line says where they are."""
        if self.step != LAST_STEP:
            print(f"The whole series is shown in the last step's notebook, {STEPS[LAST_STEP].name}.ipynb.")
            return
        steps, seeds, held_out = load_step_histories(), load_seed_summaries(), load_seed_summaries(held_out=True)
        by_name = {s["name"]: s for s in seeds}
        print(steps_table(steps, summaries=by_name))
        plot_compare(steps, spread={name: s for name, s in by_name.items() if name in steps}).set_size_inches(11, 4.4)
        plt.show()
        frontier = frontier_rows(seeds, held_out)
        print(format_frontier(frontier, markdown=False))
        print("".join(f"{r['label']}: {r['peer']}\n" for r in frontier if r["peer"]))
        print(smallest_holding_phrase(seeds, held_out, markdown=False))
        plot_frontier(frontier)
        plt.show()
