#include "kernels/linear_cross_entropy.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/logsumexp.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

namespace lathe::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One chunk's logits as the composite makes them: in the model's dtype, then float32. A float32 model's
// at::linear result is already a fresh float32 tensor, which the backward may overwrite.
at::Tensor chunk_logits(const at::Tensor& h, const at::Tensor& weight, const at::Tensor& bias) {
    at::Tensor logits = at::linear(h, weight, bias);
    return logits.scalar_type() == at::kFloat ? logits : logits.to(at::kFloat);
}

struct LinearCrossEntropyFunction : public torch::autograd::Function<LinearCrossEntropyFunction> {
    // bias: [V], or an empty placeholder when the layer has none (autograd functions take no undefined inputs).
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias_or_empty,
                              const at::Tensor& targets, int64_t ignore_index, double label_smoothing, bool mean, double divisor,
                              int64_t chunk_rows) {
        const int64_t n = hidden.size(0), vocab = weight.size(0);
        const at::Tensor bias = bias_or_empty.numel() > 0 ? bias_or_empty : at::Tensor();
        const at::TensorOptions f32 = hidden.options().dtype(at::kFloat);
        at::Tensor lse = at::empty({n}, f32);
        at::Tensor total = at::zeros({}, f32.dtype(at::kDouble));
        at::Tensor counted = at::zeros({}, f32.dtype(at::kLong));
        for (int64_t start = 0; start < n; start += chunk_rows) {
            const int64_t rows = std::min(chunk_rows, n - start);
            at::Tensor logits = chunk_logits(hidden.narrow(0, start, rows), weight, bias);
            at::Tensor t = targets.narrow(0, start, rows);
            at::Tensor kept = t != ignore_index;
            at::Tensor row_lse = at::logsumexp(logits, {1});
            lse.narrow(0, start, rows).copy_(row_lse);
            at::Tensor picked = logits.gather(1, t.masked_fill(~kept, 0).unsqueeze(1)).squeeze(1);
            at::Tensor loss = row_lse - picked;  // -log softmax at the target
            if (label_smoothing > 0) {
                // -mean over classes of log softmax = logsumexp - mean of the logits
                loss = loss * (1.0 - label_smoothing) + (row_lse - logits.sum(1) / static_cast<double>(vocab)) * label_smoothing;
            }
            total += loss.masked_fill(~kept, 0).sum().to(at::kDouble);
            if (mean) counted += kept.sum();
        }
        at::Tensor denominator = mean ? counted.to(at::kDouble) * divisor : at::full_like(total, divisor);
        ctx->save_for_backward({hidden, weight, bias, targets, lse, denominator});
        ctx->saved_data["ignore_index"] = ignore_index;
        ctx->saved_data["label_smoothing"] = label_smoothing;
        ctx->saved_data["chunk_rows"] = chunk_rows;
        return (total / denominator).to(at::kFloat);
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        auto saved = ctx->get_saved_variables();
        const at::Tensor &hidden = saved[0], &weight = saved[1], &targets = saved[3], &lse = saved[4], &denominator = saved[5];
        const at::Tensor bias = saved[2].numel() > 0 ? saved[2] : at::Tensor();
        const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
        const double label_smoothing = ctx->saved_data["label_smoothing"].toDouble();
        const int64_t chunk_rows = ctx->saved_data["chunk_rows"].toInt();
        const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1),
                   need_bias = bias.defined() && ctx->needs_input_grad(2);
        const int64_t n = hidden.size(0), vocab = weight.size(0);
        // d loss / d (each row's summed cross-entropy), a device scalar: no read back to the host.
        const at::Tensor factor = (grads[0].to(at::kDouble) / denominator).to(at::kFloat);
        at::Tensor grad_hidden = need_hidden ? at::empty_like(hidden) : at::Tensor();
        at::Tensor grad_weight = need_weight ? at::zeros_like(weight) : at::Tensor();
        at::Tensor grad_bias = need_bias ? at::zeros({vocab}, bias.options().dtype(at::kFloat)) : at::Tensor();
        const bool any = need_hidden || need_weight || need_bias;
        for (int64_t start = 0; any && start < n; start += chunk_rows) {
            const int64_t rows = std::min(chunk_rows, n - start);
            at::Tensor h = hidden.narrow(0, start, rows);
            at::Tensor t = targets.narrow(0, start, rows);
            at::Tensor kept = t != ignore_index;
            // The logits become their own gradient, in place: softmax - ((1 - e) one_hot + e / V), per row
            // times the loss's factor, zero for ignored rows.
            at::Tensor g = chunk_logits(h, weight, bias);
            g.sub_(lse.narrow(0, start, rows).unsqueeze(1)).exp_();
            if (label_smoothing > 0) g.sub_(label_smoothing / static_cast<double>(vocab));
            g.scatter_add_(1, t.masked_fill(~kept, 0).unsqueeze(1), kept.to(at::kFloat).mul_(label_smoothing - 1.0).unsqueeze(1));
            g.mul_((kept.to(at::kFloat) * factor).unsqueeze(1));
            // The composite's gradient reaches the linear layer in the model's dtype (through .to(kFloat)).
            at::Tensor g_model = g.scalar_type() == weight.scalar_type() ? g : g.to(weight.scalar_type());
            if (need_hidden) {
                at::Tensor out = grad_hidden.narrow(0, start, rows);
                at::mm_out(out, g_model, weight);
            }
            if (need_weight) grad_weight.addmm_(g_model.t(), h);
            if (need_bias) grad_bias += g_model.sum(0).to(at::kFloat);
        }
        if (need_bias) grad_bias = grad_bias.to(bias.scalar_type());
        return {grad_hidden, grad_weight, grad_bias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

}  // namespace

at::Tensor fused_linear_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& targets,
                                      const LinearCrossEntropyOptions& options) {
    TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && weight.size(1) == hidden.size(1),
                "linear_cross_entropy: hidden [N, H] and weight [V, H] expected, got hidden ", hidden.sizes(), " and weight ", weight.sizes());
    TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), "linear_cross_entropy: bias [V] expected, got ",
                bias.sizes());
    TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0) && targets.scalar_type() == at::kLong,
                "linear_cross_entropy: int64 targets [N] expected, got ", targets.sizes(), " ", targets.scalar_type());
    TORCH_CHECK(at::isFloatingType(hidden.scalar_type()) && hidden.scalar_type() == weight.scalar_type(),
                "linear_cross_entropy: hidden and weight of one floating dtype expected, got ", hidden.scalar_type(), " and ",
                weight.scalar_type());
    TORCH_CHECK(options.chunk_rows >= 1, "linear_cross_entropy: chunk_rows must be at least 1");
    TORCH_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1, "linear_cross_entropy: label_smoothing must be in [0, 1]");
    const at::Tensor bias_or_empty = bias.defined() ? bias : at::empty({0}, weight.options());
    return LinearCrossEntropyFunction::apply(hidden, weight, bias_or_empty, targets, options.ignore_index, options.label_smoothing, options.mean,
                                             options.divisor, options.chunk_rows);
}

}  // namespace lathe::kernels
