#include "kernels/op_bench.h"

#include <ATen/DeviceAccelerator.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>

#if defined(LATHE_TORCH_HAS_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define LATHE_BENCH_CUDA_STATS 1
#endif

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "kernels/allocation_probe.h"
#include "kernels/composite.h"
#include "kernels/dispatch.h"
#include "kernels/gated_activation.h"
#include "kernels/linear_cross_entropy.h"
#include "kernels/gated_down_lora.h"
#include "kernels/lora_linear.h"
#include "kernels/rms_norm.h"
#include "kernels/rotary.h"

namespace lathe::kernels {

namespace {

// The names the command line takes.
const char* dtype_name(at::ScalarType dtype) {
    switch (dtype) {
        case at::kFloat: return "float32";
        case at::kBFloat16: return "bfloat16";
        case at::kHalf: return "float16";
        default: return c10::toString(dtype);
    }
}

double now_ms() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Case {
    std::string op;
    std::vector<int64_t> shape;
    std::vector<at::Tensor> inputs;  // leaves; the first requires grad
    at::Tensor dy;
    std::function<at::Tensor(const std::vector<at::Tensor>&)> fused, composite;
};

// Bytes allocated on `device` now and the peak since the last reset: the CUDA caching allocator's own
// statistics, or an AllocationProbe on the CPU.
class MemoryMeter {
public:
    explicit MemoryMeter(c10::Device device) : device_(device) {
        if (!device.is_cuda()) probe_.emplace(device.type());
    }
    int64_t live() const {
#ifdef LATHE_BENCH_CUDA_STATS
        if (device_.is_cuda()) return cuda_allocated().first;
#endif
        return probe_->live_bytes();
    }
    int64_t peak() const {
#ifdef LATHE_BENCH_CUDA_STATS
        if (device_.is_cuda()) return cuda_allocated().second;
#endif
        return probe_->peak_bytes();
    }
    void reset_peak() {
#ifdef LATHE_BENCH_CUDA_STATS
        if (device_.is_cuda()) return c10::cuda::CUDACachingAllocator::resetPeakStats(index());
#endif
        probe_->reset_peak();
    }

private:
#ifdef LATHE_BENCH_CUDA_STATS
    int index() const { return device_.index() < 0 ? 0 : device_.index(); }
    // Bytes allocated now and at the peak.
    std::pair<int64_t, int64_t> cuda_allocated() const {
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index());
        const auto& bytes = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
        return {bytes.current, bytes.peak};
    }
#endif
    c10::Device device_;
    std::optional<AllocationProbe> probe_;
};

void measure(const Case& c, bool fused, const OpBenchOptions& cmd, std::ostream& out) {
    const c10::Device device = cmd.device;
    const auto& f = fused ? c.fused : c.composite;
    auto sync = [&] {
        if (device.is_cuda()) at::accelerator::synchronizeDevice(device.index() < 0 ? 0 : device.index());
    };
    auto step = [&](bool backward) {
        at::Tensor y = f(c.inputs);
        if (backward) y.backward(c.dy);
        for (const auto& leaf : c.inputs) {
            if (leaf.grad().defined()) leaf.mutable_grad() = at::Tensor();
        }
    };
    double forward_ms = 0, forward_backward_ms = 0;
    for (int64_t i = 0; i < cmd.warmup + cmd.iters; ++i) {
        sync();
        double t0 = now_ms();
        step(false);
        sync();
        double t1 = now_ms();
        step(true);
        sync();
        if (i >= cmd.warmup) {
            forward_ms += t1 - t0;
            forward_backward_ms += now_ms() - t1;
        }
    }
    MemoryMeter meter(device);
    const int64_t base = meter.live();
    meter.reset_peak();
    int64_t saved = 0;
    {
        at::Tensor y = f(c.inputs);
        sync();
        // Every output is new memory (rotary's is the projection stand-in it rotated in place).
        saved = meter.live() - base - static_cast<int64_t>(y.nbytes());
        y.backward(c.dy);
        sync();
    }
    const int64_t peak = meter.peak() - base;
    for (const auto& leaf : c.inputs) leaf.mutable_grad() = at::Tensor();
    nlohmann::json j = {{"op", c.op},
                        {"impl", fused ? "fused" : "composite"},
                        {"device", device.str()},
                        {"dtype", dtype_name(cmd.dtype)},
                        {"shape", c.shape},
                        {"cuda_kernels", device.is_cuda() && cuda_kernels_built()},
                        {"forward_ms", forward_ms / static_cast<double>(cmd.iters)},
                        {"forward_backward_ms", forward_backward_ms / static_cast<double>(cmd.iters)},
                        {"saved_bytes", saved},
                        {"peak_bytes", peak}};
    out << j.dump() << std::endl;
}

}  // namespace

