#!/usr/bin/env bash
# What this project runs on a lent GPU machine (README, Results: "On a GPU"; results/device/). From a shallow clone of
# HEAD, so that every History records its commit:
#   1. the final step's full 15-epoch run on the GPU, alone (its seconds go into the README), then the same run
#      through torch.compile with CUDA graphs (`train --compile`; COMPILE=0 skips it), for the speed issue;
#   2. a sweep's candidates on the validation split (default: "one-view", results/val/sweeps/one-view/sweep.json),
#      one process per candidate, all at once;
#      a process still running after SWEEP_SECONDS is stopped, and the seeds it finished are kept. PER_SEED=1 runs
#      one process per candidate and seed instead; FINAL=0 skips step 1.
# Everything comes back as $OUT/device_runs.tgz (results/ as the runs wrote it) plus one log per process.
#
#   git clone -q --depth 1 file://$PWD .devrepo      # here, before the call; .devrepo and data/ travel as `carry`
#   bash .devrepo/tools/device_run.sh .devrepo       # there
set -uo pipefail
REPO=$(realpath "${1:-.devrepo}")
SWEEP=${SWEEP:-one-view}
SEEDS=${SEEDS:-5}
SWEEP_SECONDS=${SWEEP_SECONDS:-400}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/device_out}
RESULTS=$(mktemp -d)
mkdir -p "$OUT"
export MNIST_DRILL_DATA=${MNIST_DRILL_DATA:-$(realpath "$REPO/../data")} PYTHONPATH=$REPO/src PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1  # one thread per process: the GPU does the work, and the processes share the cores
cd "$REPO" || exit 1
git log -1 --format='commit %H %s' || echo "no git here: the Histories will record commit unknown"
nvidia-smi -L 2>/dev/null
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"

if [ "${FINAL:-1}" != 0 ]; then
    echo "== final step, full run on $DEVICE"
    MNIST_DRILL_RESULTS=$RESULTS/final python3 -m mnist_drill train --device "$DEVICE" --no-progress ${FINAL_ARGS:-} \
        2>&1 | tee "$OUT/final.log" | tail -4
    if [ "${COMPILE:-1}" != 0 ]; then
        echo "== final step, full run on $DEVICE through torch.compile (CUDA graphs)"
        MNIST_DRILL_RESULTS=$RESULTS/final_compiled python3 -m mnist_drill train --device "$DEVICE" --no-progress \
            --compile ${FINAL_ARGS:-} 2>&1 | tee "$OUT/final_compiled.log" | tail -4
    fi
fi

echo "== sweep $SWEEP: one process per candidate, $SEEDS seeds each, at most $SWEEP_SECONDS s"
# the sweep's candidates are data (sweep.json), looked up under the results folder the runs write to
mkdir -p "$RESULTS/sweep/val/sweeps/$SWEEP"
cp "results/val/sweeps/$SWEEP/sweep.json" "$RESULTS/sweep/val/sweeps/$SWEEP/" || exit 1
mapfile -t LABELS < <(MNIST_DRILL_RESULTS=$RESULTS/sweep python3 -c \
    "from mnist_drill.lab.sweeps import definition; print(*definition('$SWEEP')['candidates'], sep='\n')")
for i in "${!LABELS[@]}"; do
    if [ "${PER_SEED:-0}" = 1 ]; then
        for seed in $(seq 1 "$SEEDS"); do
            MNIST_DRILL_RESULTS=$RESULTS/sweep timeout "$SWEEP_SECONDS" python3 -m mnist_drill sweep "$SWEEP" \
                --only "${LABELS[$i]}" --first-seed "$seed" --seeds 1 --device "$DEVICE" --no-progress \
                ${SWEEP_ARGS:-} > "$RESULTS/sweep_${i}_seed$seed.log" 2>&1 &
        done
    else
        MNIST_DRILL_RESULTS=$RESULTS/sweep timeout "$SWEEP_SECONDS" python3 -m mnist_drill sweep "$SWEEP" \
            --only "${LABELS[$i]}" --seeds "$SEEDS" --device "$DEVICE" --no-progress ${SWEEP_ARGS:-} \
            > "$RESULTS/sweep_$i.log" 2>&1 &
    fi
done
wait
for i in "${!LABELS[@]}"; do echo "${LABELS[$i]}: $(cat "$RESULTS"/sweep_"$i"[._]*log | grep -c '^--- ') runs started"; done
tar czf "$OUT/device_runs.tgz" -C "$RESULTS" .
echo "done: $(tar tzf "$OUT/device_runs.tgz" | grep -c 'seed.*json$') Histories in $OUT/device_runs.tgz"
