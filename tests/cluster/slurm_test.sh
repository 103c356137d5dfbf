#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# slurm_test.sh — imgpool as a real Slurm job array, on a single-node Slurm that this
# script brings up on loopback and takes down again.
#
#   tests/cluster/slurm_test.sh IMGPOOL SAMPLES_DIR
#
# What it does:
#   1. as root only (else "SKIP: <why>", exit 0), installs Debian's slurmctld, slurmd,
#      slurm-client and munge when they are missing; when apt-get cannot, it prints
#      "SKIP: <why>" and exits 0 — it never pretends to have run anything;
#   2. starts munged with its own key and socket, then slurmctld and slurmd with a
#      slurm.conf of its own, all under one temp folder, listening on loopback only
#      (CommunicationParameters=NoCtldInAddrAny,NoInAddrAny: they bind to the address
#      of the host name, which is mapped to 127.0.1.1 in /etc/hosts for the run when it
#      is not a 127.x one already), run with -D/-F as background children and stopped
#      by pid on any exit;
#   3. submits `IMGPOOL -o OUT --report OUT/report-{shard}.jsonl SAMPLES_DIR` as a
#      4-task array (sbatch --array=1-4 --cpus-per-task=1): imgpool finds its shard in
#      SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT by itself;
#   4. checks each task's exit code as Slurm recorded it against its report, the
#      summary's shard and worker count, that the shard reports are disjoint and
#      together cover a one-machine run (`--shard none`), that the corrupt sample
#      fails in exactly one shard, and that the union of the outputs equals the
#      one-machine run's, by relative path;
#   5. submits examples/slurm/thumbs.sbatch the same way (its #SBATCH sizes
#      overridden on the command line) and checks its shards alike.
#
# SAMPLES_DIR is what samples/make-samples.sh makes (with its one corrupt JPEG).
# Prints PASS / FAIL lines and ends with "N passed, N failed"; exits 1 on a failure.
# Takes about 15 s with the packages installed, plus 10-20 s to install them.
# KEEP=1 keeps the temp folder (config, daemon and job logs, outputs) afterwards.
set -euo pipefail

PROG=${0##*/}
TASKS=4                 # array size
UP_TIMEOUT=30           # seconds for the daemons to come up and the node to be idle
ARRAY_TIMEOUT=60        # seconds for each array to finish (it takes ~4 s)

usage() {
	cat <<EOF
usage: $PROG IMGPOOL SAMPLES_DIR

Bring up a single-node Slurm on loopback (Debian's slurmctld, slurmd, slurm-client
and munge, installed with apt-get when missing and run as root), run imgpool over
SAMPLES_DIR as a $TASKS-task job array, and examples/slurm/thumbs.sbatch too, and
check that the shards are disjoint and together equal a one-machine run. Prints
"SKIP: ..." and exits 0 when Slurm cannot be had here. KEEP=1 keeps the temp folder
with the daemon and job logs.
EOF
}

case "${1-}" in
-h | --help) usage; exit 0 ;;
esac
[ $# -eq 2 ] || { usage >&2; exit 2; }

npass=0
nfail=0

# One verdict line per check; the counts make the closing "N passed, N failed".
pass() { printf 'PASS %s\n' "$*"; npass=$((npass + 1)); }
fail() { printf 'FAIL %s\n' "$*"; nfail=$((nfail + 1)); }
say() { printf '%s: %s\n' "$PROG" "$*"; }

# Slurm cannot be had here: say why and leave with success, having tested nothing.
skip() {
	printf 'SKIP: %s\n' "$*"
	exit 0
}

# Something the test cannot go on without broke (a daemon did not start, the job was
# not accepted): a failure, never a skip, with the logs that say why.
abort() {
	fail "$*"
	show_logs
	printf '%d passed, %d failed\n' "$npass" "$nfail"
	exit 1
}

# The tail of each daemon's log and of the one-machine run's, for a failure that
# may have happened inside Slurm (the array tasks' logs are shown where they fail).
show_logs() {
	local f
	[ -n "${W-}" ] && [ -d "$W/log" ] || return 0
	for f in "$W"/log/munged.log "$W"/log/slurmctld.log "$W"/log/slurmd.log "$W"/log/one-machine.out; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 15 lines)\n' "$f"
		tail -n 15 "$f" | sed 's/^/    /'
	done
}

