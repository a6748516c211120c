// Fused training ops (kernels/) against the LibTorch composites they replace (kernels/composite.h):
// forward and gradients over a grid of shapes, dtypes and odd sizes, on the CPU and, when a GPU exists,
// on CUDA (where the CUDA kernels run when they were built); and the bytes autograd keeps for backward,
// counted by kernels/allocation_probe.h.
#include <ATen/TensorOperators.h>
#include <ATen/Context.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/randn_like.h>
#include <ATen/ops/rand.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/allocation_probe.h"
#include "kernels/composite.h"
#include "kernels/dispatch.h"
#include "kernels/gated_activation.h"
#include "kernels/rms_norm.h"
#include "kernels/rotary.h"
#include "tests/kernel_test_util.h"

namespace lathe::kernels {
namespace {

using test::relative_error;
using test::rounded;
using test::run;

// How far the fused op may stray from the composite. float32: both compute in float32, the backward
// formulas differ only in rounding order. bfloat16/float16: the fused backward keeps float32 where the
// composite rounds each step, so the tests also check the fused op is no less accurate than the
// composite against a float64 run of the composite.
double tolerance(at::ScalarType dtype) {
    switch (dtype) {
        case at::kFloat: return 2e-5;
        case at::kBFloat16: return 3e-2;
        case at::kHalf: return 4e-3;
        default: return 1e-12;
    }
}

class KernelsTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "cuda" && !at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
        device_ = c10::Device(GetParam() == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU);
        if (GetParam() == "cuda" && !cuda_kernels_built()) {
            std::cerr << "note: the CUDA kernels were not built; the CUDA tests run the ATen paths\n";
        }
    }
    at::TensorOptions options(at::ScalarType dtype) const { return at::TensorOptions().dtype(dtype).device(device_); }
    std::vector<at::ScalarType> dtypes() const { return {at::kFloat, at::kBFloat16, at::kHalf}; }

    c10::Device device_{c10::DeviceType::CPU};
};

// Compares the fused results with the composite's in `dtype`; for reduced precision, also checks that
// the fused op is within twice the composite's own error against a float64 composite run.
void expect_matches(const std::vector<at::Tensor>& fused, const std::vector<at::Tensor>& composite, const std::vector<at::Tensor>& exact,
                    at::ScalarType dtype, const std::string& what, const std::vector<double>& scale_floors = {}) {
    ASSERT_EQ(fused.size(), composite.size());
    const char* names[] = {"output", "grad 0", "grad 1", "grad 2"};
    for (size_t i = 0; i < fused.size(); ++i) {
        SCOPED_TRACE(what + " " + names[std::min<size_t>(i, 3)]);
        ASSERT_EQ(fused[i].defined(), composite[i].defined());
        if (!fused[i].defined()) continue;
        EXPECT_EQ(fused[i].scalar_type(), composite[i].scalar_type());
        EXPECT_EQ(fused[i].sizes(), composite[i].sizes());
        const double floor = i < scale_floors.size() ? scale_floors[i] : 0;
        const double err = relative_error(fused[i], composite[i], floor);
        EXPECT_LE(err, tolerance(dtype));
        if (dtype != at::kFloat && !exact.empty()) {
            const double fused_err = relative_error(fused[i], exact[i], floor), composite_err = relative_error(composite[i], exact[i], floor);
            EXPECT_LE(fused_err, 2 * composite_err + 1e-3) << "fused " << fused_err << " vs composite " << composite_err;
        }
    }
}

// Bytes the graph of f keeps alive after the forward pass: everything allocated during it and not freed,
// less the output.
int64_t saved_bytes(c10::Device device, const std::function<at::Tensor()>& f) {
    AllocationProbe probe(device.type());
    at::Tensor y = f();
    return probe.live_bytes() - static_cast<int64_t>(y.nbytes());
}

// ---------------------------------------------------------------------------------------------- RMSNorm

