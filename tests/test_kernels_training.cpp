// The fused training-step ops of kernels/ against their LibTorch composites (kernels/composite.h): the
// output layer + cross-entropy (linear_cross_entropy.h) and the LoRA linear (lora_linear.h). Loss or
// output and every gradient over a grid of shapes with odd sizes, ignore patterns, label smoothing and
// dropout, on the CPU and, with a GPU, on CUDA; and the bytes each keeps for backward, counted by
// kernels/allocation_probe.h.
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/eye.h>
#include <ATen/ops/full.h>
#include <ATen/ops/isclose.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/allocation_probe.h"
#include "kernels/composite.h"
#include "kernels/dispatch.h"
#include "kernels/dropout_noise.h"
#include "kernels/linear_cross_entropy.h"
#include "kernels/gated_down_lora.h"
#include "kernels/lora_linear.h"
#include "tests/kernel_test_util.h"

namespace lathe::kernels {
namespace {

using test::relative_error;
using test::rounded;
using test::run;

class TrainingKernelsTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (GetParam() == "cuda" && !at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
        device_ = c10::Device(GetParam() == "cuda" ? c10::DeviceType::CUDA : c10::DeviceType::CPU);
        // The same numbers whether a test runs alone (ctest) or after others (the device run).
        at::manual_seed(20261206);
    }
    at::TensorOptions options(at::ScalarType dtype) const { return at::TensorOptions().dtype(dtype).device(device_); }
    c10::Device device_{c10::DeviceType::CPU};
};

// Largest relative error of each result; every result must be defined alike and shaped alike.
std::vector<double> errors(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b, const std::string& what) {
    std::vector<double> out;
    EXPECT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        EXPECT_EQ(a[i].defined(), b[i].defined()) << what << " result " << i;
        if (!a[i].defined() || !b[i].defined()) {
            out.push_back(0);
            continue;
        }
        EXPECT_EQ(a[i].sizes(), b[i].sizes()) << what << " result " << i;
        EXPECT_EQ(a[i].scalar_type(), b[i].scalar_type()) << what << " result " << i;
        out.push_back(relative_error(a[i], b[i]));
    }
    return out;
}

// Bytes f's graph keeps after its forward pass (what was allocated and not freed, less the output) and
// the peak of the forward.
std::pair<int64_t, int64_t> saved_and_peak(c10::Device device, const std::function<at::Tensor()>& f) {
    AllocationProbe probe(device.type());
    at::Tensor y = f();
    return {probe.live_bytes() - static_cast<int64_t>(y.nbytes()), probe.peak_bytes()};
}

// ------------------------------------------------------------------- output layer + cross-entropy

enum class Ignored { None, Some, FirstChunk, All };

