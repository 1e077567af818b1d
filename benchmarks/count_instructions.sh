#!/bin/sh
# Instructions per 365-day simulate() of the reference baseline, counted by valgrind (cachegrind):
# a figure that does not drift with the host's load, unlike timings. Takes two or three minutes.
# Usage: benchmarks/count_instructions.sh [PYTHON]   (default .venv/bin/python)
set -e
python=${1:-.venv/bin/python}
here=$(dirname "$0")
count() {
    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$python" "$here/simulate_n.py" "$1" 2>&1 | grep "I *refs" | tr -d ',' | awk '{print $NF}'
}
a=$(count 2)
b=$(count 22)
echo "$(( (b - a) / 20 )) instructions per 365-day simulate()"