TEST_P(KernelsTest, RmsNormMatchesComposite) {
    const std::vector<std::vector<int64_t>> shapes = {{1}, {17}, {1, 1}, {3, 7}, {2, 5, 33}, {4, 1031}, {2, 3, 4, 64}, {6, 2048}};
    for (at::ScalarType dtype : dtypes()) {
        for (const auto& shape : shapes) {
            for (bool plus_one : {false, true}) {
                for (bool weight_grad : {false, true}) {
                    const std::string what = std::string(c10::toString(dtype)) + " " + c10::str(at::IntArrayRef(shape)) +
                                             (plus_one ? " gemma" : " llama") + (weight_grad ? " dw" : "");
                    at::Tensor x = rounded(at::randn(shape, options(at::kFloat)) * 2 + 0.5, dtype);
                    at::Tensor w = rounded(at::randn({shape.back()}, options(at::kFloat)) * 0.2 + (plus_one ? 0.0 : 1.0), dtype);
                    at::Tensor dy = rounded(at::randn(shape, options(at::kFloat)), dtype);
                    auto fused = [&](const std::vector<at::Tensor>& in) { return fused_rms_norm(in[0], in[1], 1e-6, plus_one); };
                    auto comp = [&](const std::vector<at::Tensor>& in) { return composite::rms_norm(in[0], in[1], 1e-6, plus_one); };
                    auto cast = [&](at::ScalarType t) { return std::vector<at::Tensor>{x.to(t), w.to(t)}; };
                    const std::vector<bool> grad{true, weight_grad};
                    std::vector<at::Tensor> exact;
                    if (dtype != at::kFloat) exact = run(comp, cast(at::kDouble), grad, dy.to(at::kDouble));
                    // dx = rstd * dn - x * rstd^3 * mean(dn * x): at D = 1 the two terms cancel to ~eps / x^2 of
                    // either, so dx is judged against the first term's size, rstd * |dn|.
                    at::Tensor x64 = x.to(at::kDouble), dn = dy.to(at::kDouble) * (w.to(at::kDouble) + (plus_one ? 1.0 : 0.0));
                    at::Tensor rstd = (x64 * x64).mean(-1, true).add(1e-6).rsqrt();
                    const double dx_terms = (dn * rstd).abs().max().item<double>();
                    expect_matches(run(fused, cast(dtype), grad, dy.to(dtype)), run(comp, cast(dtype), grad, dy.to(dtype)), exact, dtype, what,
                                   {0, dx_terms});
                }
            }
        }
    }
}

TEST_P(KernelsTest, RmsNormForwardIsTheCompositeOnTheCpu) {
    if (device_.is_cuda()) GTEST_SKIP() << "the CUDA kernel rounds in its own order";
    for (at::ScalarType dtype : dtypes()) {
        at::Tensor x = at::randn({5, 3, 96}, options(dtype)), w = at::randn({96}, options(dtype));
        for (bool plus_one : {false, true}) {
            EXPECT_TRUE(fused_rms_norm(x, w, 1e-5, plus_one).equal(composite::rms_norm(x, w, 1e-5, plus_one))) << dtype;
        }
    }
}

TEST_P(KernelsTest, RmsNormWithMixedDtypes) {
    // A float32 weight on bfloat16 rows (the composite promotes Llama's product to float32).
    at::Tensor x = at::randn({4, 40}, options(at::kBFloat16)), w = at::randn({40}, options(at::kFloat)), dy = at::randn({4, 40}, options(at::kFloat));
    for (bool plus_one : {false, true}) {
        auto fused = [&](const std::vector<at::Tensor>& in) { return fused_rms_norm(in[0], in[1], 1e-6, plus_one); };
        auto comp = [&](const std::vector<at::Tensor>& in) { return composite::rms_norm(in[0], in[1], 1e-6, plus_one); };
        at::Tensor dy_t = plus_one ? dy.to(at::kBFloat16) : dy;
        expect_matches(run(fused, {x, w}, {true, true}, dy_t), run(comp, {x, w}, {true, true}, dy_t), {}, at::kBFloat16, "mixed");
    }
}