at::Tensor make_targets(int64_t n, int64_t vocab, Ignored ignored, int64_t chunk, const at::TensorOptions& opts) {
    at::Tensor t = at::randint(vocab, {n}, opts.dtype(at::kLong));
    at::Tensor index = at::arange(n, opts.dtype(at::kLong));
    switch (ignored) {
        case Ignored::None: break;
        case Ignored::Some: t = at::where(index % 3 == 1, at::full({}, -100, t.options()), t); break;
        case Ignored::FirstChunk: t = at::where(index < chunk, at::full({}, -100, t.options()), t); break;
        case Ignored::All: t.fill_(-100); break;
    }
    return t;
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyMatchesCompositeInFloat32) {
    struct Shape {
        int64_t n, h, v;
    };
    const std::vector<Shape> shapes = {{1, 1, 1}, {7, 5, 3}, {33, 16, 1031}, {64, 32, 50}, {130, 24, 257}};
    int cases = 0;
    double worst = 0;
    for (const Shape& s : shapes) {
        for (int64_t chunk : {int64_t{1}, int64_t{5}, int64_t{1024}}) {
            for (Ignored ignored : {Ignored::None, Ignored::Some, Ignored::FirstChunk, Ignored::All}) {
                for (double smoothing : {0.0, 0.1}) {
                    for (bool bias : {false, true}) {
                        for (int mode = 0; mode < 4; ++mode) {
                            const bool mean = mode % 2 == 1, in_forward = mode >= 2;
                            if (mean && ignored == Ignored::All) continue;  // 0 / 0: NaN either way
                            if (in_forward && chunk != 5) continue;         // one chunking is enough for it (time)
                            if (mean && ignored == Ignored::FirstChunk && chunk >= s.n) continue;
                            const std::string what = "n " + std::to_string(s.n) + " h " + std::to_string(s.h) + " v " + std::to_string(s.v) +
                                                     " chunk " + std::to_string(chunk) + " ignored " + std::to_string(static_cast<int>(ignored)) +
                                                     " smoothing " + std::to_string(smoothing) + (bias ? " bias" : "") + (mean ? " mean" : " sum") +
                                                     (in_forward ? " gradients in forward" : "");
                            LinearCrossEntropyOptions o;
                            o.gradients_in_forward = in_forward;
                            o.label_smoothing = smoothing;
                            o.mean = mean;
                            o.divisor = mean ? 1.0 : 37.0;
                            o.chunk_rows = chunk;
                            at::Tensor hidden = at::randn({s.n, s.h}, options(at::kFloat)) * 2;
                            at::Tensor weight = at::randn({s.v, s.h}, options(at::kFloat)) * 0.5;
                            at::Tensor b = at::randn({s.v}, options(at::kFloat));
                            at::Tensor targets = make_targets(s.n, s.v, ignored, chunk, options(at::kFloat));
                            at::Tensor dy = at::full({}, 0.7, options(at::kFloat));  // a loss scale other than 1
                            auto fused = [&](const std::vector<at::Tensor>& in) {
                                return fused_linear_cross_entropy(in[0], in[1], bias ? in[2] : at::Tensor(), targets, o);
                            };
                            auto comp = [&](const std::vector<at::Tensor>& in) {
                                return composite::linear_cross_entropy(in[0], in[1], bias ? in[2] : at::Tensor(), targets, o);
                            };
                            const std::vector<bool> grad{true, true, bias};
                            auto e = errors(run(fused, {hidden, weight, b}, grad, dy), run(comp, {hidden, weight, b}, grad, dy), what);
                            for (double err : e) {
                                EXPECT_LE(err, 2e-5) << what;
                                worst = std::max(worst, err);
                            }
                            ++cases;
                        }
                    }
                }
            }
        }
    }
    std::cout << "linear_cross_entropy float32: " << cases << " cases, largest relative error " << worst << "\n";
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyAllIgnoredGivesZero) {
    at::Tensor hidden = at::randn({9, 8}, options(at::kFloat)).requires_grad_(), weight = at::randn({11, 8}, options(at::kFloat)).requires_grad_();
    LinearCrossEntropyOptions o;
    o.chunk_rows = 4;
    at::Tensor loss = fused_linear_cross_entropy(hidden, weight, {}, at::full({9}, -100, options(at::kLong)), o);
    loss.backward();
    EXPECT_EQ(loss.item<float>(), 0.0f);
    EXPECT_EQ(hidden.grad().abs().max().item<float>(), 0.0f);
    EXPECT_EQ(weight.grad().abs().max().item<float>(), 0.0f);
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyInReducedPrecision) {
    // The model's dtype rounds the logits and their gradient; the fused op rounds where the composite
    // does and must stay within twice the composite's own error against a float64 run of the composite.
    // grad_weight is the exception by design: it is accumulated over the chunks in the weight's dtype
    // (no float32 copy of a 128k x 4096 lm_head gradient), so each of the k chunk sums adds a rounding of
    // up to half an ulp; those grow like sqrt(k) ulps (seen: 0.0079 against the composite's 0.0029 in
    // bfloat16 at k = 7), which is what its bound allows on top.
    at::manual_seed(7);
    for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
        for (double smoothing : {0.0, 0.1}) {
            for (int64_t chunk : {int64_t{16}, int64_t{1024}}) {
                const int64_t n = 100, h = 64, v = 1000;
                at::Tensor hidden = rounded(at::randn({n, h}, options(at::kFloat)), dtype);
                at::Tensor weight = rounded(at::randn({v, h}, options(at::kFloat)) * 0.2, dtype);
                at::Tensor targets = make_targets(n, v, Ignored::Some, chunk, options(at::kFloat));
                LinearCrossEntropyOptions o;
                o.label_smoothing = smoothing;
                o.divisor = 70;
                o.chunk_rows = chunk;
                auto fused = [&](const std::vector<at::Tensor>& in) { return fused_linear_cross_entropy(in[0], in[1], {}, targets, o); };
                auto comp = [&](const std::vector<at::Tensor>& in) { return composite::linear_cross_entropy(in[0], in[1], {}, targets, o); };
                const at::Tensor dy = at::full({}, 1.0, options(at::kFloat));
                auto exact = run(comp, {hidden.to(at::kDouble), weight.to(at::kDouble)}, {true, true}, dy.to(at::kDouble));
                auto f = run(fused, {hidden.to(dtype), weight.to(dtype)}, {true, true}, dy);
                auto c = run(comp, {hidden.to(dtype), weight.to(dtype)}, {true, true}, dy);
                const std::string what = std::string(c10::toString(dtype)) + " smoothing " + std::to_string(smoothing) + " chunk " +
                                         std::to_string(chunk);
                auto vs_composite = errors(f, c, what);
                const char* names[] = {"loss", "grad hidden", "grad weight"};
                for (size_t i = 0; i < 3; ++i) {
                    const double fe = relative_error(f[i], exact[i]), ce = relative_error(c[i], exact[i]);
                    std::cout << "linear_cross_entropy " << what << " " << names[i] << ": fused vs composite " << vs_composite[i]
                              << ", vs float64: fused " << fe << ", composite " << ce << "\n";
                    EXPECT_LE(vs_composite[i], dtype == at::kBFloat16 ? 3e-2 : 4e-3) << what << " " << names[i];
                    const double chunk_sums = static_cast<double>((n + chunk - 1) / chunk);
                    const double ulp = dtype == at::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
                    const double accumulation = i == 2 ? std::sqrt(chunk_sums) * ulp : 0.0;
                    EXPECT_LE(fe, 2 * ce + 1e-3 + accumulation) << what << " " << names[i];
                }
            }
        }
    }
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyKeepsOnlyTheRowLogsumexp) {
    const int64_t n = 256, h = 64, v = 4000;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        at::Tensor hidden = at::randn({n, h}, options(dtype)).requires_grad_();
        at::Tensor weight = at::randn({v, h}, options(dtype)) * 0.1;  // frozen, as the LoRA head is
        at::Tensor targets = make_targets(n, v, Ignored::Some, 0, options(dtype));
        LinearCrossEntropyOptions o;
        o.chunk_rows = 32;
        const auto [fused_saved, fused_peak] = saved_and_peak(device_, [&] { return fused_linear_cross_entropy(hidden, weight, {}, targets, o); });
        const auto [comp_saved, comp_peak] = saved_and_peak(device_, [&] { return composite::linear_cross_entropy(hidden, weight, {}, targets, o); });
        std::cout << "linear_cross_entropy " << dtype << " [" << n << ", " << h << "] x [" << v << "]: saves " << fused_saved << " bytes (peak "
                  << fused_peak << "), composite " << comp_saved << " (peak " << comp_peak << ")\n";
        if (device_.is_cpu()) {
            EXPECT_EQ(fused_saved, n * 4 + 8);  // logsumexp per row, and the float64 divisor
        }
        EXPECT_GE(comp_saved, n * v * 4);  // the float32 log-softmax
        EXPECT_LT(fused_peak, comp_peak / 4);
    }
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyBackwardPeakIsOneChunk) {
    // Forward and backward together: the fused op holds one chunk's logits (and their gradient in place),
    // the composite every row's.
    const int64_t n = 256, h = 32, v = 4000, chunk = 32;
    at::Tensor hidden = at::randn({n, h}, options(at::kFloat)).requires_grad_(), weight = at::randn({v, h}, options(at::kFloat)) * 0.1;
    at::Tensor targets = make_targets(n, v, Ignored::None, 0, options(at::kFloat));
    LinearCrossEntropyOptions o;
    o.chunk_rows = chunk;
    auto peak = [&](bool fused) {
        AllocationProbe probe(device_.type());
        at::Tensor loss = fused ? fused_linear_cross_entropy(hidden, weight, {}, targets, o) : composite::linear_cross_entropy(hidden, weight, {}, targets, o);
        loss.backward();
        hidden.mutable_grad() = at::Tensor();
        return probe.peak_bytes();
    };
    const int64_t fused = peak(true), comp = peak(false);
    std::cout << "linear_cross_entropy forward+backward peak: fused " << fused << ", composite " << comp << "\n";
    if (device_.is_cpu()) {
        // grad_hidden, the row logsumexp and a few chunk-sized temporaries.
        EXPECT_LE(fused, n * h * 4 + n * 4 + 4 * chunk * v * 4);
    }
    EXPECT_LT(fused, comp / 4);
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyWithoutGradWorks) {
    // Evaluation: no graph, the same loss.
    at::Tensor hidden = at::randn({20, 8}, options(at::kFloat)), weight = at::randn({30, 8}, options(at::kFloat));
    at::Tensor targets = make_targets(20, 30, Ignored::Some, 0, options(at::kFloat));
    LinearCrossEntropyOptions o;
    o.chunk_rows = 3;
    at::NoGradGuard no_grad;
    at::Tensor fused = fused_linear_cross_entropy(hidden, weight, {}, targets, o), comp = composite::linear_cross_entropy(hidden, weight, {}, targets, o);
    EXPECT_FALSE(fused.requires_grad());
    EXPECT_LE(relative_error(fused, comp), 2e-6);
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyGradientsInForwardAreTheBackwardsOnes) {
    // Formed in the forward or in the backward, the gradients are the same numbers: bit for bit for a loss
    // gradient of 1 (train_step's), within a rounding for another one (scaled afterwards), for each set
    // of inputs that need a gradient (a frozen head, the usual LoRA case, or a trained one with bias).
    const int64_t n = 45, h = 16, v = 300;
    at::Tensor hidden = at::randn({n, h}, options(at::kFloat)), weight = at::randn({v, h}, options(at::kFloat)) * 0.3;
    at::Tensor b = at::randn({v}, options(at::kFloat));
    at::Tensor targets = make_targets(n, v, Ignored::Some, 0, options(at::kFloat));
    for (const std::vector<bool>& needed : std::vector<std::vector<bool>>{{true, false, false}, {true, true, false}, {true, true, true}, {false, true, true}}) {
        for (double smoothing : {0.0, 0.2}) {
            for (bool mean : {false, true}) {
                for (double scale : {1.0, 0.7}) {
                    const std::string what = "needs " + std::to_string(needed[0]) + std::to_string(needed[1]) + std::to_string(needed[2]) + " smoothing " +
                                             std::to_string(smoothing) + (mean ? " mean" : " sum") + " loss gradient " + std::to_string(scale);
                    auto loss_with = [&](bool in_forward) {
                        LinearCrossEntropyOptions o;
                        o.gradients_in_forward = in_forward;
                        o.label_smoothing = smoothing;
                        o.mean = mean;
                        o.divisor = 13;
                        o.chunk_rows = 8;
                        return [o, &targets](const std::vector<at::Tensor>& in) { return fused_linear_cross_entropy(in[0], in[1], in[2], targets, o); };
                    };
                    const at::Tensor dy = at::full({}, scale, options(at::kFloat));
                    auto f = run(loss_with(true), {hidden, weight, b}, needed, dy), c = run(loss_with(false), {hidden, weight, b}, needed, dy);
                    ASSERT_EQ(f.size(), c.size()) << what;
                    for (size_t i = 0; i < f.size(); ++i) {
                        ASSERT_EQ(f[i].defined(), c[i].defined()) << what << " result " << i;
                        if (!f[i].defined()) continue;
                        if (scale == 1.0) {
                            EXPECT_TRUE(f[i].equal(c[i])) << what << " result " << i;
                        } else {
                            // The loss gradient multiplies after the float32 rounding of the factor,
                            // not before: a few float32 roundings apart.
                            EXPECT_LE(relative_error(f[i], c[i]), 4e-6) << what << " result " << i;
                        }
                    }
                }
            }
        }
    }
}

