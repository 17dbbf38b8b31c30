#!/usr/bin/env bash
# slurm-test.sh: a sharded comparison on a real Slurm (issue 16). It starts a
# one-node cluster on this machine (munged, slurmctld and slurmd on loopback,
# 2 CPUs, no cgroups: proctrack/linuxproc, task/none, no accounting; every
# file under a temporary folder), submits deploy/slurm/vlmcmp-array-cpu.sbatch
# as a 3-task array on the tiny model and the demo's images with
# deploy/slurm/submit.sh (the merge as a job after it), waits, and checks that
# the merged summary.json has the figures of one unsharded run on the same
# images. Then it removes shard 2, checks that analyze refuses the set, reruns
# that task alone with --shard 2/3 and the merge after it, as the README says,
# and checks the figures again. The jobs it submitted are cancelled and the
# daemons it started stopped on exit, also on failure.
#
#   make slurm-test      # installs slurm-wlm and munge (as root), builds, runs this
#
# Needs root (slurmd starts the jobs), Debian's slurm-wlm and munge, python3
# and a built ./vlmcmp (or VLMCMP_BIN). SLURM_TEST_KEEP=1 keeps the temporary
# folder; SLURM_TEST_IMAGES sets the demo's image count (half are compared).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin=${VLMCMP_BIN:-$repo/vlmcmp}
shards=3
images=${SLURM_TEST_IMAGES:-36}
timeout=${SLURM_TEST_TIMEOUT:-300}
start=$(date +%s)