TEST_P(KernelsTest, RmsNormSavesOnlyTheInverseRms) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        for (bool weight_grad : {false, true}) {
            at::Tensor x = at::randn({64, 512}, options(dtype)).requires_grad_(), w = at::randn({512}, options(dtype)).requires_grad_(weight_grad);
            const int64_t fused = saved_bytes(device_, [&] { return fused_rms_norm(x, w, 1e-6, false); });
            const int64_t composite = saved_bytes(device_, [&] { return composite::rms_norm(x, w, 1e-6, false); });
            std::cout << "rms_norm " << dtype << (weight_grad ? " trained weight" : " frozen weight") << " [64, 512]: saves " << fused
                      << " bytes, composite " << composite << "\n";
            // The CPU allocator reports exact sizes (rstd: 4 bytes a row); the CUDA caching allocator whole blocks.
            if (device_.is_cpu()) {
            EXPECT_EQ(fused, 64 * 4);
        }
            // The composite keeps x in float32 when x is not, and the normalised rows when the weight trains;
            // for float32 x and a frozen weight it keeps rstd only, as the fused op does.
            if (dtype != at::kFloat || weight_grad) {
                EXPECT_LT(fused, composite / 10);
            } else {
                EXPECT_LE(fused, composite);
            }
        }
    }
}

// ------------------------------------------------------------------------------------- SwiGLU / GeGLU

TEST_P(KernelsTest, GatedActivationMatchesComposite) {
    // {70001, 2}: more rows than a CUDA grid has in y (65,535), which the kernels then stride over.
    const std::vector<std::vector<int64_t>> shapes = {{1}, {3, 7}, {2, 5, 33}, {4, 1031}, {2, 3, 256}, {70001, 2}};
    for (at::ScalarType dtype : dtypes()) {
        for (GateActivation act : {GateActivation::Silu, GateActivation::Gelu, GateActivation::GeluTanh}) {
            for (const auto& shape : shapes) {
                for (bool strided : {false, true}) {
                    const std::string what = std::string(c10::toString(dtype)) + " act " + std::to_string(static_cast<int>(act)) + " " +
                                             c10::str(at::IntArrayRef(shape)) + (strided ? " halves of gate_up" : "");
                    // strided: gate and up are the two halves of one [..., 2I] projection, as in Phi-3's gate_up.
                    std::vector<int64_t> wide = shape;
                    wide.back() *= 2;
                    at::Tensor gate_up = rounded(at::randn(wide, options(at::kFloat)) * 3, dtype);
                    at::Tensor dy = rounded(at::randn(shape, options(at::kFloat)), dtype);
                    const int64_t I = shape.back();
                    auto split = [&](const std::vector<at::Tensor>& in) -> std::pair<at::Tensor, at::Tensor> {
                        if (strided) return {in[0].narrow(-1, 0, I), in[0].narrow(-1, I, I)};
                        return {in[0], in[1]};
                    };
                    auto fused = [&](const std::vector<at::Tensor>& in) {
                        auto [g, u] = split(in);
                        return fused_gated_activation(act, g, u);
                    };
                    auto comp = [&](const std::vector<at::Tensor>& in) {
                        auto [g, u] = split(in);
                        return composite::gated_activation(act, g, u);
                    };
                    auto cast = [&](at::ScalarType t) {
                        if (strided) return std::vector<at::Tensor>{gate_up.to(t)};
                        return std::vector<at::Tensor>{gate_up.narrow(-1, 0, I).to(t), gate_up.narrow(-1, I, I).to(t)};
                    };
                    const std::vector<bool> grad(strided ? 1 : 2, true);
                    std::vector<at::Tensor> exact;
                    if (dtype != at::kFloat) exact = run(comp, cast(at::kDouble), grad, dy.to(at::kDouble));
                    auto f = run(fused, cast(dtype), grad, dy.to(dtype)), c = run(comp, cast(dtype), grad, dy.to(dtype));
                    expect_matches(f, c, exact, dtype, what);
                    if (device_.is_cpu()) {
                        // The CPU path runs the composite's own ops and ATen's activation backward.
                        for (size_t i = 0; i < f.size(); ++i) EXPECT_TRUE(f[i].equal(c[i])) << what << " tensor " << i;
                    }
                }
            }
        }
    }
}

TEST_P(KernelsTest, GatedActivationOnlyUpNeedsGrad) {
    at::Tensor gate = at::randn({3, 50}, options(at::kFloat)), up = at::randn({3, 50}, options(at::kFloat)), dy = at::randn({3, 50}, options(at::kFloat));
    auto fused = [&](const std::vector<at::Tensor>& in) { return fused_gated_activation(GateActivation::Silu, in[0], in[1]); };
    auto comp = [&](const std::vector<at::Tensor>& in) { return composite::gated_activation(GateActivation::Silu, in[0], in[1]); };
    expect_matches(run(fused, {gate, up}, {false, true}, dy), run(comp, {gate, up}, {false, true}, dy), {}, at::kFloat, "up only");
}

