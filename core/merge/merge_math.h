// The per-tensor arithmetic of each merge method, written after mergekit 0.1.5's own (merge_methods/
// linear.py, slerp.py, generalized_task_arithmetic.py, sparsify.py) op for op, in the same dtypes and the
// same order, so the results agree with mergekit's to float rounding. One tensor per input at a time.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "core/merge/method_table.h"

namespace lathe::merge {

// sum_i w_i x_i (divided by sum_i w_i when normalize), computed in float32 (float64 for float64 inputs)
// and returned in the first input's dtype.
at::Tensor linear_merge(const std::vector<at::Tensor>& inputs, const std::vector<double>& weights, bool normalize);

// Spherical interpolation from v0 (t = 0) to v1 (t = 1) over the whole tensor, in float32; linear
// interpolation when the two are (anti)colinear (|cos| > dot_threshold). Returns v0's dtype.
at::Tensor slerp(double t, const at::Tensor& v0, const at::Tensor& v1, double dot_threshold = 0.9995, double eps = 1e-8);

struct TaskVectorInput {
    at::Tensor tensor;
    double weight = 0;
    double density = 1;
    double gamma = 0.01;
};

struct TaskArithmeticOptions {
    Consensus consensus = Consensus::None;
    Sparsification sparsification = Sparsification::None;
    bool normalize = false;
    bool rescale = false;  // match the L1 norm of each sparsified task vector to the unsparsified one
    double lambda = 1.0;
};

// base + lambda * combine_i(w_i * sparsify(x_i - base)) in the base's dtype; `generator` draws DARE's
// random drop (Sparsification::Random).
at::Tensor task_arithmetic_merge(const at::Tensor& base, const std::vector<TaskVectorInput>& inputs,
                                 const TaskArithmeticOptions& options, std::optional<at::Generator> generator);

// sparsify.py's methods, exposed for the DARE statistics test.
at::Tensor sparsify_magnitude(const at::Tensor& tensor, double density, bool rescale);
at::Tensor sparsify_magnitude_outliers(const at::Tensor& tensor, double density, double gamma, bool rescale);
at::Tensor sparsify_random(const at::Tensor& tensor, double density, bool rescale, std::optional<at::Generator> generator);

}  // namespace lathe::merge
