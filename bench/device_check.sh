#!/usr/bin/env bash
# The GPU check, one command for one run of at most 9 minutes on a bare GPU machine (an H200: python3
# with torch + CUDA, transformers, peft; no network, no Lathe build dependencies):
#   1. the CUDA tests (fixture models on the GPU; `lathe train` on CUDA: step losses against transformers'
#      reference, bfloat16, packed batches, kill -9 + resume, the out-of-memory path) and, where built,
#      the kernel tests;
#   2. `lathe bench kernels --device cuda`, where the build has it;
#   3. bench/train_compare.py, Lathe against transformers + PEFT in the same run: Qwen2.5-0.5B 8 x 2048
#      with and without gradient checkpointing, masks none and packed; Llama-3.1-8B 4 x 2048 with
#      checkpointing.
# Every figure and log goes to $OUT (the device tool brings it back); a summary table is printed last.
#
# It builds `lathe` and the CUDA tests against this machine's own LibTorch from .device/sysroot, the
# Debian packages of the other build dependencies unpacked (bench/device_sysroot.sh, run beforehand where
# Debian's packages can be fetched), about 4 minutes on 16 cores; or it runs binaries carried prebuilt in
# .device/bin for exactly this torch version (bench/prepare_device.sh).
#
# usage (device tool): run(command="bash bench/device_check.sh", carry=[".device"], timeout_s=590)
# env: OUT (default ./device-out), LATHE_CHECK_BUDGET_S (default 500: later stages are skipped, not
#      started, when the budget is spent), LATHE_CHECK_SKIP_BENCH=1 to run the tests only, LATHE_CHECK_GDB=1 for cuda-gdb on a crash,
#      LATHE_CHECK_REHEARSAL=1 to rehearse on a machine without a GPU (CPU, tiny shape, same steps; the
#      CUDA tests skip), LATHE_DEVICE_DIR (default .device) for the binaries, LATHE_CHECK_CASES="1 5" to run some of the comparisons only (numbered as
#      listed below), PYTHON (default python3: needs torch, transformers and peft).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${OUT:-$root/device-out}"
mkdir -p "$out"
dev="${LATHE_DEVICE_DIR:-$root/.device}"  # another folder for a rehearsal with this machine's own build
budget="${LATHE_CHECK_BUDGET_S:-520}"
start=$SECONDS
log() { echo "[device_check +$((SECONDS - start))s] $*" | tee -a "$out/check.log"; }
left() { echo $((budget - (SECONDS - start))); }

python="${PYTHON:-python3}"
torch_info="$($python -c 'import os, torch; print(torch.__version__, os.path.dirname(torch.__file__))')" || {
  log "FAIL: python3 has no torch"; exit 1; }
read -r torch_version torch_dir <<<"$torch_info"
# The binaries: built here from the carried sysroot (bench/device_sysroot.sh, then bench/device_build.sh
# on this machine's 16 cores), or carried prebuilt for exactly this torch (bench/prepare_device.sh).
if [ "$(cat "$dev/BUILT_FOR" 2>/dev/null)" != "$torch_version" ] && [ -d "$dev/sysroot" ]; then
  log "building lathe against torch $torch_version (bench/device_build.sh)"
  bash bench/device_build.sh 2>&1 | tail -40 | tee -a "$out/check.log"
  cp build-device.log build-device.configure.log "$out/" 2>/dev/null
  log "build finished"
fi
if [ ! -x "$dev/bin/lathe" ]; then
  log "FAIL: $dev/bin/lathe missing: carry .device with a sysroot (bench/device_sysroot.sh) or prebuilt binaries (bench/prepare_device.sh)"
  exit 1
fi
built_for="$(cat "$dev/BUILT_FOR")"
if [ "$built_for" != "$torch_version" ]; then
  log "FAIL: .device was built for torch $built_for, this machine has $torch_version: bash bench/prepare_device.sh ${torch_version%%+*}"
  exit 1
fi
export LD_LIBRARY_PATH="$dev/lib:$torch_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LATHE_CLI="$dev/bin/lathe"
export LATHE_FIXTURES="$root/tests/fixtures"  # the repository's, wherever it landed on this machine
export PYTHONUNBUFFERED=1
log "torch $torch_version at $torch_dir; lathe from commit $(tr '\n' ' ' <"$dev/COMMIT")"
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_mode,clocks.sm,temperature.gpu --format=csv >"$out/nvidia-smi.csv" 2>&1
cat "$out/nvidia-smi.csv" | tee -a "$out/check.log"
"$dev/bin/lathe" --version 2>&1 | tee -a "$out/check.log"
ls -la "$dev/bin" >>"$out/check.log"
"$dev/bin/lathe" train --help >/dev/null 2>>"$out/check.log" || log "FAIL: $dev/bin/lathe does not run"