IMGPOOL=$(realpath -- "$1") || { say "no such program: $1" >&2; exit 2; }
SAMPLES=$(realpath -- "$2") || { say "no such folder: $2" >&2; exit 2; }
[ -x "$IMGPOOL" ] || { say "not an executable: $IMGPOOL" >&2; exit 2; }
[ -d "$SAMPLES" ] || { say "not a folder: $SAMPLES" >&2; exit 2; }

W=""                     # the temp folder of this run: config, state, logs, outputs
DAEMON_PIDS=()           # munged, slurmctld, slurmd: started by us, stopped by us
HOSTS_BACKUP=""          # set when /etc/hosts was changed and must be put back
POLICY_RC=""             # set while our policy-rc.d keeps apt from starting services
JOBID=""

# On any exit: cancel our job if still there, stop our daemons by their pids
# (newest first, TERM then KILL), put /etc/hosts back, remove the temp folder.
cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	[ -z "$POLICY_RC" ] || rm -f "$POLICY_RC"
	if [ -n "$JOBID" ] && [ -f "$W/slurm.conf" ]; then
		# Cancelled steps are killed by their slurmstepd on slurmd's word: give that
		# a few seconds before slurmd goes.
		export SLURM_CONF="$W/slurm.conf"
		timeout 5 scancel "$JOBID" >/dev/null 2>&1 || true
		for _ in $(seq 25); do
			[ -z "$(timeout 5 squeue -h -j "$JOBID" -o %i 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	for ((i = ${#DAEMON_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${DAEMON_PIDS[$i]}
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$HOSTS_BACKUP" ]; then
		# In place, not by rename: /etc/hosts may be a bind mount.
		if cat "$HOSTS_BACKUP" >/etc/hosts; then
			rm -f "$HOSTS_BACKUP"
		else
			say "could not put /etc/hosts back: the original is in $HOSTS_BACKUP" >&2
		fi
	fi
	if [ -n "$W" ] && [ "${KEEP-}" = 1 ]; then
		say "kept $W"
	elif [ -n "$W" ]; then
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The Debian packages, each with a program that shows it is installed.
PACKAGES=(slurmctld slurmd slurm-client munge)
PROGRAMS=(slurmctld slurmd sbatch munged)

# Install what is missing (we are root by now). Without the packages there is
# nothing to test, which is a skip, not a failure. The packages' postinst scripts
# would start the system's munged, slurmctld and slurmd with /etc's config: a
# policy-rc.d of ours (Debian's switch for that, absent on a plain install) stops
# them for the length of the install.
ensure_packages() {
	local missing=() i log
	for i in "${!PACKAGES[@]}"; do
		command -v "${PROGRAMS[$i]}" >/dev/null 2>&1 || missing+=("${PACKAGES[$i]}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null 2>&1 || skip "the packages ${missing[*]} are missing and there is no apt-get"
	say "installing ${missing[*]} with apt-get"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		POLICY_RC=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# %s: no service starts while it installs Slurm\nexit 101\n' "$PROG" >"$POLICY_RC"
		chmod 755 "$POLICY_RC"
	fi
	log=$(mktemp)
	if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		tail -n 5 "$log" | sed 's/^/    /'
		rm -f "$log"
		skip "apt-get could not install ${missing[*]}"
	fi
	rm -f "$log"
	if [ -n "$POLICY_RC" ]; then
		rm -f "$POLICY_RC"
		POLICY_RC=""
	fi
	for i in "${!PACKAGES[@]}"; do
		command -v "${PROGRAMS[$i]}" >/dev/null 2>&1 ||
			skip "${PACKAGES[$i]} was installed but ${PROGRAMS[$i]} is not on PATH"
	done
}

# Daemons need root here: slurmd runs jobs as their owner and munged checks that its
# key belongs to the user running it; apt-get needs root too. A non-root run skips
# rather than half-works.
[ "$(id -u)" = 0 ] ||
	skip "the single-node Slurm installs its packages and runs its daemons as root; run this as root"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read the JSON reports"
t_install=$SECONDS
ensure_packages
[ $((SECONDS - t_install)) -lt 1 ] || say "packages installed in $((SECONDS - t_install)) s"

W=$(mktemp -d "${TMPDIR:-/tmp}/imgpool-slurm.XXXXXX")
# munged wants its socket folder, and the folders above it, open to all (x), and
# its key folder private.
chmod 755 "$W"
mkdir -m 755 "$W/munge-sock" "$W/run" "$W/log" "$W/state" "$W/spool"
mkdir -m 700 "$W/munge"

# With NoCtldInAddrAny/NoInAddrAny slurmctld and slurmd bind to the address the
# host name resolves to (getaddrinfo's first IPv4 answer); make that a loopback one,
# with a line put first in /etc/hosts and taken out again at exit, so that nothing
# listens beyond loopback. HOST_ADDR is that address: the node's NodeAddr too.
host_to_loopback() {
	local name
	name=$(hostname -s)
	HOST_ADDR=$(getent ahostsv4 "$name" 2>/dev/null | awk 'NR == 1 { print $1 }')
	case "$HOST_ADDR" in 127.*) return 0 ;; esac
	say "host name $name resolves to '${HOST_ADDR:-nothing}': mapping it to 127.0.1.1 in /etc/hosts for the test"
	local backup
	backup=$(mktemp)
	cp /etc/hosts "$backup"
	if [ ! -w /etc/hosts ]; then
		rm -f "$backup"
		skip "host name $name resolves to ${HOST_ADDR:-nothing}, not loopback, and /etc/hosts is read-only"
	fi
	HOSTS_BACKUP=$backup
	{ printf '127.0.1.1\t%s %s\n' "$name" "$(hostname)"; cat "$backup"; } >/etc/hosts ||
		abort "could not write /etc/hosts"
	HOST_ADDR=$(getent ahostsv4 "$name" | awk 'NR == 1 { print $1 }')
	case "$HOST_ADDR" in
	127.*) ;;
	*) abort "host name $name still resolves to '$HOST_ADDR' after editing /etc/hosts" ;;
	esac
}

