#!/usr/bin/env bash
# Gather the result of every shard of an Indexed Job run of stampede (deploy/k8s/stampede-job.yaml)
# from the pods' logs, and merge them: collect.sh [JOB [MERGED.json]].
set -euo pipefail
job=${1:-stampede}
merged=${2:-merged.json}
dir=$(mktemp -d "${TMPDIR:-/tmp}/stampede-$job.XXXXXX")

kubectl wait --for=condition=complete --timeout=24h "job/$job" >/dev/null ||
    echo "warning: job/$job did not complete; merging the shards that wrote a result" >&2
n=0
for pod in $(kubectl get pods -l "job-name=$job" -o name); do
    index=$(kubectl get "$pod" -o jsonpath='{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}')
    line=$(kubectl logs "$pod" | sed -n 's/^STAMPEDE-RESULT //p' | tail -n 1)
    if [[ -z "$line" ]]; then
        echo "warning: $pod (shard $((index + 1))) printed no result" >&2
        continue
    fi
    base64 -d <<<"$line" >"$dir/shard-$((index + 1)).json"
    n=$((n + 1))
done
((n > 0)) || { echo "error: no shard printed a result" >&2; exit 2; }
echo "merging $n shard results from $dir" >&2
if ((n == 1)); then
    cp "$dir"/shard-*.json "$merged" && stampede report "$merged"
else
    stampede merge "$dir"/shard-*.json -o "$merged"
fi
