#include "core/models/linear_4bit.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <torch/csrc/autograd/custom_function.h>

namespace lathe {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The 4-bit weight, owned by the autograd context until backward has run (shared with the layer: no copy).
struct Saved4bitWeight : torch::CustomClassHolder {
    explicit Saved4bitWeight(std::shared_ptr<const quant::Bnb4bitTensor> w) : weight(std::move(w)) {}
    std::shared_ptr<const quant::Bnb4bitTensor> weight;
};

// Dequantized in its original dtype, then cast: what bitsandbytes does (dequantize_4bit(B, state).to(A.dtype)).
at::Tensor dense(const quant::Bnb4bitTensor& w, at::ScalarType dtype) {
    at::Tensor full = quant::dequantize_4bit(w.packed, w.state);
    return full.scalar_type() == dtype ? full : full.to(dtype);
}

class Linear4bitFunction : public torch::autograd::Function<Linear4bitFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, c10::IValue weight) {
        auto w = c10::static_intrusive_pointer_cast<Saved4bitWeight>(weight.toCapsule());
        ctx->saved_data["weight"] = weight;
        return at::linear(x, dense(*w->weight, x.scalar_type()));
    }

    static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
        auto w = c10::static_intrusive_pointer_cast<Saved4bitWeight>(ctx->saved_data["weight"].toCapsule());
        const at::Tensor& grad = grad_outputs[0];
        return {at::matmul(grad, dense(*w->weight, grad.scalar_type())), at::Tensor()};
    }
};

}  // namespace

at::Tensor linear_4bit(const at::Tensor& x, const std::shared_ptr<const quant::Bnb4bitTensor>& weight) {
    if (!at::GradMode::is_enabled() || !x.requires_grad()) return at::linear(x, dense(*weight, x.scalar_type()));
    return Linear4bitFunction::apply(x, c10::IValue::make_capsule(c10::make_intrusive<Saved4bitWeight>(weight)));
}

}  // namespace lathe