TEST_P(TrainingKernelsTest, LinearCrossEntropyGradientsInForwardKeepTheGradientsOnlyAndHandThemOverOnce) {
    // With a frozen head the forward keeps grad_hidden [N, H] and nothing else per row: no logsumexp, and
    // no one chunk's logits. Backward hands the gradients over once (they move out); a second backward is
    // an error, not a silent zero. Without grad mode nothing is formed.
    const int64_t n = 256, h = 64, v = 4000, chunk = 32;
    LinearCrossEntropyOptions o;
    o.chunk_rows = chunk;
    o.gradients_in_forward = true;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        at::Tensor hidden = at::randn({n, h}, options(dtype)).requires_grad_();
        at::Tensor weight = at::randn({v, h}, options(dtype)) * 0.1;
        at::Tensor targets = make_targets(n, v, Ignored::Some, 0, options(dtype));
        const auto [saved, peak] = saved_and_peak(device_, [&] { return fused_linear_cross_entropy(hidden, weight, {}, targets, o); });
        const int64_t element = dtype == at::kFloat ? 4 : 2;
        std::cout << "linear_cross_entropy, gradients in forward, " << dtype << ": saves " << saved << " bytes (peak " << peak << ")\n";
        if (device_.is_cpu()) {
            EXPECT_EQ(saved, n * h * element);
            EXPECT_LE(peak, n * h * element + 4 * chunk * v * 4);
        }
    }
    at::Tensor hidden = at::randn({n, h}, options(at::kFloat)).requires_grad_(), weight = at::randn({v, h}, options(at::kFloat));
    at::Tensor targets = make_targets(n, v, Ignored::None, 0, options(at::kFloat));
    at::Tensor loss = fused_linear_cross_entropy(hidden, weight, {}, targets, o);
    loss.backward({}, /*retain_graph=*/true);
    EXPECT_TRUE(hidden.grad().defined());
    EXPECT_THROW(loss.backward(), c10::Error);
    at::NoGradGuard no_grad;
    const auto [saved, peak] = saved_and_peak(device_, [&] { return fused_linear_cross_entropy(hidden, weight, {}, targets, o); });
    EXPECT_EQ(saved, 0);
}