# Two TCP ports free on every address now, so that a Slurm already on this machine
# (6817/6818) or a second run of this test does not collide with ours.
free_ports() {
	python3 - <<'PY'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
PY
}

# Poll CMD (a shell string) every 0.2 s until it succeeds or SECONDS pass.
wait_until() {
	local seconds=$1 cmd=$2 end
	end=$((SECONDS + seconds))
	until eval "$cmd" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}

# A daemon that died during start-up: say so with its log instead of waiting on.
check_alive() {
	local pid=$1 name=$2
	kill -0 "$pid" 2>/dev/null || abort "$name exited during start-up"
}

# munged with a fresh key of our own and its own socket: slurm finds it through
# AuthInfo=socket=..., the system's munged (if any) is never touched.
start_munge() {
	dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
	chmod 400 "$W/munge/munge.key"
	MUNGE_SOCKET="$W/munge-sock/munge.socket"
	munged -F --key-file="$W/munge/munge.key" --socket="$MUNGE_SOCKET" \
		--pid-file="$W/munge/munged.pid" --seed-file="$W/munge/munged.seed" \
		>"$W/log/munged.log" 2>&1 &
	local pid=$!
	DAEMON_PIDS+=("$pid")
	wait_until 10 "munge -n -S '$MUNGE_SOCKET' | unmunge -S '$MUNGE_SOCKET'" ||
		{ check_alive "$pid" munged; abort "munged did not answer on $MUNGE_SOCKET within 10 s"; }
}

