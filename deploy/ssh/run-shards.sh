#!/usr/bin/env bash
# Run one stampede scenario split over several boxes with plain ssh, then merge the results.
#
#   deploy/ssh/run-shards.sh SCENARIO.toml MERGED.json host1 host2 [host3...]
#
# Each host runs shard i/N of the scenario (its share of users or of the arrival rate, and its
# slice of CSV data), all starting at the same wall-clock time (--start-at, 20 s from now by
# default: START_IN=60 for slow links); the results are copied back and merged exactly
# (`stampede merge`: histograms added, thresholds re-evaluated). Needs key-based ssh, clocks in
# sync (NTP/chrony), and stampede on each host's PATH (or REMOTE_STAMPEDE=/path/to/stampede).
# The scenario's CSV files are copied along with it (same relative paths).
set -euo pipefail

if (($# < 3)); then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
scenario=$1
merged=$2
shift 2
hosts=("$@")
n=${#hosts[@]}
ssh=${SSH:-ssh}
scp=${SCP:-scp}
remote_bin=${REMOTE_STAMPEDE:-stampede}
start_in=${START_IN:-20}

# Refuse a broken file here, before any box is touched.
stampede run "$scenario" --dry-run >/dev/null

start_at=$(date -u -d "+${start_in} sec" +%FT%TZ)
local_dir=$(mktemp -d "${TMPDIR:-/tmp}/stampede-shards.XXXXXX")
scenario_dir=$(cd "$(dirname "$scenario")" && pwd)
echo "running $(basename "$scenario") on $n hosts, starting at $start_at" >&2

pids=()
for i in "${!hosts[@]}"; do
    host=${hosts[$i]}
    shard=$((i + 1))
    remote_dir=/tmp/stampede-$$-shard-$shard
    (
        "$ssh" "$host" "mkdir -p $remote_dir"
        # The scenario's directory holds the file and the CSV data it refers to.
        "$scp" -q -r "$scenario_dir/." "$host:$remote_dir/"
        code=0
        "$ssh" "$host" "$remote_bin run $remote_dir/$(basename "$scenario") --shard $shard/$n \
            --start-at $start_at -q --json $remote_dir/result.json" >"$local_dir/shard-$shard.txt" 2>&1 || code=$?
        "$scp" -q "$host:$remote_dir/result.json" "$local_dir/shard-$shard.json" ||
            echo "warning: no result from $host (shard $shard, exit $code)" >&2
        "$ssh" "$host" "rm -rf $remote_dir" || true
    ) &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || true
done

results=("$local_dir"/shard-*.json)
if [[ ! -e ${results[0]} ]]; then
    echo "error: no shard produced a result; see $local_dir/shard-*.txt" >&2
    exit 3
fi
echo "shard summaries in $local_dir" >&2
if ((${#results[@]} == 1)); then
    cp "${results[0]}" "$merged" && exec stampede report "$merged"
fi
exec stampede merge "${results[@]}" -o "$merged"