TEST(TrainingKernelsChecks, LinearCrossEntropyRefusesBadShapes) {
    at::Tensor h = at::randn({4, 8}), w = at::randn({10, 8}), t = at::zeros({4}, at::kLong);
    LinearCrossEntropyOptions o;
    EXPECT_THROW(fused_linear_cross_entropy(h, at::randn({10, 7}), {}, t, o), c10::Error);
    EXPECT_THROW(fused_linear_cross_entropy(h, w, {}, at::zeros({3}, at::kLong), o), c10::Error);
    EXPECT_THROW(fused_linear_cross_entropy(h, w, {}, at::zeros({4}, at::kInt), o), c10::Error);
    EXPECT_THROW(fused_linear_cross_entropy(h, w.to(at::kBFloat16), {}, t, o), c10::Error);
    o.chunk_rows = 0;
    EXPECT_THROW(fused_linear_cross_entropy(h, w, {}, t, o), c10::Error);
}

// ------------------------------------------------------------------------------------ LoRA linear

TEST_P(TrainingKernelsTest, LoraLinearMatchesComposite) {
    const std::vector<std::vector<int64_t>> shapes = {{1, 1}, {3, 7}, {2, 5, 33}, {4, 1031}};
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
        for (const auto& shape : shapes) {
            for (int64_t r : {int64_t{1}, int64_t{8}}) {
                for (int64_t out : {int64_t{1}, int64_t{17}}) {
                    for (double dropout : {0.0, 0.3}) {
                        const std::string what = std::string(c10::toString(dtype)) + " x " + c10::str(at::IntArrayRef(shape)) + " r " +
                                                 std::to_string(r) + " out " + std::to_string(out) + " dropout " + std::to_string(dropout);
                        const int64_t in = shape.back();
                        at::Tensor x = at::randn(shape, options(at::kFloat)).to(dtype);
                        at::Tensor W = (at::randn({out, in}, options(at::kFloat)) * 0.2).to(dtype);  // the frozen base
                        at::Tensor A = (at::randn({r, in}, options(at::kFloat)) * 0.3).to(dtype);
                        at::Tensor B = (at::randn({out, r}, options(at::kFloat)) * 0.3).to(dtype);
                        at::Tensor keep = at::rand(shape, options(at::kFloat)) >= dropout;
                        std::vector<int64_t> out_shape = shape;
                        out_shape.back() = out;
                        at::Tensor dy = at::randn(out_shape, options(at::kFloat)).to(dtype);
                        // x feeds both the base product and the adapter, as in a layer: its gradient sums both.
                        auto fused = [&](const std::vector<at::Tensor>& t) {
                            return fused_lora_linear(at::linear(t[0], W), t[0], t[1], t[2], 2.0, dropout, dropout > 0 ? keep : at::Tensor());
                        };
                        auto comp = [&](const std::vector<at::Tensor>& t) {
                            return composite::lora_linear(at::linear(t[0], W), t[0], t[1], t[2], 2.0, dropout, dropout > 0 ? keep : at::Tensor());
                        };
                        auto f = run(fused, {x, A, B}, {true, true, true}, dy), c = run(comp, {x, A, B}, {true, true, true}, dy);
                        errors(f, c, what);  // defined and shaped alike
                        // Relative to the sums' absolute terms, not their results: a gradient summed over
                        // a few products of either sign can cancel to a value whose own size says nothing
                        // of the rounding (x [1, 1]: 1.3e-6 of the result seen). The same composite run on
                        // the inputs' absolute values gives those sums of absolute terms.
                        auto abs_all = [](const std::vector<at::Tensor>& t) {
                            std::vector<at::Tensor> a;
                            for (const at::Tensor& v : t) a.push_back(v.abs());
                            return a;
                        };
                        const at::Tensor W_abs = W.abs();
                        auto comp_abs = [&](const std::vector<at::Tensor>& t) {
                            return composite::lora_linear(at::linear(t[0], W_abs), t[0], t[1], t[2], 2.0, dropout, dropout > 0 ? keep : at::Tensor());
                        };
                        auto terms = run(comp_abs, abs_all({x, A, B}), {true, true, true}, dy.abs());
                        const double tol = dtype == at::kFloat ? 1e-6 : dtype == at::kBFloat16 ? 1e-2 : 2e-3;
                        for (size_t i = 0; i < f.size(); ++i) {
                            EXPECT_LE(relative_error(f[i], c[i], terms[i].abs().max().item<double>()), tol) << what << " result " << i;
                        }
                    }
                }
            }
        }
    }
}