# slurm.conf for one node of $(nproc) CPUs named after this host, everything under
# $W, no cgroups, no accounting, and no batch scheduling delay (the default
# batch_sched_delay costs seconds per wave of array tasks).
write_slurm_conf() {
	local cpus mem host
	read -r CTLD_PORT SLURMD_PORT <<<"$(free_ports)"
	cpus=$(nproc)
	# 90% of the memory in MB, so that a job asking for some (the example's
	# --mem-per-cpu) fits; config_overrides: no check against the hardware.
	mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
	host=$(hostname -s)
	NODE=$host
	cat >"$W/slurm.conf" <<EOF
# Written by $PROG for one test run; everything lives in $W.
ClusterName=imgpooltest
SlurmctldHost=$host($HOST_ADDR)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/run/slurmctld.pid
SlurmdPidFile=$W/run/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$W/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=$HOST_ADDR CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=10 State=UP
EOF
	: >"$W/plugstack.conf"
	export SLURM_CONF="$W/slurm.conf"
}

# slurmctld, then slurmd, in the foreground (-D) as our background children; ready
# when the node reports idle.
start_slurm() {
	slurmctld -D -i -f "$SLURM_CONF" >>"$W/log/slurmctld.out" 2>&1 &
	DAEMON_PIDS+=($!)
	local ctld=$!
	wait_until "$UP_TIMEOUT" "scontrol ping | grep -q UP" ||
		{ check_alive "$ctld" slurmctld; abort "slurmctld did not answer on $HOST_ADDR:$CTLD_PORT within ${UP_TIMEOUT}s"; }
	slurmd -D -N "$NODE" -f "$SLURM_CONF" >>"$W/log/slurmd.out" 2>&1 &
	DAEMON_PIDS+=($!)
	local sd=$!
	wait_until "$UP_TIMEOUT" "sinfo -h -n '$NODE' -o %T | grep -qx idle" ||
		{ check_alive "$sd" slurmd; abort "node $NODE not idle within ${UP_TIMEOUT}s: $(sinfo -h -N -o '%N %T %E' 2>&1)"; }
}

# Every address our daemons listen on must be a loopback one (seen with ss, when
# iproute2 is there; a listener we cannot see at all is a failure, not a pass).
check_loopback_only() {
	command -v ss >/dev/null 2>&1 || { say "no ss (iproute2): not checking the listening addresses"; return 0; }
	local addrs bad
	addrs=$(ss -Hltn 2>/dev/null | awk -v a=":$CTLD_PORT" -v b=":$SLURMD_PORT" \
		'substr($4, length($4) - length(a) + 1) == a || substr($4, length($4) - length(b) + 1) == b { print $4 }' |
		sort -u | tr '\n' ' ')
	bad=$(printf '%s\n' "$addrs" | tr ' ' '\n' | grep . | grep -v '^127\.' || true)
	if [ -z "$addrs" ]; then
		fail "ss shows no listener on ports $CTLD_PORT / $SLURMD_PORT"
	elif [ -n "$bad" ]; then
		fail "slurm listens beyond loopback: $addrs"
	else
		pass "slurmctld and slurmd listen on loopback only: $addrs"
	fi
}

# The batch script of one array task: imgpool reads SLURM_ARRAY_TASK_ID and
# SLURM_ARRAY_TASK_COUNT itself, and SLURM_CPUS_PER_TASK for its worker count.
write_task_script() {
	cat >"$W/task.sh" <<'EOF'
#!/bin/bash
# usage (under sbatch --array): task.sh IMGPOOL OUTDIR SAMPLES_DIR
echo "array task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT on $(hostname), $SLURM_CPUS_PER_TASK cpu(s)"
exec "$1" -o "$2" --report "$2/report-{shard}.jsonl" "$3"
EOF
	chmod 755 "$W/task.sh"
}