status=0
# 1. Tests. gtest's XML has every case's result and time.
# lathe_tests: only its GPU cases; the AdamW one compares with torch.optim's numbers made here.
refs="$root/device-refs"
mkdir -p "$refs"
$python tests/interop/make_optimizer_references.py "$refs/optimizer" >"$out/optimizer_refs.log" 2>&1 || log "optimizer references failed"
export LATHE_INTEROP_REFS="$refs"
declare -A filters=([lathe_tests]='*AttentionPathsCuda*:*OnAGpu*' [lathe_cuda_tests]='*' [lathe_kernel_tests]='*')
for t in lathe_cuda_tests lathe_kernel_tests lathe_tests; do
  [ -x "$dev/bin/$t" ] || continue
  log "tests: $t (${filters[$t]})"
  timeout 240 stdbuf -oL -eL "$dev/bin/$t" --gtest_filter="${filters[$t]}" --gtest_output="xml:$out/$t.xml" >"$out/$t.log" 2>&1
  rc=$?
  grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|tests ran' "$out/$t.log" | tail -20 | tee -a "$out/check.log"
  [ $rc -eq 0 ] || { status=1; log "FAIL: $t exited $rc (log: $t.log)"; }
  # A crash prints its own backtrace (core/util/crash_report.h); LATHE_CHECK_GDB=1 adds cuda-gdb's, which
  # also sees device frames but reruns the binary (minutes).
  grep -A30 "crashed:" "$out/$t.log" | head -40 | tee -a "$out/check.log"
  crashed_test="$(sed -n 's/^\*\*\* while: \([^ ]*\)$/\1/p' "$out/$t.log" | head -1)"
  if [ $rc -ge 128 ] && [ -n "$crashed_test" ] && [ -z "${rerun:-}" ]; then  # the first crash, once: alone, fork + exec, gdb
    rerun=1
    log "rerun of $crashed_test alone, then with LATHE_TEST_SPAWN=fork"
    timeout 90 "$dev/bin/$t" --gtest_filter="$crashed_test" >"$out/$t.alone.log" 2>&1; log "alone: exit $?"
    LATHE_TEST_SPAWN=fork timeout 90 "$dev/bin/$t" --gtest_filter="$crashed_test" >"$out/$t.fork.log" 2>&1; log "fork + exec: exit $?"
    tail -5 "$out/$t.fork.log" | tee -a "$out/check.log"
    debugger="$(command -v gdb || command -v cuda-gdb)"
    if [ -n "$debugger" ]; then
      log "$debugger on $crashed_test: $t.gdb"
      timeout 150 "$debugger" -batch -ex run -ex bt -ex "info registers rip rsp" -ex "x/6gx \$sp" -ex "info threads" \
        --args "$dev/bin/$t" --gtest_filter="$crashed_test" >"$out/$t.gdb" 2>&1
      grep -A30 "received signal" "$out/$t.gdb" | head -45 | tee -a "$out/check.log"
    fi
  fi
  if [ $rc -ge 128 ] && [ "${LATHE_CHECK_GDB:-0}" = 1 ] && [ -z "${traced:-}" ] && command -v cuda-gdb >/dev/null; then
    traced=1  # (cuda-gdb debugs host code too; once, to keep the budget for the rest)
    log "backtrace of $t's crash: $t.backtrace"
    timeout 180 cuda-gdb -batch -ex run -ex bt -ex "info threads" --args "$dev/bin/$t" --gtest_filter="${filters[$t]}" \
      >"$out/$t.backtrace" 2>&1
    grep -A25 "received signal" "$out/$t.backtrace" | head -40 | tee -a "$out/check.log"
  fi
done