TEST_P(TrainingKernelsTest, LoraLinearGradientsOfBaseAndFrozenInputs) {
    // base's gradient passes through; an x that needs no gradient gets none.
    at::Tensor base = at::randn({6, 5}, options(at::kFloat)), x = at::randn({6, 9}, options(at::kFloat));
    at::Tensor A = at::randn({3, 9}, options(at::kFloat)), B = at::randn({5, 3}, options(at::kFloat)), dy = at::randn({6, 5}, options(at::kFloat));
    auto fused = [&](const std::vector<at::Tensor>& t) { return fused_lora_linear(t[0], t[1], t[2], t[3], 0.5, 0.0); };
    auto comp = [&](const std::vector<at::Tensor>& t) { return composite::lora_linear(t[0], t[1], t[2], t[3], 0.5, 0.0); };
    auto e = errors(run(fused, {base, x, A, B}, {true, false, true, true}, dy), run(comp, {base, x, A, B}, {true, false, true, true}, dy), "frozen x");
    for (double err : e) EXPECT_LE(err, 1e-6);
}

TEST_P(TrainingKernelsTest, LoraLinearDrawsTheCompositesDropoutMask) {
    // Without a given mask both draw from the default generator; on the CPU the fused op draws as
    // at::dropout does and keeps the mask as bits, so a seeded run gives the composite's result bit for
    // bit: in every dtype, for a size that is no multiple of 8 bits and for an x that is not contiguous.
    if (device_.is_cuda()) GTEST_SKIP() << "on CUDA at::dropout draws with its own fused kernel";
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble}) {
        for (bool contiguous : {true, false}) {
            const std::string what = std::string(c10::toString(dtype)) + (contiguous ? " contiguous" : " transposed");
            at::Tensor x = contiguous ? at::randn({4, 7, 61}, options(dtype)) : at::randn({4, 61, 7}, options(dtype)).transpose(1, 2);
            at::Tensor base = at::randn({4, 7, 16}, options(dtype)), dy = at::randn({4, 7, 16}, options(dtype));
            at::Tensor A = at::randn({8, 61}, options(dtype)), B = at::randn({16, 8}, options(dtype));
            auto seeded = [&](auto f) {
                at::manual_seed(1234);
                return run(f, {base, x, A, B}, {true, true, true, true}, dy);
            };
            auto f = seeded([&](const std::vector<at::Tensor>& t) { return fused_lora_linear(t[0], t[1], t[2], t[3], 2.0, 0.1); });
            auto c = seeded([&](const std::vector<at::Tensor>& t) { return composite::lora_linear(t[0], t[1], t[2], t[3], 2.0, 0.1); });
            for (size_t i = 0; i < f.size(); ++i) EXPECT_TRUE(f[i].equal(c[i])) << what << " result " << i;
            at::manual_seed(1235);
            at::Tensor other = fused_lora_linear(base, x, A, B, 2.0, 0.1);
            EXPECT_FALSE(other.equal(f[0])) << what;  // the mask is drawn, not fixed
        }
    }
}