# Submit the array; JOBID is the array's job id.
submit_array() {
	local out
	out=$(sbatch --parsable --array=1-"$TASKS" --cpus-per-task=1 --time=5 \
		--job-name=imgpool-test --chdir="$W" --output="$W/log/task-%a.out" \
		"$W/task.sh" "$IMGPOOL" "$W/out" "$SAMPLES" 2>&1) ||
		abort "sbatch refused the array: $out"
	JOBID=${out%%;*}
	say "submitted job array $JOBID ($TASKS tasks)"
}

# One line per array task, "TASK STATE EXIT-CODE SIGNAL", once the array has been split
# into its tasks (a pending array is one record with ArrayTaskId=1-4).
task_states() {
	scontrol -o show job "$JOBID" 2>/dev/null |
		awk '{
			task = state = code = ""
			for (i = 1; i <= NF; i++) {
				eq = index($i, "=")
				key = substr($i, 1, eq - 1); val = substr($i, eq + 1)
				if (key == "ArrayTaskId") task = val
				else if (key == "JobState") state = val
				else if (key == "ExitCode") code = val
			}
			split(code, c, ":")
			if (task ~ /^[0-9]+$/) print task, state, c[1], c[2]
		}' |
		sort -n
}

# Until every task is in a final state, or ARRAY_TIMEOUT.
wait_array() {
	local states
	local end=$((SECONDS + ARRAY_TIMEOUT))
	while :; do
		states=$(task_states)
		if [ "$(printf '%s\n' "$states" | grep -c .)" -eq "$TASKS" ] &&
			! printf '%s\n' "$states" | grep -qE ' (PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED[A-Z_]*|RESIZING) '; then
			return 0
		fi
		[ $SECONDS -lt $end ] || abort "the array did not finish within ${ARRAY_TIMEOUT}s: $(squeue -h -o '%i %T %R' 2>&1 | tr '\n' ';')"
		sleep 0.25
	done
}

# Split a JSON Lines report of imgpool into PREFIX.inputs (every file record),
# PREFIX.errors (those with status error) and PREFIX.outputs (the output paths of
# the files thumbnailed), one path a line, and print the summary's "shard" and
# "workers". python3 (which the project needs anyway) rather than jq, which is not
# one of its packages; one call per report.
read_report() {
	python3 - "$1" "$2" <<'PY'
import json, sys
path, prefix = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
files = [r for r in recs if r.get("type") == "file"]
lists = {
    "inputs": [r["input"] for r in files],
    "errors": [r["input"] for r in files if r.get("status") == "error"],
    "outputs": [o["path"] for r in files if r.get("status") == "ok" for o in r.get("outputs", [])],
}
for name, items in lists.items():
    with open(prefix + "." + name, "w", encoding="utf-8") as f:
        f.writelines(x + "\n" for x in items)
summary = [r for r in recs if r.get("type") == "summary"] or [{}]
print(summary[-1].get("shard") or "<none>", summary[-1].get("workers", "<none>"))
PY
}

# The thumbnails under an output folder, as sorted relative paths (not the reports,
# not imgpool's own .imgpool folder).
output_files() {
	(cd "$1" && find . -path ./.imgpool -prune -o -type f ! -name 'report-*.jsonl' -print |
		sed 's|^\./||' | LC_ALL=C sort)
}

# The reference: the same folder on one machine, no scheduler variables, no shard.
# Leaves its thumbnails in $W/one and the sorted list of its inputs in $W/one-inputs.
one_machine_run() {
	local rc=0
	env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN \
		-u SLURM_ARRAY_TASK_MAX -u JOB_COMPLETION_INDEX -u AWS_BATCH_JOB_ARRAY_INDEX \
		"$IMGPOOL" -q --shard none -o "$W/one" --report "$W/one-report.jsonl" "$SAMPLES" \
		>"$W/log/one-machine.out" 2>&1 || rc=$?
	if [ "$rc" -le 1 ]; then
		pass "one-machine run (--shard none) exited $rc"
	else
		fail "one-machine run (--shard none) exited $rc: $(tail -n 3 "$W/log/one-machine.out")"
	fi
	read_report "$W/one-report.jsonl" "$W/one-report" >/dev/null
	LC_ALL=C sort "$W/one-report.inputs" >"$W/one-inputs"
}