TEST_P(KernelsTest, GatedActivationDoesNotSaveTheActivation) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        at::Tensor gate = at::randn({64, 1024}, options(dtype)).requires_grad_(), up = at::randn({64, 1024}, options(dtype)).requires_grad_();
        const int64_t fused = saved_bytes(device_, [&] { return fused_gated_activation(GateActivation::Silu, gate, up); });
        const int64_t composite = saved_bytes(device_, [&] { return composite::gated_activation(GateActivation::Silu, gate, up); });
        std::cout << "swiglu " << dtype << " [64, 1024]: saves " << fused << " bytes, composite " << composite << "\n";
        EXPECT_EQ(fused, 0);
        EXPECT_GE(composite, static_cast<int64_t>(gate.nbytes()));  // act(gate)
    }
}

TEST(KernelsGateActivation, NamesAsCoreMapsThem) {
    EXPECT_EQ(gate_activation_named("silu"), GateActivation::Silu);
    EXPECT_EQ(gate_activation_named("gelu"), GateActivation::Gelu);
    EXPECT_EQ(gate_activation_named("gelu_pytorch_tanh"), GateActivation::GeluTanh);
    EXPECT_EQ(gate_activation_named("gelu_new"), GateActivation::GeluTanh);
    EXPECT_FALSE(gate_activation_named("relu").has_value());
}

// ------------------------------------------------------------------------------------------------ RoPE

// cos/sin [B, T, R] as RotaryEmbedding::cos_sin makes them: cat(freqs, freqs), so both halves equal.
std::pair<at::Tensor, at::Tensor> cos_sin(int64_t B, int64_t T, int64_t R, at::TensorOptions opts) {
    at::Tensor freqs = at::rand({B, T, R / 2}, opts.dtype(at::kFloat)) * 50;
    at::Tensor emb = at::cat({freqs, freqs}, -1);
    return {emb.cos().to(opts.dtype()), emb.sin().to(opts.dtype())};
}

TEST_P(KernelsTest, RotaryMatchesComposite) {
    struct Case {
        int64_t B, H, T, D, R;
    };
    const std::vector<Case> cases = {{1, 1, 1, 2, 2}, {2, 3, 5, 8, 8}, {1, 4, 7, 64, 64}, {2, 2, 9, 96, 32}, {3, 5, 11, 130, 130}, {1, 14, 33, 64, 64}};
    for (at::ScalarType dtype : dtypes()) {
        for (const auto& k : cases) {
            for (bool transposed : {false, true}) {
                const std::string what = std::string(c10::toString(dtype)) + " B" + std::to_string(k.B) + " H" + std::to_string(k.H) + " T" +
                                         std::to_string(k.T) + " D" + std::to_string(k.D) + " R" + std::to_string(k.R) +
                                         (transposed ? " view of [B, T, H * D]" : "");
                // transposed: q as the attention block makes it, a [B, H, T, D] view of a [B, T, H * D] projection.
                at::Tensor x = rounded(transposed ? at::randn({k.B, k.T, k.H * k.D}, options(at::kFloat)) : at::randn({k.B, k.H, k.T, k.D}, options(at::kFloat)), dtype);
                at::Tensor dy = rounded(at::randn({k.B, k.H, k.T, k.D}, options(at::kFloat)), dtype);
                auto [cos_f, sin_f] = cos_sin(k.B, k.T, k.R, options(at::kFloat));
                at::Tensor cos = rounded(cos_f, dtype), sin = rounded(sin_f, dtype);
                auto as_heads = [&](const at::Tensor& t) {
                    // * 1: a non-leaf, as a projection's output is (the fused op rotates it in place).
                    at::Tensor h = t * 1;
                    return transposed ? h.view({k.B, k.T, k.H, k.D}).transpose(1, 2) : h;
                };
                auto fused = [&](const std::vector<at::Tensor>& in) { return fused_apply_rotary_(as_heads(in[0]), in[1], in[2]); };
                auto comp = [&](const std::vector<at::Tensor>& in) { return composite::apply_rotary(as_heads(in[0]), in[1], in[2]); };
                auto cast = [&](at::ScalarType t) { return std::vector<at::Tensor>{x.to(t), cos.to(t), sin.to(t)}; };
                const std::vector<bool> grad{true, false, false};
                std::vector<at::Tensor> exact;
                if (dtype != at::kFloat) exact = run(comp, cast(at::kDouble), grad, dy.to(at::kDouble));
                auto f = run(fused, cast(dtype), grad, dy.to(dtype)), c = run(comp, cast(dtype), grad, dy.to(dtype));
                expect_matches(f, c, exact, dtype, what);
                // The forward rounds each product as the composite does.
                if (device_.is_cpu() || dtype == at::kFloat) {
                    EXPECT_LE(relative_error(f[0], c[0]), dtype == at::kFloat ? 1e-6 : 0.0) << what;
                }
            }
        }
    }
}