TEST_P(TrainingKernelsTest, LoraLinearBackwardAppliesTheForwardsMask) {
    // On every device, without the composite: with A and B the identity and scale 1 the adapter's output
    // is x_d = x * noise, so the forward shows its noise, and dx must be dy times that noise (the base
    // product is zero). For a contiguous x and a transposed one, whose noise is drawn in x's memory order
    // (on CUDA backward draws it again and must draw it in the same layout).
    const int64_t n = 64, d = 48;
    for (bool contiguous : {true, false}) {
        at::Tensor x0 = contiguous ? at::randn({n, d}, options(at::kFloat)) : at::randn({d, n}, options(at::kFloat)).t();
        x0 = x0.sign() * (x0.abs() + 0.5);  // no zero, so that noise = x_d / x
        at::Tensor x = x0.detach().requires_grad_();
        at::Tensor eye = at::eye(d, options(at::kFloat));
        at::Tensor base = at::zeros({n, d}, options(at::kFloat));
        at::Tensor y = fused_lora_linear(base, x, eye, eye, 1.0, 0.4);
        at::Tensor noise = (y / x0).detach();
        at::rand({1000}, options(at::kFloat));  // the generator moves on before backward
        at::Tensor dy = at::randn({n, d}, options(at::kFloat));
        y.backward(dy);
        const std::string what = contiguous ? "contiguous x" : "transposed x";
        EXPECT_GT((noise == 0).sum().item<int64_t>(), 0) << what;  // some elements dropped, some kept
        EXPECT_GT((noise > 0).sum().item<int64_t>(), 0) << what;
        EXPECT_LE(relative_error(x.grad(), dy * noise), 1e-6) << what;
    }
}

TEST(DropoutNoise, KeptBitsGiveTheNoisesProductBitForBit) {
    // The bits of a drawn noise times v equal v * noise exactly, NaN and infinity included (a dropped
    // element multiplies by zero, as the noise does), out of place and in place, at odd sizes.
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble}) {
        for (int64_t n : {1, 7, 8, 9, 4097 * 8 + 3}) {
            const std::string what = std::string(c10::toString(dtype)) + " n " + std::to_string(n);
            at::Tensor noise = draw_dropout_noise(at::empty({n}, at::TensorOptions().dtype(dtype)), 0.3);
            at::Tensor bits = pack_kept_bits(noise);
            ASSERT_EQ(bits.numel(), (n + 7) / 8) << what;
            at::Tensor v = at::randn({n}, at::TensorOptions().dtype(dtype));
            v[0].fill_(std::nan(""));
            if (n > 1) v[n - 1].fill_(INFINITY);
            const at::Tensor expected = v * noise;
            auto same = [&](const at::Tensor& t) { return at::isclose(t, expected, 0, 0, /*equal_nan=*/true).all().item<bool>(); };
            EXPECT_TRUE(same(times_kept_bits(v, bits, 0.3, false))) << what;
            at::Tensor in_place = v.clone();
            EXPECT_EQ(times_kept_bits(in_place, bits, 0.3, true).data_ptr(), in_place.data_ptr()) << what;
            EXPECT_TRUE(same(in_place)) << what;
        }
    }
    EXPECT_THROW(times_kept_bits(at::randn({9}), at::zeros({1}, at::kByte), 0.3, false), c10::Error);  // 9 elements need 2 bytes
}

