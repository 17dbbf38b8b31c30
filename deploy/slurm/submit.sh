#!/bin/bash
# Submits a sharded vlmcmp comparison to Slurm: the array of shards, then the
# merge as a job that starts only when every shard has succeeded
# (--dependency=afterok:<array job id>). Run it from the checkout, on a
# filesystem the compute nodes share.
#
#   deploy/slurm/submit.sh [--cpu] [sbatch options for the array] [-- compare options]
#
#   deploy/slurm/submit.sh                                  # vlmcmp-array.sbatch: 8 GPU shards
#   deploy/slurm/submit.sh --array=0-15 --partition=gpu     # 16 shards on partition gpu
#   deploy/slurm/submit.sh -- --models qwen2vl-ft,mean --baseline mean
#   deploy/slurm/submit.sh --cpu                            # CPU variant on the demo's tiny model
#
# --cpu submits vlmcmp-array-cpu.sbatch, first writing the demo's data, tiny
# model and config into vlmcmp-demo/ with `vlmcmp demo` when they are missing,
# and passes --baseline mean to compare. The run folder is
# <output dir>/slurm-<array job id> unless VLMCMP_RUN_ID names another. Prints
# the two job ids and the run folder; squeue shows the jobs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
script=$here/vlmcmp-array.sbatch
cpu=0
sbatch_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--cpu) cpu=1 script=$here/vlmcmp-array-cpu.sbatch ;;
	--) shift; break ;;
	*) sbatch_args+=("$1") ;;
	esac
	shift
done
compare_args=("$@")
bin=${VLMCMP_BIN:-./vlmcmp}
[ -x "$bin" ] || { echo "submit: $bin not found: run make (CPU) or make cuda in the checkout, or set VLMCMP_BIN" >&2; exit 1; }

if [ $cpu = 1 ]; then
	export VLMCMP_DEMO=1
	out=${VLMCMP_OUTPUT_DIR:-vlmcmp-demo/results/model_comparison}
	if [ -z "${VLMCMP_CONFIG:-}" ] && [ ! -f vlmcmp-demo/vlmcmp.yaml ]; then
		echo "submit: writing the demo's data, tiny model and config into vlmcmp-demo/"
		mkdir -p vlmcmp-demo
		"$bin" demo --dir vlmcmp-demo >vlmcmp-demo/demo.log 2>&1 || { cat vlmcmp-demo/demo.log >&2; exit 1; }
	fi
	[ ${#compare_args[@]} -gt 0 ] || compare_args=(--baseline mean)
else
	out=${VLMCMP_OUTPUT_DIR:-results/model_comparison}
fi

array=$(sbatch --parsable "${sbatch_args[@]}" "$script" "${compare_args[@]}")
array=${array%%;*} # --parsable prints id[;cluster]
run_id=${VLMCMP_RUN_ID:-slurm-$array}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
	--export="ALL,VLMCMP_RUN_ID=$run_id" "$here/vlmcmp-merge.sbatch")
merge=${merge%%;*}
echo "array job $array ($(basename "$script"))"
echo "merge job $merge (after every task of $array succeeds)"
echo "run folder $out/$run_id"