# The tasks of the array JOBID, one by one: the exit code Slurm recorded is the one
# the task's report implies (1 if a file failed, else 0), the summary names the
# shard and one worker (--cpus-per-task=1), the shard's own lock was taken. LABEL
# names the run in messages and files; REPORT and LOG are printf formats of the
# task number; OUTDIR is the output folder. Gathers $W/LABEL.{inputs,errors,outputs}.
check_tasks() {
	local label=$1 report_fmt=$2 log_fmt=$3 outdir=$4
	local states k state code sig report log shard workers nerr want lock
	states=$(task_states)
	scontrol -o show job "$JOBID" >"$W/log/$label-job.txt" 2>&1 || true
	: >"$W/$label.inputs"
	: >"$W/$label.errors"
	: >"$W/$label.outputs"
	for k in $(seq "$TASKS"); do
		read -r _ state code sig <<<"$(printf '%s\n' "$states" | awk -v k="$k" '$1 == k')"
		# shellcheck disable=SC2059 # the formats are ours
		report=$(printf "$report_fmt" "$k")
		# shellcheck disable=SC2059
		log=$(printf "$log_fmt" "$k")
		if [ ! -s "$report" ]; then
			fail "$label task $k ($state, exit ${code-?}): no report $report"
			[ ! -f "$log" ] || tail -n 5 "$log" | sed 's/^/    /'
			continue
		fi
		read -r shard workers <<<"$(read_report "$report" "$W/$label-$k")"
		cat "$W/$label-$k.inputs" >>"$W/$label.inputs"
		cat "$W/$label-$k.errors" >>"$W/$label.errors"
		cat "$W/$label-$k.outputs" >>"$W/$label.outputs"
		nerr=$(grep -c . "$W/$label-$k.errors" || true)
		want=0
		[ "$nerr" -eq 0 ] || want=1
		if [ "$sig" = 0 ] && [ "$code" = "$want" ]; then
			pass "$label task $k: $state, exit $code as Slurm recorded it ($(grep -c . "$W/$label-$k.inputs") files, $nerr failed)"
		else
			fail "$label task $k: $state, exit $code:$sig as Slurm recorded it, expected $want ($nerr files failed)"
			[ ! -f "$log" ] || tail -n 5 "$log" | sed 's/^/    /'
		fi
		lock="$outdir/.imgpool/lock-$k-of-$TASKS"
		if [ "$shard" = "$k/$TASKS" ] && [ "$workers" = 1 ] && [ -e "$lock" ]; then
			pass "$label task $k: summary says shard $shard, $workers worker (--cpus-per-task=1); lock-$k-of-$TASKS taken"
		else
			fail "$label task $k: summary says shard '$shard' with $workers workers, expected $k/$TASKS with 1 (${lock##*/}: $([ -e "$lock" ] && echo present || echo absent))"
		fi
	done
}

# The shards of a run split the work exactly: no input and no output in two
# reports, every input of the one-machine run in one, and the corrupt sample the one
# error, in exactly one shard.
check_partition() {
	local label=$1 dups corrupt others
	dups=$(LC_ALL=C sort "$W/$label.inputs" | uniq -d)
	if [ -z "$dups" ] && [ -s "$W/$label.inputs" ]; then
		pass "$label: the $TASKS shard reports are disjoint ($(grep -c . "$W/$label.inputs") files in all)"
	else
		fail "$label: files in more than one shard report (or none at all): ${dups:-<no files>}"
	fi
	dups=$(LC_ALL=C sort "$W/$label.outputs" | uniq -d)
	if [ -z "$dups" ]; then
		pass "$label: no output is written by two shards"
	else
		fail "$label: outputs written by two shards: $dups"
	fi
	if cmp -s <(LC_ALL=C sort "$W/$label.inputs") "$W/one-inputs"; then
		pass "$label: the shards' files together are exactly the one-machine run's $(grep -c . "$W/one-inputs")"
	else
		fail "$label: the shards' files differ from the one-machine run's (< shards, > one machine):"
		diff <(LC_ALL=C sort "$W/$label.inputs") "$W/one-inputs" | sed 's/^/    /' || true
	fi
	corrupt=$(grep -c '/corrupt-truncated\.jpg$' "$W/$label.errors" || true)
	others=$(grep -v '/corrupt-truncated\.jpg$' "$W/$label.errors" || true)
	if [ "$corrupt" = 1 ] && [ -z "$others" ]; then
		pass "$label: corrupt-truncated.jpg is reported as an error by exactly one shard, nothing else failed"
	else
		fail "$label: corrupt-truncated.jpg reported as an error $corrupt times; other errors: ${others:-none}"
	fi
}

