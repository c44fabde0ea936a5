#!/usr/bin/env bash
# A throw-away single-node Slurm (munge, MariaDB, slurmdbd, slurmctld, slurmd) for the workflow's
# Slurm test, from Debian's packages (slurm-wlm munge mariadb-server slurmdbd), run as root.
#   cluster.sh up DIR     start everything with state, logs and sockets under DIR
#   cluster.sh down DIR   stop exactly the daemons started there (by their pid files)
# Facts this relies on are in docs/slurm.md: the config must be at /etc/slurm/slurm.conf
# (the jobstep plugin drops SLURM_CONF), munge's socket directory needs o+x, and a non-default
# munge socket is named both as AuthInfo and AccountingStoragePass.
set -euo pipefail

action=${1:?usage: cluster.sh up|down DIR}
dir=$(realpath -m "${2:?usage: cluster.sh up|down DIR}")
conf=/etc/slurm/slurm.conf
dbd_conf=/etc/slurm/slurmdbd.conf  # slurmdbd reads it beside slurm.conf, nowhere else
db_port=${SLURM_TEST_DB_PORT:-33306}
dbd_port=${SLURM_TEST_DBD_PORT:-6819}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "cluster.sh: timed out waiting for $what" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  return 1
}

stop() {
  for daemon in slurmd slurmctld slurmdbd mariadbd munged; do
    pidfile=$dir/run/$daemon.pid
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  for file in "$conf" "$dbd_conf"; do
    if [ "$(readlink "$file" 2>/dev/null)" = "$dir/slurm/$(basename "$file")" ]; then
      rm -f "$file"
      if [ -e "$dir/$(basename "$file").orig" ]; then mv "$dir/$(basename "$file").orig" "$file"; fi
    fi
  done
  return 0
}

if [ "$action" = down ]; then stop; exit 0; fi
[ "$action" = up ] || { echo "usage: cluster.sh up|down DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "cluster.sh: needs root" >&2; exit 2; }

host=$(hostname -s)
mkdir -p "$dir"/{munge,mysql,slurm/state,slurm/spool,log,run}
chmod 0711 "$dir" "$dir/munge"
trap 'stop' ERR

# munge: its own key and socket
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
wait_for 10 munge test -S "$dir/munge/munge.socket"

# MariaDB on loopback, for slurmdbd (so that sacct reports job states and why jobs failed)
mariadb-install-db --user=root --datadir="$dir/mysql" --auth-root-authentication-method=normal >"$dir/log/mariadb-install.log" 2>&1
mariadbd --user=root --datadir="$dir/mysql" --socket="$dir/run/mysql.sock" --bind-address=127.0.0.1 \
  --port="$db_port" --pid-file="$dir/run/mariadbd.pid" --log-error="$dir/log/mariadbd.log" &
wait_for 30 mariadb mariadb --socket="$dir/run/mysql.sock" -u root -e "SELECT 1"
mariadb --socket="$dir/run/mysql.sock" -u root -e \
  "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; GRANT ALL ON *.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"

cat >"$dir/slurm/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
EOF
chmod 0600 "$dir/slurm/slurmdbd.conf"
mkdir -p /etc/slurm
link() {  # put our file at a system path, keeping whatever was there
  if [ -e "$2" ] && [ ! -L "$2" ]; then mv "$2" "$dir/$(basename "$2").orig"; fi
  ln -sfn "$1" "$2"
}
link "$dir/slurm/slurmdbd.conf" "$dbd_conf"
slurmdbd
wait_for 30 slurmdbd bash -c "exec 3<>/dev/tcp/127.0.0.1/$dbd_port"

cat >"$dir/slurm/slurm.conf" <<EOF
ClusterName=implicitbias
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
StateSaveLocation=$dir/slurm/state
SlurmdSpoolDir=$dir/slurm/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
AccountingStoragePass=$dir/munge/munge.socket
MpiDefault=none
ReturnToService=2
MinJobAge=600
SchedulerType=sched/backfill
NodeName=$host CPUs=$(nproc) RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
link "$dir/slurm/slurm.conf" "$conf"

slurmctld
wait_for 30 slurmctld scontrol ping
slurmd
wait_for 30 "an idle node" bash -c "sinfo -h -o %T | grep -q idle"
echo "cluster.sh: Slurm is up (state in $dir)"