// Phi-3 and GPT-NeoX style: q, k and v are views of one fused projection; q and k are rotated in place
// one after the other (autograd rebases the shared base twice) while v is read afterwards.
TEST_P(KernelsTest, RotaryOnViewsOfOneQkvProjection) {
    const int64_t B = 2, T = 5, H = 4, KV = 2, D = 8;
    at::Tensor x = at::randn({B, T, (H + 2 * KV) * D}, options(at::kFloat));
    at::Tensor dq = at::randn({B, H, T, D}, options(at::kFloat)), dk = at::randn({B, KV, T, D}, options(at::kFloat));
    at::Tensor dv = at::randn({B, KV, T, D}, options(at::kFloat));
    const auto cs = cos_sin(B, T, D, options(at::kFloat));
    auto attention_inputs = [&](bool fused) {
        at::Tensor leaf = x.clone().requires_grad_();
        at::Tensor qkv = leaf * 1;
        at::Tensor q = qkv.narrow(-1, 0, H * D).view({B, T, H, D}).transpose(1, 2);
        at::Tensor k = qkv.narrow(-1, H * D, KV * D).view({B, T, KV, D}).transpose(1, 2);
        at::Tensor v = qkv.narrow(-1, (H + KV) * D, KV * D).view({B, T, KV, D}).transpose(1, 2);
        q = fused ? fused_apply_rotary_(q, cs.first, cs.second) : composite::apply_rotary(q, cs.first, cs.second);
        k = fused ? fused_apply_rotary_(k, cs.first, cs.second) : composite::apply_rotary(k, cs.first, cs.second);
        ((q * dq).sum() + (k * dk).sum() + (v * dv).sum()).backward();
        return std::vector<at::Tensor>{q.detach(), k.detach(), v.detach(), leaf.grad()};
    };
    auto fused = attention_inputs(true), composite = attention_inputs(false);
    for (size_t i = 0; i < fused.size(); ++i) EXPECT_LE(relative_error(fused[i], composite[i]), 1e-6) << "tensor " << i;
}

TEST_P(KernelsTest, RotaryBroadcastsOneBatchOfPositions) {
    at::Tensor x = at::randn({3, 2, 5, 16}, options(at::kFloat)), dy = at::randn({3, 2, 5, 16}, options(at::kFloat));
    const auto [cos, sin] = cos_sin(1, 5, 16, options(at::kFloat));
    auto fused = [&](const std::vector<at::Tensor>& in) { return fused_apply_rotary_(in[0] * 1, in[1], in[2]); };
    auto comp = [&](const std::vector<at::Tensor>& in) { return composite::apply_rotary(in[0] * 1, in[1], in[2]); };
    expect_matches(run(fused, {x, cos, sin}, {true, false, false}, dy), run(comp, {x, cos, sin}, {true, false, false}, dy), {}, at::kFloat, "B=1 cos");
}

// Peak bytes allocated while f runs (output included), and the bytes still allocated after it less the
// output when the output is new memory.
std::pair<int64_t, int64_t> peak_and_saved_bytes(c10::Device device, const std::function<at::Tensor()>& f, const at::Tensor& in_place_of) {
    AllocationProbe probe(device.type());
    at::Tensor y = f();
    const bool output_is_new = !y.is_alias_of(in_place_of);
    return {probe.peak_bytes(), probe.live_bytes() - (output_is_new ? static_cast<int64_t>(y.nbytes()) : 0)};
}

