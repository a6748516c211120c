// The benchmark of every fused op against its LibTorch composite, behind `lathe bench kernels`:
// shapes of a real model (defaults: Llama-3.2-1B at 4,096 tokens, its 128,256-token vocabulary).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <ostream>

namespace lathe::kernels {

struct OpBenchOptions {
    int64_t tokens = 4096;        // rows of every op (batch x sequence)
    int64_t hidden = 2048;        // RMSNorm width
    int64_t intermediate = 8192;  // SwiGLU / GeGLU width
    int64_t heads = 32;           // rotary: q heads
    int64_t head_dim = 64;
    int64_t vocab = 128256;       // linear + cross-entropy: output layer rows (hidden is its width)
    int64_t loss_chunk = 1024;    // linear + cross-entropy: rows of logits at a time (the training default)
    int64_t lora_rank = 16;       // LoRA linear on a [hidden, hidden] layer (q_proj), dropout 0.05
    int64_t iters = 20;
    int64_t warmup = 3;
    c10::Device device = c10::Device(c10::DeviceType::CPU);
    at::ScalarType dtype = at::kBFloat16;
};

// One JSON line per op and implementation (fused, composite): mean forward and forward+backward
// milliseconds; saved_bytes, what autograd keeps after the forward beyond the inputs and the output;
// peak_bytes, the peak of one forward+backward above what the inputs hold. Memory from the CUDA caching
// allocator's statistics on a GPU, from an AllocationProbe on the CPU.
void bench_fused_ops(const OpBenchOptions& options, std::ostream& out);

}  // namespace lathe::kernels
