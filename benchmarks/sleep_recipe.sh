#!/bin/sh
# A stand-in for esorex in the cascade benchmarks: the recipe name says how long to "work".
# "noop" returns at once; "sleep0.25" sleeps 0.25 s.  With DFOS_BENCH_LOG set, start and end
# times (epoch seconds) are appended to that file, for parent-to-child latencies.
for arg in "$@"; do case "$arg" in --*) ;; *) recipe="$arg"; break;; esac; done
sof=""
for arg in "$@"; do sof="$arg"; done
name=$(basename "$sof" .sof)
[ -n "$DFOS_BENCH_LOG" ] && echo "start $name $(date +%s.%N)" >> "$DFOS_BENCH_LOG"
case "$recipe" in sleep*) sleep "${recipe#sleep}";; esac
[ -n "$DFOS_BENCH_LOG" ] && echo "end $name $(date +%s.%N)" >> "$DFOS_BENCH_LOG"
exit 0