# The batch script of the README, examples/slurm/thumbs.sbatch, submitted as it is
# but for the array and task sizes (sbatch's command line overrides its #SBATCH
# lines): its reports land in the folder sbatch runs in, named after the job id.
run_example() {
	local example out
	example=$(cd "$(dirname "$0")/../.." && pwd)/examples/slurm/thumbs.sbatch
	if [ ! -f "$example" ]; then
		say "no $example: not running it"
		return 0
	fi
	mkdir "$W/example"
	out=$(cd "$W/example" && IMGPOOL=$IMGPOOL sbatch --parsable --array=1-"$TASKS" \
		--cpus-per-task=1 --time=5 --output="$W/log/example-%a.out" \
		"$example" "$SAMPLES" "$W/example/thumbs" 2>&1) ||
		{ fail "sbatch refused examples/slurm/thumbs.sbatch: $out"; return 0; }
	JOBID=${out%%;*}
	say "submitted examples/slurm/thumbs.sbatch as job array $JOBID"
	wait_array
	check_tasks example "$W/example/thumbs-$JOBID-%d-of-$TASKS.jsonl" "$W/log/example-%d.out" \
		"$W/example/thumbs"
	check_partition example
	# What the reports say was written is what is on disk (two sizes a file here).
	sed "s|^$W/example/thumbs/||" "$W/example.outputs" | LC_ALL=C sort >"$W/example-reported"
	output_files "$W/example/thumbs" >"$W/example-files"
	if [ -s "$W/example-files" ] && cmp -s "$W/example-reported" "$W/example-files"; then
		pass "example: the outputs on disk are the ones its reports list ($(grep -c . "$W/example-files") files)"
	else
		fail "example: the outputs on disk differ from the reports' (< reports, > disk):"
		diff "$W/example-reported" "$W/example-files" | sed 's/^/    /' || true
	fi
}

# ---------------------------------------------------------------------------------
start=$SECONDS
host_to_loopback
start_munge
write_slurm_conf
start_slurm
say "slurm up in $((SECONDS - start)) s (node $NODE, $(nproc) cpus, $HOST_ADDR, ctld port $CTLD_PORT)"
check_loopback_only

write_task_script
t_submit=$SECONDS
submit_array
wait_array
say "array finished $((SECONDS - t_submit)) s after submission"

one_machine_run
check_tasks array "$W/out/report-%d-of-$TASKS.jsonl" "$W/log/task-%d.out" "$W/out"
check_partition array

# The outputs on disk: the union of the shards equals the one-machine run.
output_files "$W/out" >"$W/cluster-files"
output_files "$W/one" >"$W/one-files"
if [ -s "$W/one-files" ] && cmp -s "$W/cluster-files" "$W/one-files"; then
	pass "array: its outputs equal the one-machine run's ($(grep -c . "$W/one-files") files, by relative path)"
else
	fail "array: its outputs differ from the one-machine run's (< array, > one machine):"
	diff "$W/cluster-files" "$W/one-files" | sed 's/^/    /' || true
fi

run_example

say "total $((SECONDS - start)) s"
[ "$nfail" -eq 0 ] || show_logs
printf '%d passed, %d failed\n' "$npass" "$nfail"
[ "$nfail" -eq 0 ]
