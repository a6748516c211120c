#include "kernels/linear_cross_entropy.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/full.h>
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
// at::linear result is already a fresh float32 tensor, which may be turned into its gradient in place.
at::Tensor chunk_logits(const at::Tensor& h, const at::Tensor& weight, const at::Tensor& bias) {
    at::Tensor logits = at::linear(h, weight, bias);
    return logits.scalar_type() == at::kFloat ? logits : logits.to(at::kFloat);
}

// Which gradients the caller needs (known before the forward: autograd functions see no requires_grad).
struct Needed {
    bool hidden = false, weight = false, bias = false;
    bool any() const { return hidden || weight || bias; }
};

// The gradients of the inputs, formed chunk by chunk: each chunk's logits become their own gradient, in
// place: softmax - ((1 - e) one_hot + e / V), per row times the loss's factor, zero for ignored rows.
struct ChunkGradients {
    at::Tensor hidden, weight, bias;  // as needed; weight's and bias's are summed over the chunks

    // As autograd takes them: one per forward argument (hidden, weight, bias, then none for the 9 options).
    variable_list for_autograd() const {
        variable_list out(12);
        out[0] = hidden, out[1] = weight, out[2] = bias;
        return out;
    }

    void add(at::Tensor g, const at::Tensor& h, const at::Tensor& weight_in, const at::Tensor& t, const at::Tensor& kept, const at::Tensor& row_lse,
             double label_smoothing, const at::Tensor& factor, int64_t start) {
        const int64_t vocab = weight_in.size(0);
        g.sub_(row_lse.unsqueeze(1)).exp_();
        if (label_smoothing > 0) g.sub_(label_smoothing / static_cast<double>(vocab));
        g.scatter_add_(1, t.masked_fill(~kept, 0).unsqueeze(1), kept.to(at::kFloat).mul_(label_smoothing - 1.0).unsqueeze(1));
        g.mul_((kept.to(at::kFloat) * factor).unsqueeze(1));
        // The composite's gradient reaches the linear layer in the model's dtype (through .to(kFloat)).
        at::Tensor g_model = g.scalar_type() == weight_in.scalar_type() ? g : g.to(weight_in.scalar_type());
        if (hidden.defined()) {
            at::Tensor out = hidden.narrow(0, start, h.size(0));
            at::mm_out(out, g_model, weight_in);
        }
        if (weight.defined()) weight.addmm_(g_model.t(), h);
        if (bias.defined()) bias += g_model.sum(0).to(at::kFloat);
    }

    static ChunkGradients allocate(const Needed& needed, const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias) {
        ChunkGradients g;
        if (needed.hidden) g.hidden = at::empty_like(hidden);
        if (needed.weight) g.weight = at::zeros_like(weight);
        if (needed.bias) g.bias = at::zeros({weight.size(0)}, bias.options().dtype(at::kFloat));
        return g;
    }
};