say() { printf 'slurm-test: [%3ss] %s\n' $(($(date +%s) - start)) "$*"; }
die() { printf 'slurm-test: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (slurmd starts the jobs; make slurm-test installs the packages)"
for c in munged mungekey slurmctld slurmd sbatch squeue scontrol python3; do
	command -v $c >/dev/null 2>&1 || die "$c not found: apt-get install slurm-wlm munge python3 (make slurm-test does)"
done
[ -x "$bin" ] || die "$bin not found: run make"

T=$(mktemp -d /tmp/vlmcmp-slurm-test.XXXXXX)
chmod 755 "$T"
daemons=() # pid:name, started in this order
ctld_pid=
stop_daemons() {
	local i pid name
	for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
		pid=${daemons[i]%%:*} name=${daemons[i]#*:}
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && { say "$name (pid $pid) ignored SIGTERM: killing it"; kill -KILL "$pid" 2>/dev/null || true; }
		wait "$pid" 2>/dev/null || true
	done
	daemons=()
}
# stop_jobs cancels the jobs still queued or running, then ends what is left of
# them: slurmstepd outlives slurmd by design, so any process whose working
# folder is in $T/work (where the jobs start; the daemons run in $T/run) is
# ours to stop.
stop_jobs() {
	local p pids=() cwd
	if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null && squeue -h -o %i 2>/dev/null | grep -q .; then
		scancel --partition=test 2>/dev/null
		for _ in $(seq 50); do squeue -h -o %i 2>/dev/null | grep -q . || break; sleep 0.2; done
	fi
	cd /
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $cwd in "$T/work" | "$T/work"/*) pids+=("${p#/proc/}") ;; esac
	done
	[ ${#pids[@]} -gt 0 ] || return 0
	say "stopping leftover job processes ${pids[*]}"
	kill -TERM "${pids[@]}" 2>/dev/null
	sleep 1
	kill -KILL "${pids[@]}" 2>/dev/null
	return 0
}
on_exit() {
	local rc=$?
	set +e
	if [ $rc -ne 0 ] && [ -d "$T/log" ]; then
		for f in "$T"/log/*; do [ -s "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; }; done >&2
	fi
	stop_jobs
	stop_daemons
	stop_jobs
	if [ "${SLURM_TEST_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		say "files kept in $T"
	else
		rm -rf "$T"
	fi
	say "$([ $rc -eq 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - start))s"
	exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

free_port() { # a TCP port nothing listens on, from a range the kernel does not hand out
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 10000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }
	done
	die "no free port"
}

# --- the work: the demo's data, tiny model and config; the reference run ----
# vlmcmp demo writes them and then runs compare on them once, unsharded, with
# --baseline mean, as the shards will: that run is the reference. No OpenAI
# key may reach it (the demo would add gpt-4o-mini), nor the shards.
unset OPENAI_API_KEY OPENAI_BASE_URL
mkdir -p "$T"/{etc,log,run,state,spool,munge,work}
cd "$T/work"
say "vlmcmp demo: data, tiny model and the unsharded reference run ($images images, half held out)"
VLMCMP_CACHE_DIR=$T/cache-reference "$bin" demo --dir vlmcmp-demo --images "$images" >"$T/log/reference.txt" 2>&1 ||
	die "vlmcmp demo failed (log $T/log/reference.txt)"
reference=$(sed -n 's/^outputs in //p' "$T/log/reference.txt" | tail -n 1)
[ -f "$reference/summary.json" ] || die "no summary.json of the demo's run (log $T/log/reference.txt)"
grep -q '^demo: vlmcmp compare .*--baseline mean' "$T/log/reference.txt" ||
	die "the demo's compare no longer uses --baseline mean: make the shards' flags match (log $T/log/reference.txt)"

# --- the cluster ------------------------------------------------------------
host=$(hostname -s)
ctld_port=$(free_port)
slurmd_port=$(free_port)
[ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$((ctld_port + 1))
export SLURM_CONF=$T/etc/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=vlmcmptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
MinJobAge=600
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 Gres=gpu:1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# One "GPU" that is /dev/null, so that the GPU array script's --gres=gpu:1
# can be checked below; no job here runs on it.
echo "NodeName=$host Name=gpu File=/dev/null" >"$T/etc/gres.conf"

mungekey --create --keyfile="$T/munge/munge.key" >/dev/null 2>&1 ||
	dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$T/munge/munge.key"
(cd "$T/run" && exec munged --foreground --force --socket="$T/munge/munge.socket" --key-file="$T/munge/munge.key" \
	--pid-file="$T/run/munged.pid" --log-file="$T/log/munged.log" --seed-file="$T/munge/seed" \
	>"$T/log/munged.stderr" 2>&1) &
daemons+=("$!:munged")
for _ in $(seq 50); do [ -S "$T/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.socket" ] || die "munged did not start"

(cd "$T/run" && exec slurmctld -D -i -f "$SLURM_CONF" >"$T/log/slurmctld.stderr" 2>&1) &
ctld_pid=$!
daemons+=("$ctld_pid:slurmctld")
(cd "$T/run" && exec slurmd -D -N "$host" -f "$SLURM_CONF" >"$T/log/slurmd.stderr" 2>&1) &
daemons+=("$!:slurmd")
up=0
for _ in $(seq 150); do
	state=$(sinfo -h -N -n "$host" -o %t 2>/dev/null || true)
	case $state in idle*) up=1; break ;; esac
	sleep 0.2
done
[ $up = 1 ] || die "the node did not come up (sinfo says '${state:-nothing}')"
say "cluster up: slurmctld :$ctld_port, slurmd :$slurmd_port, node $host $(sinfo -h -N -o '%c CPUs, %t')"

# The GPU array script as written must be accepted (sbatch --test-only
# schedules without running); this node is smaller than its request, so only
# the CPUs and memory are scaled down.
gpu_check=$(cd "$repo" && sbatch --test-only --cpus-per-task=1 --mem=1 deploy/slurm/vlmcmp-array.sbatch 2>&1) ||
	die "Slurm refuses deploy/slurm/vlmcmp-array.sbatch: $gpu_check"
say "vlmcmp-array.sbatch (--gres=gpu:1, --array=0-7) accepted: ${gpu_check#sbatch: }"

# --- the sharded run --------------------------------------------------------
export VLMCMP_BIN=$bin VLMCMP_CACHE_DIR=$T/cache-shards VLMCMP_OUTPUT_DIR=$T/work/results
submitted=$("$repo/deploy/slurm/submit.sh" --cpu --array=0-$((shards - 1)) --output="$T/log/shard-%A_%a.txt") ||
	die "submit.sh failed: $submitted"
while read -r l; do say "$l"; done <<<"$submitted"
array=$(echo "$submitted" | awk '/^array job/ {print $3}')
merge=$(echo "$submitted" | awk '/^merge job/ {print $3}')
run=$(echo "$submitted" | awk '/^run folder/ {print $3}')
[ -n "$array" ] && [ -n "$merge" ] && [ -n "$run" ] || die "submit.sh printed no job ids"

# wait_jobs waits for the given jobs to leave the queue, then checks that each
# (every task of an array) completed with status 0; scontrol keeps finished
# jobs for MinJobAge seconds (there is no accounting database).
wait_jobs() {
	local ids deadline=$(($(date +%s) + timeout)) jobs
	ids=$(IFS=,; echo "$*")
	while squeue -h -j "$ids" -o %i 2>/dev/null | grep -q .; do
		[ "$(date +%s)" -lt $deadline ] || { squeue -j "$ids" >&2; die "jobs still queued after ${timeout}s"; }
		sleep 1
	done
	jobs=$(for id in "$@"; do scontrol show job -o "$id"; done)
	python3 - "$jobs" <<'PY' || die "a job did not complete (logs in $T/log)"
import sys
bad = 0
jobs = [dict(kv.split("=", 1) for kv in line.split() if "=" in kv) for line in sys.argv[1].splitlines()]
jobs.sort(key=lambda f: (int(f.get("ArrayJobId", f["JobId"])), int(f.get("ArrayTaskId", -1))))
for f in jobs:
    name = f["JobId"] if "ArrayTaskId" not in f else "%s_%s (job %s)" % (f["ArrayJobId"], f["ArrayTaskId"], f["JobId"])
    print("slurm-test:        job %s %s: %s, exit %s, on %s" % (name, f["JobName"], f["JobState"], f["ExitCode"], f.get("NodeList", "?")))
    bad += f["JobState"] != "COMPLETED" or f["ExitCode"] != "0:0"
sys.exit(bad > 0)
PY
}

# shard_images LOG K: the image count of shard K/$shards from the line compare
# prints at its end ("shard K/N: M images, answers in ...").
shard_images() {
	local line
	line=$(sed -n 's/^shard \([0-9]*\/[0-9]*\): \([0-9]*\) images.*/\1 \2/p' "$1" | tail -n 1)
	[ -n "$line" ] || die "no 'shard K/N: M images' line in $1"
	set -- $line "$2"
	[ "$1" = "$3/$shards" ] || die "the task ran shard $1, want $3/$shards"
	echo "$2"
}

# same_summary says whether the merged summary.json has the figures of the
# unsharded run: every field but the run's id and time, the models'
# latencies and the sitting's timing (a merge of shards has none: each shard
# timed its own sitting). It prints the merged figures.
same_summary() {
	python3 - "$1" "$reference/summary.json" <<'PY' || die "merged and unsharded summaries differ"
import json, sys
merged, ref = (json.load(open(p)) for p in sys.argv[1:3])
def figures(s):
    return {m["name"]: {k: v for k, v in m.items() if k != "latency"} for m in s["models"]}
a, b = figures(merged), figures(ref)
def flat(d, pre=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, pre + k + ".")
        else:
            yield pre + k, v
bad = 0
for k in sorted((set(merged) | set(ref)) - {"run_id", "created", "models", "timing"}):
    if merged.get(k) != ref.get(k):
        print("slurm-test: %s: merged %r, unsharded %r" % (k, merged.get(k), ref.get(k)))
        bad += 1
if sorted(a) != sorted(b):
    print("slurm-test: models differ: merged %s, unsharded %s" % (sorted(a), sorted(b)))
    sys.exit(1)
for name in a:
    fa, fb = dict(flat(a[name])), dict(flat(b[name]))
    for k in sorted(set(fa) | set(fb)):
        if fa.get(k) != fb.get(k):
            print("slurm-test: %s %s: merged %r, unsharded %r" % (name, k, fa.get(k), fb.get(k)))
            bad += 1
    m = a[name]
    ci = m.get("intervals", {}).get("mae", {})
    print("slurm-test:        merged %-13s n=%d scored=%d MAE=%.4f [%.4f, %.4f] RMSE=%.4f Acc@1=%.4f Acc@2=%.4f QWK=%s no_score=%.4f" % (
        name, m["n"], m["n_scored"], m["mae"], ci.get("lo", float("nan")), ci.get("hi", float("nan")),
        m["rmse"], m["acc1"], m["acc2"], m["qwk"], m["no_score_rate"]))
print("slurm-test:        %d figures compared over %d models: %s" % (
    sum(len(dict(flat(a[n]))) for n in a), len(a), "identical" if not bad else "%d differ" % bad))
sys.exit(bad > 0)
PY
}

wait_jobs "$array" "$merge"
total=0
for k in $(seq 0 $((shards - 1))); do
	n=$(shard_images "$T/log/shard-${array}_$k.txt" $((k + 1)))
	say "array task ${array}_$k: shard $((k + 1))/$shards, $n images"
	total=$((total + n))
done
say "merge job $merge: $(grep -m1 -i 'merged' "$T/work/vlmcmp-merge-$merge.out" || echo "(no 'merged' line in its log)")"
ref_n=$(sed -n 's/^run .*: \([0-9]*\) images, models .*/\1/p' "$T/log/reference.txt" | head -n 1)
say "shards together: $total images; unsharded: $ref_n"
[ "$total" = "$ref_n" ] || die "the shards hold $total images, the unsharded run $ref_n"
same_summary "$run/summary.json"

# --- a lost shard, rerun alone as the README says ---------------------------
# Shard 2's folder is removed (a task that failed before writing anything);
# analyze must refuse the set, naming shard 2; task 1 is resubmitted alone with
# --shard 2/3, the merge after it, and the figures must be the same again.
rm -rf "$run/shards/2-of-$shards"
rm -f "$run/summary.json"
if refused=$("$bin" analyze --run "$run" 2>&1); then
	die "analyze merged a set without shard 2"
fi
say "analyze without shard 2 refuses: $(echo "$refused" | tail -n 1)"
echo "$refused" | grep -q "shard 2/$shards" || die "analyze's refusal does not name shard 2: $refused"
export VLMCMP_RUN_ID=${run##*/} VLMCMP_CACHE_DIR=$T/cache-rerun # a new cache: the model answers again
again=$(cd "$T/work" && sbatch --parsable --array=1 --output="$T/log/rerun-%A_%a.txt" \
	"$repo/deploy/slurm/vlmcmp-array-cpu.sbatch" --shard "2/$shards" --baseline mean)
again=${again%%;*}
merge2=$(cd "$T/work" && sbatch --parsable --dependency="afterok:$again" --kill-on-invalid-dep=yes \
	"$repo/deploy/slurm/vlmcmp-merge.sbatch")
merge2=${merge2%%;*}
say "rerun: array job $again (task 1, --shard 2/$shards), merge job $merge2"
wait_jobs "$again" "$merge2"
say "rerun task ${again}_1: shard 2/$shards, $(shard_images "$T/log/rerun-${again}_1.txt" 2) images"
same_summary "$run/summary.json"