void bench_fused_ops(const OpBenchOptions& cmd, std::ostream& out) {
    TORCH_CHECK(cmd.tokens >= 1 && cmd.hidden >= 1 && cmd.intermediate >= 1 && cmd.heads >= 1 && cmd.head_dim >= 2 && cmd.head_dim % 2 == 0,
                "bench kernels: --tokens, --hidden, --intermediate and --heads must be positive and --head-dim even");
    TORCH_CHECK(cmd.vocab >= 1 && cmd.loss_chunk >= 1 && cmd.lora_rank >= 1, "bench kernels: --vocab, --loss-chunk and --lora-rank must be positive");
    TORCH_CHECK(cmd.iters >= 1 && cmd.warmup >= 0, "bench kernels: --iters must be at least 1 and --warmup not negative");
    const c10::Device device = cmd.device;
    const at::ScalarType dtype = cmd.dtype;
    const auto opts = at::TensorOptions().device(device).dtype(dtype);
    const int64_t T = cmd.tokens, D = cmd.hidden, I = cmd.intermediate, H = cmd.heads, HD = cmd.head_dim;

    std::vector<Case> cases;
    for (bool plus_one : {false, true}) {
        cases.push_back({plus_one ? "rms_norm_plus_one" : "rms_norm", {T, D},
                         {at::randn({T, D}, opts).requires_grad_(), at::randn({D}, opts) * 0.1 + (plus_one ? 0.0 : 1.0)},
                         at::randn({T, D}, opts),
                         [=](const std::vector<at::Tensor>& in) { return fused_rms_norm(in[0], in[1], 1e-6, plus_one); },
                         [=](const std::vector<at::Tensor>& in) { return composite::rms_norm(in[0], in[1], 1e-6, plus_one); }});
    }
    for (auto act : {GateActivation::Silu, GateActivation::GeluTanh}) {
        cases.push_back({act == GateActivation::Silu ? "swiglu" : "geglu_tanh", {T, I},
                         {at::randn({T, I}, opts).requires_grad_(), at::randn({T, I}, opts).requires_grad_()},
                         at::randn({T, I}, opts),
                         [=](const std::vector<at::Tensor>& in) { return fused_gated_activation(act, in[0], in[1]); },
                         [=](const std::vector<at::Tensor>& in) { return composite::gated_activation(act, in[0], in[1]); }});
    }
    {
        // q as the attention block makes it: a [1, H, T, HD] view of a [1, T, H * HD] projection. Both
        // implementations start from `* 1` (the projection's stand-in: the fused op rotates in place and
        // so needs a non-leaf), included in the times.
        at::Tensor freqs = at::rand({1, T, HD / 2}, opts.dtype(at::kFloat)) * 100;
        at::Tensor emb = at::cat({freqs, freqs}, -1);
        at::Tensor cos = emb.cos().to(dtype), sin = emb.sin().to(dtype);
        auto heads = [=](const at::Tensor& x) { return (x * 1).view({1, T, H, HD}).transpose(1, 2); };
        cases.push_back({"rotary", {1, H, T, HD},
                         {at::randn({1, T, H * HD}, opts).requires_grad_(), cos, sin},
                         at::randn({1, H, T, HD}, opts),
                         [=](const std::vector<at::Tensor>& in) { return fused_apply_rotary_(heads(in[0]), in[1], in[2]); },
                         [=](const std::vector<at::Tensor>& in) { return composite::apply_rotary(heads(in[0]), in[1], in[2]); }});
    }
    {
        // The output layer and loss of a LoRA step: hidden trains, the lm_head is frozen; one target in
        // ten is -100 (prompt tokens). The composite makes every row's logits (at::cross_entropy_loss).
        // The fused op runs as training runs it, forming the gradients in its forward (backward follows
        // at once), so its forward time includes them and what it keeps is grad_hidden.
        const int64_t V = cmd.vocab;
        at::Tensor targets = at::randint(V, {T}, opts.dtype(at::kLong));
        targets.masked_fill_(at::randint(10, {T}, opts.dtype(at::kLong)) == 0, -100);
        LinearCrossEntropyOptions loss;
        loss.divisor = static_cast<double>(T);
        loss.chunk_rows = cmd.loss_chunk;
        loss.gradients_in_forward = true;
        cases.push_back({"linear_cross_entropy", {T, D, V},
                         {at::randn({T, D}, opts).requires_grad_(), at::randn({V, D}, opts) * 0.02, targets},
                         at::ones({}, opts.dtype(at::kFloat)),
                         [=](const std::vector<at::Tensor>& in) { return fused_linear_cross_entropy(in[0], in[1], {}, in[2], loss); },
                         [=](const std::vector<at::Tensor>& in) { return composite::linear_cross_entropy(in[0], in[1], {}, in[2], loss); }});
    }
    {
        // A LoRA q_proj: frozen [D, D] base, A [r, D] and B [D, r] trained, dropout 0.05 (drawn by each).
        const int64_t r = cmd.lora_rank;
        cases.push_back({"lora_linear", {T, D, r},
                         {at::randn({T, D}, opts).requires_grad_(), (at::randn({r, D}, opts) * 0.02).requires_grad_(),
                          (at::randn({D, r}, opts) * 0.02).requires_grad_(), at::randn({D, D}, opts) * 0.02},
                         at::randn({T, D}, opts),
                         [=](const std::vector<at::Tensor>& in) { return fused_lora_linear(at::linear(in[0], in[3]), in[0], in[1], in[2], 2.0, 0.05); },
                         [=](const std::vector<at::Tensor>& in) {
                             return composite::lora_linear(at::linear(in[0], in[3]), in[0], in[1], in[2], 2.0, 0.05);
                         }});
    }
    {
        // A LoRA down_proj on a SwiGLU: gate and up [T, I] trained inputs, frozen [D, I] base, dropout 0.05.
        const int64_t r = cmd.lora_rank;
        cases.push_back({"gated_down_lora", {T, I, D, r},
                         {at::randn({T, I}, opts).requires_grad_(), at::randn({T, I}, opts).requires_grad_(),
                          (at::randn({r, I}, opts) * 0.02).requires_grad_(), (at::randn({D, r}, opts) * 0.02).requires_grad_(),
                          at::randn({D, I}, opts) * 0.02},
                         at::randn({T, D}, opts),
                         [=](const std::vector<at::Tensor>& in) {
                             return fused_gated_down_lora(GateActivation::Silu, in[0], in[1], in[4], in[2], in[3], 2.0, 0.05);
                         },
                         [=](const std::vector<at::Tensor>& in) {
                             return composite::gated_down_lora(GateActivation::Silu, in[0], in[1], in[4], in[2], in[3], 2.0, 0.05);
                         }});
    }
    for (const auto& c : cases) {
        measure(c, false, cmd, out);
        measure(c, true, cmd, out);
    }
}

}  // namespace lathe::kernels
