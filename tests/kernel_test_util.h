// What both kernel test files need to compare a fused op with its composite: a forward + backward on
// fresh leaves, and an error relative to the reference's scale.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <functional>
#include <vector>

namespace lathe::kernels::test {

// Largest |a - b| over the largest |b| (both in float64), or over `floor` where that is larger: a result
// that cancels to near zero (RMSNorm's dx at D = 1) is judged against the size of the terms that cancelled.
inline double relative_error(const at::Tensor& a, const at::Tensor& b, double floor = 0) {
    at::Tensor a64 = a.to(at::kDouble).cpu(), b64 = b.to(at::kDouble).cpu();
    const double scale = std::max({b64.abs().max().item<double>(), floor, 1e-12});
    return (a64 - b64).abs().max().item<double>() / scale;
}

// t's values rounded to dtype, kept in float32: the reduced-precision run and the float64 reference
// then start from the same numbers.
inline at::Tensor rounded(const at::Tensor& t, at::ScalarType dtype) { return t.to(dtype).to(at::kFloat); }

// Runs f on fresh leaf copies of `inputs` (those marked in `grad` require it), backpropagates `dy`, and
// returns the output followed by each input's gradient (undefined where none).
inline std::vector<at::Tensor> run(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f,
                                   const std::vector<at::Tensor>& inputs, const std::vector<bool>& grad, const at::Tensor& dy) {
    std::vector<at::Tensor> leaves;
    for (size_t i = 0; i < inputs.size(); ++i) leaves.push_back(inputs[i].detach().clone().requires_grad_(grad[i]));
    at::Tensor y = f(leaves);
    y.backward(dy);
    std::vector<at::Tensor> out{y.detach()};
    for (auto& leaf : leaves) out.push_back(leaf.grad());
    return out;
}

}  // namespace lathe::kernels::test