TEST_P(TrainingKernelsTest, LoraLinearBackwardGetsTheForwardsMaskBack) {
    // The fused op keeps no noise in x's dtype: on the CPU it keeps the mask as bits (dropout_noise.h).
    // Draws made between forward and backward (other layers' dropout) must not change the mask, and a
    // second backward through the same graph must use it once more. Against the composite, which keeps
    // its noise, with the same seed.
    if (device_.is_cuda()) GTEST_SKIP() << "on CUDA at::dropout draws with its own fused kernel";
    at::Tensor x0 = at::randn({3, 5, 32}, options(at::kFloat)), base = at::randn({3, 5, 8}, options(at::kFloat));
    at::Tensor A0 = at::randn({4, 32}, options(at::kFloat)), B0 = at::randn({8, 4}, options(at::kFloat)), dy = at::randn({3, 5, 8}, options(at::kFloat));
    std::vector<std::vector<at::Tensor>> grads;
    for (bool fused : {true, false}) {
        at::Tensor x = x0.clone().requires_grad_(), A = A0.clone().requires_grad_(), B = B0.clone().requires_grad_();
        at::manual_seed(77);
        at::Tensor y = fused ? fused_lora_linear(base, x, A, B, 2.0, 0.3) : composite::lora_linear(base, x, A, B, 2.0, 0.3);
        at::rand({1000}, options(at::kFloat));  // the default generator moves on
        y.backward(dy, /*retain_graph=*/true);
        grads.push_back({x.grad().clone(), A.grad().clone(), B.grad().clone()});
        y.backward(dy);  // a second backward: the gradients double
        for (size_t i = 0; i < 3; ++i) EXPECT_TRUE((std::vector<at::Tensor>{x.grad(), A.grad(), B.grad()}[i]).equal(2 * grads.back()[i])) << i;
    }
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(grads[0][i].equal(grads[1][i])) << "gradient " << i;
}

TEST_P(TrainingKernelsTest, LoraLinearSavesTheMaskAsBitsAtMost) {
    const int64_t n = 64, in = 512, out = 256, r = 16;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        for (double dropout : {0.0, 0.1}) {
            at::Tensor x = at::randn({n, in}, options(dtype)).requires_grad_();
            at::Tensor base = at::randn({n, out}, options(dtype));
            at::Tensor A = (at::randn({r, in}, options(dtype)) * 0.1).requires_grad_(), B = at::randn({out, r}, options(dtype)).requires_grad_();
            const auto [fused, fused_peak] = saved_and_peak(device_, [&] { return fused_lora_linear(base, x, A, B, 2.0, dropout); });
            const auto [comp, comp_peak] = saved_and_peak(device_, [&] { return composite::lora_linear(base, x, A, B, 2.0, dropout); });
            const int64_t element = dtype == at::kFloat ? 4 : 2;
            std::cout << "lora_linear " << dtype << " dropout " << dropout << " x [" << n << ", " << in << "] r " << r << ": saves " << fused
                      << " bytes (forward peak " << fused_peak << "), composite " << comp << " (peak " << comp_peak << ")\n";
            if (device_.is_cpu()) {
                // a = x_d A^T, and with dropout the mask as bits, 1 bit an element of x.
                EXPECT_EQ(fused, n * r * element + (dropout > 0 ? n * in / 8 : 0));
                // The composite: a, plus the noise and x_d at x's element size.
                EXPECT_EQ(comp, n * r * element + (dropout > 0 ? 2 * n * in * element : 0));
            }
            EXPECT_LE(fused, comp);
        }
    }
}

// ------------------------------------------------------------------- gated MLP down projection + LoRA