TEST_P(KernelsTest, RotarySavesNothingAndRotatesInPlace) {
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        at::Tensor leaf = at::randn({2, 8, 64, 64}, options(dtype)).requires_grad_();
        const auto cs = cos_sin(2, 64, 64, options(dtype));
        const at::Tensor cos = cs.first, sin = cs.second;
        at::Tensor q = leaf * 1, q2 = leaf * 1;
        const auto [fused_peak, fused_saved] = peak_and_saved_bytes(device_, [&] { return fused_apply_rotary_(q, cos, sin); }, q);
        const auto [composite_peak, composite_saved] = peak_and_saved_bytes(device_, [&] { return composite::apply_rotary(q2, cos, sin); }, q2);
        std::cout << "rotary " << dtype << " [2, 8, 64, 64]: saves " << fused_saved << " bytes, peak " << fused_peak << "; composite saves "
                  << composite_saved << ", peak " << composite_peak << "\n";
        // Neither keeps anything of q (cos and sin need no gradient, so the composite's products save
        // only them); the fused op also allocates no output and no rotated copy.
        EXPECT_EQ(fused_saved, 0);
        EXPECT_EQ(composite_saved, 0);
        EXPECT_GE(composite_peak, 2 * static_cast<int64_t>(q.nbytes()));  // the rotated copy and the output
        if (device_.is_cuda()) {
            EXPECT_EQ(fused_peak, 0);  // the kernel works in place
        } else {
            EXPECT_LT(fused_peak, composite_peak);  // ATen: the two rotated halves
        }
    }
}

TEST_P(KernelsTest, RotaryRefusesALeafThatRequiresGrad) {
    at::Tensor leaf = at::randn({1, 1, 2, 4}, options(at::kFloat)).requires_grad_();
    auto [cos, sin] = cos_sin(1, 2, 4, options(at::kFloat));
    EXPECT_THROW(fused_apply_rotary_(leaf, cos, sin), c10::Error);
}

// ------------------------------------------------------------------------------------------- dispatch

TEST_P(KernelsTest, DispatchUsesTheFusedOpsWhenEnabled) {
    // bfloat16, where the composite keeps a float32 copy of x and the fused op does not.
    at::Tensor x = at::randn({2, 64}, options(at::kBFloat16)).requires_grad_(), w = at::randn({64}, options(at::kBFloat16));
    const int64_t saved = saved_bytes(device_, [&] { return rms_norm(x, w, 1e-6, false); });
    const int64_t fused = saved_bytes(device_, [&] { return fused_rms_norm(x, w, 1e-6, false); });
    const int64_t composite = saved_bytes(device_, [&] { return composite::rms_norm(x, w, 1e-6, false); });
    ASSERT_NE(fused, composite);
    EXPECT_EQ(saved, fused_ops_enabled() ? fused : composite);
}

// LATHE_FUSED_OPS chooses at run time, read once (reread here for the test): 0 the composites, 1 the fused
// ops, unset the build's choice. One binary then measures before and after (docs/performance.md).
TEST(FusedOpsOverride, EnvironmentSelectsTheCompositesOrTheFusedOps) {
    const c10::Device cpu(c10::kCPU);
    at::Tensor x = at::randn({2, 64}, at::kBFloat16).requires_grad_(), w = at::randn({64}, at::kBFloat16);
    const int64_t fused = saved_bytes(cpu, [&] { return fused_rms_norm(x, w, 1e-6, false); });
    const int64_t composite = saved_bytes(cpu, [&] { return composite::rms_norm(x, w, 1e-6, false); });
    ASSERT_NE(fused, composite);

    ScopedFusedOps setting(false);
    EXPECT_FALSE(fused_ops_enabled());
    EXPECT_EQ(saved_bytes(cpu, [&] { return rms_norm(x, w, 1e-6, false); }), composite);
    setting.set(true);
    EXPECT_TRUE(fused_ops_enabled());
    EXPECT_EQ(saved_bytes(cpu, [&] { return rms_norm(x, w, 1e-6, false); }), fused);
    EXPECT_THROW(fused_ops_setting("yes"), std::invalid_argument);
    EXPECT_EQ(fused_ops_setting(""), fused_ops_setting(nullptr));
}

INSTANTIATE_TEST_SUITE_P(Devices, KernelsTest, ::testing::Values("cpu", "cuda"), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace lathe::kernels