device=cuda kernel_sizes=""
[ "${LATHE_CHECK_REHEARSAL:-0}" = 1 ] && device=cpu kernel_sizes="--tokens 256 --iters 2 --warmup 1"
# 2. Kernel benchmark, where this build has one.
if "$dev/bin/lathe" bench --help 2>&1 | grep -q "^ *kernels"; then
  for dtype in bfloat16 float32; do
    log "bench kernels ($dtype)"
    timeout 90 "$dev/bin/lathe" bench kernels --device $device --dtype $dtype $kernel_sizes >>"$out/bench_kernels.jsonl" 2>>"$out/bench_kernels.err" || {
      status=1; log "FAIL: lathe bench kernels --dtype $dtype (see bench_kernels.err)"; }
  done
fi

# 3. Lathe against transformers + PEFT. The build folder layout train_compare.py expects.
if [ "${LATHE_CHECK_SKIP_BENCH:-0}" != 1 ]; then
  mkdir -p "$dev/build/app"
  ln -sf "$dev/bin/lathe" "$dev/build/app/lathe"
  compare() {  # SHAPE MB SEQ [flags...]; skipped when less than 60 s of the budget is left
    if [ "$(left)" -lt 60 ]; then log "SKIPPED (budget): train_compare $*"; return; fi
    local args=("$@")
    [ "$device" = cpu ] && args=(tiny 2 128 "${@:4}")
    log "train_compare ${args[*]} --device $device"
    timeout "$(left)" $python bench/train_compare.py "$dev/build" "${args[@]}" --device "$device" --steps 6 --warmup 2 \
      --json-out "$out/train_compare.jsonl" 2>>"$out/train_compare.err" | tee -a "$out/check.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; log "FAIL: train_compare $* (see train_compare.err)"; }
  }
  cases=(
    "qwen2.5-0.5b 8 2048 --mask none"
    "qwen2.5-0.5b 8 2048 --mask packed"
    "llama-3.1-8b 4 2048 --mask none --gradient-checkpointing"
    "qwen2.5-0.5b 8 2048 --mask none --gradient-checkpointing"
    "qwen2.5-0.5b 8 2048 --mask packed --gradient-checkpointing"
  )
  for i in "${!cases[@]}"; do  # LATHE_CHECK_CASES="1 5" runs the first and the fifth only
    [ -z "${LATHE_CHECK_CASES:-}" ] || [[ " $LATHE_CHECK_CASES " == *" $((i + 1)) "* ]] || continue
    read -r -a case_args <<<"${cases[$i]}"
    compare "${case_args[@]}"
  done
fi

# Summary: one line per case, Lathe beside HF + PEFT.
$python - "$out/train_compare.jsonl" <<'EOF' | tee "$out/summary.txt"
import json, sys, os
path = sys.argv[1]
rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
cases = {}
for r in rows:
    key = (r["shape"], r["micro_batch"], r["seq"], r["mask"], r["gradient_checkpointing"])
    cases.setdefault(key, {})[r["library"]] = r
print(f"{'case':44} {'HF tok/s':>10} {'HF GiB':>7} {'Lathe tok/s':>11} {'Lathe GiB':>9} {'speed':>6} {'memory':>6}")
for (shape, mb, seq, mask, ckpt), libs in cases.items():
    h, l = libs.get("hf+peft", {}), libs.get("lathe", {})
    name = f"{shape} {mb}x{seq} {mask}{' ckpt' if ckpt else ''}"
    def fig(r, k, f):
        return f.format(r[k]) if k in r else "FAIL"
    speed = f"{l['tokens_per_s'] / h['tokens_per_s']:.2f}x" if "tokens_per_s" in h and "tokens_per_s" in l else "-"
    mem = f"{l['peak_gib'] / h['peak_gib']:.2f}x" if "peak_gib" in h and "peak_gib" in l else "-"
    print(f"{name:44} {fig(h, 'tokens_per_s', '{:10,.0f}')} {fig(h, 'peak_gib', '{:7.2f}')} "
          f"{fig(l, 'tokens_per_s', '{:11,.0f}')} {fig(l, 'peak_gib', '{:9.2f}')} {speed:>6} {mem:>6}")
EOF
log "done in $((SECONDS - start)) s, status $status"
# The device tool brings back 8 files at most: the figures and the log as they are, the rest in one archive.
keep=(check.log summary.txt train_compare.jsonl bench_kernels.jsonl details.tar.gz)
(cd "$out" && tar czf details.tar.gz --exclude=details.tar.gz -- * 2>/dev/null)
for f in "$out"/*; do
  [[ " ${keep[*]} " == *" $(basename "$f") "* ]] || rm -rf "$f"
done
exit $status