TEST_P(TrainingKernelsTest, GatedDownLoraMatchesComposite) {
    // Forward and the gradients of gate, up, A and B against the gated activation followed by the LoRA
    // linear, one seed for both (the same dropout draw): on the CPU the same ATen ops in the same order.
    const std::vector<std::vector<int64_t>> shapes = {{1, 1}, {3, 7}, {2, 5, 33}, {4, 1031}};
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        for (GateActivation act : {GateActivation::Silu, GateActivation::GeluTanh}) {
            for (const auto& shape : shapes) {
                for (double dropout : {0.0, 0.3}) {
                    const std::string what = std::string(c10::toString(dtype)) + " act " + std::to_string(static_cast<int>(act)) + " gate " +
                                             c10::str(at::IntArrayRef(shape)) + " dropout " + std::to_string(dropout);
                    const int64_t inter = shape.back(), out = 17, r = 8;
                    at::Tensor gate = at::randn(shape, options(at::kFloat)).to(dtype), up = at::randn(shape, options(at::kFloat)).to(dtype);
                    at::Tensor W = (at::randn({out, inter}, options(at::kFloat)) * 0.2).to(dtype);
                    at::Tensor A = (at::randn({r, inter}, options(at::kFloat)) * 0.3).to(dtype);
                    at::Tensor B = (at::randn({out, r}, options(at::kFloat)) * 0.3).to(dtype);
                    std::vector<int64_t> out_shape = shape;
                    out_shape.back() = out;
                    at::Tensor dy = at::randn(out_shape, options(at::kFloat)).to(dtype);
                    auto seeded = [&](auto f) {
                        at::manual_seed(99);
                        return run(f, {gate, up, A, B}, {true, true, true, true}, dy);
                    };
                    auto f = seeded([&](const std::vector<at::Tensor>& t) { return fused_gated_down_lora(act, t[0], t[1], W, t[2], t[3], 2.0, dropout); });
                    auto c = seeded([&](const std::vector<at::Tensor>& t) { return composite::gated_down_lora(act, t[0], t[1], W, t[2], t[3], 2.0, dropout); });
                    auto e = errors(f, c, what);
                    // Within rounding order: the same ops, though ATen may pick another product kernel for a
                    // size-1 dimension (the [1, 1] case differs by 2e-7 in float32).
                    const double tol = dtype == at::kFloat ? 1e-6 : 1e-2;
                    if (device_.is_cpu() || dropout == 0) {  // on CUDA at::dropout draws another mask
                        for (size_t i = 0; i < e.size(); ++i) EXPECT_LE(e[i], tol) << what << " result " << i;
                    }
                }
            }
        }
    }
}

TEST_P(TrainingKernelsTest, GatedDownLoraSavesNeitherTheProductNorTheNoise) {
    // gate and up are the op's inputs (allocated before it): what it adds is a = A(h_d), and with dropout
    // on the CPU the mask as bits (1 bit an element of h). The composite keeps act(gate) and the product
    // h, or with dropout (on the CPU) act(gate), the noise and the dropped h.
    const int64_t n = 64, inter = 512, out = 128, r = 16;
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
        for (double dropout : {0.0, 0.1}) {
            at::Tensor gate = at::randn({n, inter}, options(dtype)).requires_grad_(), up = at::randn({n, inter}, options(dtype)).requires_grad_();
            at::Tensor W = at::randn({out, inter}, options(dtype)) * 0.05;
            at::Tensor A = (at::randn({r, inter}, options(dtype)) * 0.1).requires_grad_(), B = at::randn({out, r}, options(dtype)).requires_grad_();
            const auto [fused, fused_peak] = saved_and_peak(device_, [&] { return fused_gated_down_lora(GateActivation::Silu, gate, up, W, A, B, 2.0, dropout); });
            const auto [comp, comp_peak] = saved_and_peak(device_, [&] { return composite::gated_down_lora(GateActivation::Silu, gate, up, W, A, B, 2.0, dropout); });
            const int64_t element = dtype == at::kFloat ? 4 : 2;
            std::cout << "gated_down_lora " << dtype << " dropout " << dropout << " gate [" << n << ", " << inter << "] r " << r << ": saves " << fused
                      << " bytes (forward peak " << fused_peak << "), composite " << comp << " (peak " << comp_peak << ")\n";
            EXPECT_EQ(fused, n * r * element + (dropout > 0 && device_.is_cpu() ? n * inter / 8 : 0));
            if (device_.is_cpu()) {
                EXPECT_EQ(comp, n * r * element + (dropout > 0 ? 3 : 2) * n * inter * element);
            }
        }
    }
}

TEST_P(TrainingKernelsTest, GatedDownLoraRefusesATrainedBaseWeight) {
    at::Tensor gate = at::randn({2, 8}, options(at::kFloat)), up = at::randn({2, 8}, options(at::kFloat));
    at::Tensor W = at::randn({4, 8}, options(at::kFloat)).requires_grad_(), A = at::randn({2, 8}, options(at::kFloat)), B = at::randn({4, 2}, options(at::kFloat));
    EXPECT_THROW(fused_gated_down_lora(GateActivation::Silu, gate, up, W, A, B, 1.0, 0.0), c10::Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, TrainingKernelsTest, ::testing::Values("cpu", "cuda"), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace lathe::kernels
