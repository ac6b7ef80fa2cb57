#!/usr/bin/env bash
# On a CUDA machine: the GPU tests and the GPU benchmark in one go, results in one folder.
#   tools/gpu_check.sh [OUT_DIR]      (default: gpu_check_<date>)
# Runs with the Python that has rtstyle and a CUDA build of torch ($PYTHON, default .venv/bin/python,
# else python3). TensorRT parts run where `tensorrt` imports; elsewhere they are reported as skipped.
# Fails when the fixtures are missing (RTSTYLE_REQUIRE_FIXTURES=1, as in CI), when any GPU test
# fails, or when none passed: a run that tested nothing is not a GPU check.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu_check_$(date +%Y%m%d_%H%M%S)}"
mkdir -p "$out"
py="${PYTHON:-}"
[ -n "$py" ] || { [ -x .venv/bin/python ] && py=.venv/bin/python || py=python3; }
export RTSTYLE_FIXTURES="${RTSTYLE_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
export RTSTYLE_REQUIRE_FIXTURES=1
[ -f "$RTSTYLE_FIXTURES/MANIFEST.md" ] || { echo "gpu_check: fixtures not found at $RTSTYLE_FIXTURES" >&2; exit 1; }

{ nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv || true
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
  "$py" -c "import tensorrt; print('tensorrt', tensorrt.__version__)" 2>&1 || true
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
"$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || { echo "gpu_check: no CUDA GPU visible to torch" >&2; exit 1; }

echo "== GPU tests"
# one process: the GPU tests time copies against compute, which a second worker on the same GPU would skew
"$py" -m pytest -n 0 -m cuda -rs -q --junitxml "$out/tests.xml" tests 2>&1 | tee "$out/tests.txt"
status=${PIPESTATUS[0]}
passed=$("$py" -c "import sys, xml.etree.ElementTree as et
s = et.parse(sys.argv[1]).getroot().iter('testsuite').__next__().attrib
print(int(s['tests']) - int(s['failures']) - int(s['errors']) - int(s['skipped']))" "$out/tests.xml" 2>/dev/null || echo 0)
echo "gpu_check: $passed GPU tests passed"
[ "$passed" -gt 0 ] || { echo "gpu_check: no GPU test passed: nothing was checked" >&2; [ "$status" -ne 0 ] || status=1; }

backends=(torch)
"$py" -c "import tensorrt" 2>/dev/null && backends+=(tensorrt)
bench=("$py" -m rtstyle bench --width 32 --backends "${backends[@]}" --precisions fp16 bf16 fp32 --runs 20
       --warmup 5 --frames 240)
echo "== benchmark: ${bench[*]}"
"${bench[@]}" --json "$out/bench.json" 2>&1 | tee "$out/bench.txt"
echo "== benchmark, CUDA graphs"
"${bench[@]}" --precisions fp16 --cuda-graphs --json "$out/bench_graphs.json" 2>&1 | tee "$out/bench_graphs.txt"
echo "== encoder threads (CPU H.264)"
"$py" -m rtstyle bench --width 32 --backends torch --precisions fp16 --model-only --runs 3 \
  --encode-threads 1 2 4 8 16 --json "$out/encode.json" 2>&1 | tee "$out/encode.txt"
echo "gpu_check: results in $out (tests exit status $status)"
exit "$status"