struct LinearCrossEntropyFunction : public torch::autograd::Function<LinearCrossEntropyFunction> {
    // bias: [V], or an empty placeholder when the layer has none (autograd functions take no undefined inputs).
    // need_*: which gradients to form in the forward (gradients_in_forward), or none.
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& bias_or_empty,
                              const at::Tensor& targets, int64_t ignore_index, double label_smoothing, bool mean, double divisor,
                              int64_t chunk_rows, bool need_hidden, bool need_weight, bool need_bias) {
        const int64_t n = hidden.size(0), vocab = weight.size(0);
        const at::Tensor bias = bias_or_empty.numel() > 0 ? bias_or_empty : at::Tensor();
        const at::TensorOptions f32 = hidden.options().dtype(at::kFloat);
        const Needed in_forward{.hidden = need_hidden, .weight = need_weight, .bias = need_bias && bias.defined()};
        // The divisor, known before the chunks when their gradients are formed as they go.
        at::Tensor denominator = mean ? (targets != ignore_index).sum().to(at::kDouble) * divisor : at::full({}, divisor, f32.dtype(at::kDouble));
        ChunkGradients grads = ChunkGradients::allocate(in_forward, hidden, weight, bias);
        // d loss / d (each row's summed cross-entropy) for a loss gradient of 1: backward scales by the real one.
        const at::Tensor factor = in_forward.any() ? (1.0 / denominator).to(at::kFloat) : at::Tensor();
        at::Tensor lse = in_forward.any() ? at::Tensor() : at::empty({n}, f32);
        at::Tensor total = at::zeros({}, f32.dtype(at::kDouble));
        for (int64_t start = 0; start < n; start += chunk_rows) {
            const int64_t rows = std::min(chunk_rows, n - start);
            at::Tensor h = hidden.narrow(0, start, rows);
            at::Tensor logits = chunk_logits(h, weight, bias);
            at::Tensor t = targets.narrow(0, start, rows);
            at::Tensor kept = t != ignore_index;
            at::Tensor row_lse = at::logsumexp(logits, {1});
            at::Tensor picked = logits.gather(1, t.masked_fill(~kept, 0).unsqueeze(1)).squeeze(1);
            at::Tensor loss = row_lse - picked;  // -log softmax at the target
            if (label_smoothing > 0) {
                // -mean over classes of log softmax = logsumexp - mean of the logits
                loss = loss * (1.0 - label_smoothing) + (row_lse - logits.sum(1) / static_cast<double>(vocab)) * label_smoothing;
            }
            total += loss.masked_fill(~kept, 0).sum().to(at::kDouble);
            if (in_forward.any()) {
                grads.add(std::move(logits), h, weight, t, kept, row_lse, label_smoothing, factor, start);
            } else {
                lse.narrow(0, start, rows).copy_(row_lse);
            }
        }
        if (in_forward.any()) {
            if (grads.bias.defined()) grads.bias = grads.bias.to(bias.scalar_type());
            ctx->saved_data["gradients_taken"] = false;
            ctx->saved_data["grad_hidden"] = grads.hidden;
            ctx->saved_data["grad_weight"] = grads.weight;
            ctx->saved_data["grad_bias"] = grads.bias;
        } else {
            ctx->save_for_backward({hidden, weight, bias, targets, lse, denominator});
            ctx->saved_data["ignore_index"] = ignore_index;
            ctx->saved_data["label_smoothing"] = label_smoothing;
            ctx->saved_data["chunk_rows"] = chunk_rows;
        }
        return (total / denominator).to(at::kFloat);
    }

    static variable_list backward(AutogradContext* ctx, variable_list grads) {
        if (ctx->saved_data.count("gradients_taken") > 0) return scaled_forward_gradients(ctx, grads[0]);
        auto saved = ctx->get_saved_variables();
        const at::Tensor &hidden = saved[0], &weight = saved[1], &targets = saved[3], &lse = saved[4], &denominator = saved[5];
        const at::Tensor bias = saved[2].numel() > 0 ? saved[2] : at::Tensor();
        const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
        const double label_smoothing = ctx->saved_data["label_smoothing"].toDouble();
        const int64_t chunk_rows = ctx->saved_data["chunk_rows"].toInt();
        const Needed needed{.hidden = ctx->needs_input_grad(0), .weight = ctx->needs_input_grad(1), .bias = bias.defined() && ctx->needs_input_grad(2)};
        const int64_t n = hidden.size(0);
        // d loss / d (each row's summed cross-entropy), a device scalar: no read back to the host.
        const at::Tensor factor = (grads[0].to(at::kDouble) / denominator).to(at::kFloat);
        ChunkGradients out = ChunkGradients::allocate(needed, hidden, weight, bias);
        for (int64_t start = 0; needed.any() && start < n; start += chunk_rows) {
            const int64_t rows = std::min(chunk_rows, n - start);
            at::Tensor h = hidden.narrow(0, start, rows);
            at::Tensor t = targets.narrow(0, start, rows);
            out.add(chunk_logits(h, weight, bias), h, weight, t, t != ignore_index, lse.narrow(0, start, rows), label_smoothing, factor, start);
        }
        if (out.bias.defined()) out.bias = out.bias.to(bias.scalar_type());
        return out.for_autograd();
    }

    // The gradients the forward formed for a loss gradient of 1, times the real one, handed over once:
    // they are moved out, so their memory goes with them.
    static variable_list scaled_forward_gradients(AutogradContext* ctx, const at::Tensor& grad_loss) {
        TORCH_CHECK(!ctx->saved_data["gradients_taken"].toBool(),
                    "linear_cross_entropy: with gradients_in_forward the loss can be differentiated once only");
        ctx->saved_data["gradients_taken"] = true;
        auto take = [&](const char* key) {
            at::Tensor g = ctx->saved_data[key].toTensor();
            ctx->saved_data[key] = at::Tensor();
            if (g.defined()) g.mul_(grad_loss.to(at::kFloat));
            return g;
        };
        return ChunkGradients{.hidden = take("grad_hidden"), .weight = take("grad_weight"), .bias = take("grad_bias")}.for_autograd();
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
    const bool in_forward = options.gradients_in_forward && at::GradMode::is_enabled();
    return LinearCrossEntropyFunction::apply(hidden, weight, bias_or_empty, targets, options.ignore_index, options.label_smoothing, options.mean,
                                             options.divisor, options.chunk_rows, in_forward && hidden.requires_grad(),
                                             in_forward && weight.requires_grad(), in_forward && bias.defined() && bias.requires_grad());
}

}  // namespace lathe::kernels
