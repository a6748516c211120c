#include "core/merge/merge_math.h"

#include <ATen/ops/abs.h>
#include <ATen/ops/acos.h>
#include <ATen/ops/addcmul.h>
#include <ATen/ops/argsort.h>
#include <ATen/ops/bernoulli.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/div.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/eq.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/gt.h>
#include <ATen/ops/index_put.h>
#include <ATen/ops/linalg_vector_norm.h>
#include <ATen/ops/lt.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/rsub.h>
#include <ATen/ops/sign.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/TensorIndexing.h>
#include <ATen/TensorOperators.h>

#include <algorithm>

#include "core/util/error.h"

namespace lathe::merge {

namespace {

using at::indexing::Slice;

// mergekit works in float32 unless the inputs are float64.
at::ScalarType work_dtype(const at::Tensor& t) { return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

at::Tensor coefficients(const std::vector<double>& values, at::ScalarType dtype) {
    // torch.tensor(python floats, dtype=...) rounds each double to the dtype once.
    at::Tensor t = at::empty({static_cast<int64_t>(values.size())}, at::TensorOptions().dtype(at::kDouble));
    for (size_t i = 0; i < values.size(); ++i) t[static_cast<int64_t>(i)] = values[i];
    return t.to(dtype);
}

// sparsify.py's rescaled_masked_tensor with RescaleNorm.l1 (or none).
at::Tensor rescaled_masked(const at::Tensor& tensor, const at::Tensor& mask, bool rescale) {
    at::Tensor masked = tensor * mask;
    if (!rescale) return masked;
    const double eps = 1e-7;
    at::Tensor before = tensor.abs().sum();
    at::Tensor after = masked.abs().sum();
    if ((before < eps).item<bool>() || (after < eps).item<bool>()) return masked;
    return masked * (before / after);
}

}  // namespace

at::Tensor linear_merge(const std::vector<at::Tensor>& inputs, const std::vector<double>& weights, bool normalize) {
    LATHE_ASSERT(!inputs.empty() && inputs.size() == weights.size());
    const at::Tensor& first = inputs[0];
    if (!first.is_floating_point()) throw Error("linear merging needs floating-point tensors");
    const at::ScalarType dtype = work_dtype(first);
    at::Tensor w = coefficients(weights, dtype);
    const std::vector<int64_t> ones(static_cast<size_t>(std::max<int64_t>(first.dim(), 1)), 1);
    at::Tensor result = at::zeros_like(first, at::TensorOptions().dtype(dtype));
    for (size_t i = 0; i < inputs.size(); ++i) result.addcmul_(inputs[i], w[static_cast<int64_t>(i)].reshape(ones));
    if (normalize) result.div_(w.sum().reshape(ones));
    return result.to(first.scalar_type());
}

at::Tensor slerp(double t_value, const at::Tensor& v0, const at::Tensor& v1, double dot_threshold, double eps) {
    if (!v0.is_floating_point()) throw Error("SLERP needs floating-point tensors");
    const at::ScalarType dtype = work_dtype(v0);
    at::Tensor a = v0.reshape({1, -1});
    at::Tensor b = v1.reshape({1, -1});
    at::Tensor t = coefficients({t_value}, dtype).reshape({-1, 1});
    if (a.size(1) == 0) return (at::rsub(t, 1) * a + t * b).reshape(v0.sizes()).to(v0.scalar_type());

    // mergekit bounds its float32 scratch to 2^20 elements per chunk (per tensor of its batch).
    const int64_t chunk = int64_t{1} << 20;
    const int64_t n = a.size(1);
    std::vector<at::Tensor> norm_a_parts, norm_b_parts;
    for (int64_t start = 0; start < n; start += chunk) {
        at::Tensor x = a.index({Slice(), Slice(start, start + chunk)}).to(dtype);
        at::Tensor y = b.index({Slice(), Slice(start, start + chunk)}).to(dtype);
        norm_a_parts.push_back(at::linalg_vector_norm(x, 2, at::IntArrayRef{1}, true));
        norm_b_parts.push_back(at::linalg_vector_norm(y, 2, at::IntArrayRef{1}, true));
    }
    at::Tensor norm_a = at::linalg_vector_norm(at::stack(norm_a_parts), 2, at::IntArrayRef{0}, false);
    at::Tensor norm_b = at::linalg_vector_norm(at::stack(norm_b_parts), 2, at::IntArrayRef{0}, false);
    norm_a = at::where(norm_a > eps, norm_a, 1);
    norm_b = at::where(norm_b > eps, norm_b, 1);
    std::vector<at::Tensor> dot_parts;
    for (int64_t start = 0; start < n; start += chunk) {
        // Normalize before multiplying so the raw dot product cannot overflow.
        at::Tensor x = a.index({Slice(), Slice(start, start + chunk)}).to(dtype) / norm_a;
        at::Tensor y = b.index({Slice(), Slice(start, start + chunk)}).to(dtype) / norm_b;
        dot_parts.push_back((x * y).sum(at::IntArrayRef{1}, true));
    }
    at::Tensor dot = at::stack(dot_parts).sum(at::IntArrayRef{0}).clamp(-1, 1);
    at::Tensor linear = dot.abs() > dot_threshold;
    at::Tensor theta = at::acos(at::where(linear, 0, dot));
    at::Tensor sin_theta = at::sin(theta);
    at::Tensor coef_a = at::where(linear, at::rsub(t, 1), at::sin(at::rsub(t, 1) * theta) / sin_theta);
    at::Tensor coef_b = at::where(linear, t, at::sin(t * theta) / sin_theta);

    at::Tensor result = at::empty_like(a);
    for (int64_t start = 0; start < n; start += chunk) {
        at::Tensor x = a.index({Slice(), Slice(start, start + chunk)}).to(dtype);
        at::Tensor y = b.index({Slice(), Slice(start, start + chunk)}).to(dtype);
        result.index_put_({Slice(), Slice(start, start + chunk)}, coef_a * x + coef_b * y);
    }
    return result.reshape(v0.sizes());
}

at::Tensor sparsify_magnitude(const at::Tensor& tensor, double density, bool rescale) {
    if (density >= 1) return tensor;
    if (density <= 0 || tensor.numel() == 0) return at::zeros_like(tensor);
    const int64_t numel = tensor.numel();
    const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(density * static_cast<double>(numel)));
    at::Tensor mask = at::zeros({numel}, tensor.options());
    at::Tensor w = tensor.abs().reshape({-1});
    if (w.device().is_cpu()) w = w.to(at::kFloat);
    at::Tensor top = at::argsort(w, -1, /*descending=*/true).index({Slice(0, k)});
    mask.index_put_({top}, 1);
    return rescaled_masked(tensor, mask.reshape_as(tensor), rescale);
}

at::Tensor sparsify_magnitude_outliers(const at::Tensor& tensor, double density, double gamma, bool rescale) {
    if (density >= 1) return tensor;
    const int64_t numel = tensor.numel();
    const int64_t target = static_cast<int64_t>(density * static_cast<double>(numel));
    const int64_t n_top = static_cast<int64_t>(gamma * static_cast<double>(numel));
    // Fewer outliers go when removing them all would leave less than the density asks for.
    const int64_t n_bottom = std::max<int64_t>(0, numel - target - n_top);
    at::Tensor w = tensor.abs().reshape({-1});
    if (w.device().is_cpu()) w = w.to(at::kFloat);
    at::Tensor indices = std::get<1>(at::sort(w, -1, /*descending=*/false));
    at::Tensor mask = at::zeros({numel}, tensor.options());
    mask.index_put_({indices.index({Slice(n_bottom, n_bottom + target)})}, 1);
    return rescaled_masked(tensor, mask.reshape_as(tensor), rescale);
}

at::Tensor sparsify_random(const at::Tensor& tensor, double density, bool rescale, std::optional<at::Generator> generator) {
    if (density >= 1) return tensor;
    // torch.bernoulli has no float16 CPU kernel: mergekit draws in float32 there.
    const at::ScalarType work = (!tensor.device().is_cpu() || tensor.scalar_type() == at::kBFloat16) ? tensor.scalar_type() : at::kFloat;
    at::Tensor mask = at::bernoulli(at::full_like(tensor, density, at::TensorOptions().dtype(work)), generator);
    return rescaled_masked(tensor.to(work), mask, rescale).to(tensor.scalar_type());
}

at::Tensor task_arithmetic_merge(const at::Tensor& base, const std::vector<TaskVectorInput>& inputs,
                                 const TaskArithmeticOptions& options, std::optional<at::Generator> generator) {
    if (inputs.empty()) return base;
    std::vector<int64_t> shape = {static_cast<int64_t>(inputs.size())};
    for (int64_t d : base.sizes()) shape.push_back(d);
    at::Tensor deltas = at::empty(shape, base.options());
    std::vector<double> weight_values;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const TaskVectorInput& in = inputs[i];
        at::Tensor delta = in.tensor - base;
        switch (options.sparsification) {
            case Sparsification::None: break;
            case Sparsification::Magnitude: delta = sparsify_magnitude(delta, in.density, options.rescale); break;
            case Sparsification::MagnitudeOutliers:
                delta = sparsify_magnitude_outliers(delta, in.density, in.gamma, options.rescale);
                break;
            case Sparsification::Random: delta = sparsify_random(delta, in.density, options.rescale, generator); break;
        }
        deltas[static_cast<int64_t>(i)].copy_(delta);
        weight_values.push_back(in.weight);
    }
    at::Tensor weights = coefficients(weight_values, deltas.scalar_type());
    while (weights.dim() < deltas.dim()) weights = weights.unsqueeze(-1);
    deltas.mul_(weights);

    at::Tensor mixed, divisor;
    if (options.consensus == Consensus::Sum) {
        // TIES: each element keeps the task vectors whose sign agrees with the sign of their sum.
        at::Tensor sign = deltas.sign();
        at::Tensor majority = (deltas.sum(at::IntArrayRef{0}) >= 0).to(deltas.scalar_type()) * 2 - 1;
        at::Tensor mask = sign == majority;
        mixed = (deltas * mask).sum(at::IntArrayRef{0});
        divisor = (weights * mask).sum(at::IntArrayRef{0});
        divisor.index_put_({divisor == 0}, 1);
    } else {
        mixed = deltas.sum(at::IntArrayRef{0});
        divisor = weights.sum(at::IntArrayRef{0});
        divisor.index_put_({divisor.abs() < 1e-8}, 1);
    }
    if (options.normalize) mixed.div_(divisor);
    if (options.lambda != 1) mixed.mul_(options.lambda);
    return (base + mixed).to(base.scalar_type());
}

}  // namespace lathe::merge
