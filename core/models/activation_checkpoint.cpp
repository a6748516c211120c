#include "core/models/activation_checkpoint.h"

#include <ATen/Context.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

namespace lathe {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs to run the block again, owned by the autograd context (freed with the graph,
// whether or not backward runs).
struct Recompute : torch::CustomClassHolder {
    Recompute(std::function<at::Tensor(const at::Tensor&)> f, at::Tensor state, c10::Device d)
        : fn(std::move(f)), rng_state(std::move(state)), rng_device(d) {}
    std::function<at::Tensor(const at::Tensor&)> fn;
    at::Tensor rng_state;  // the generator's state before the first run
    c10::Device rng_device;
};

c10::Device generator_device(const at::Tensor& x) { return x.is_cuda() ? x.device() : c10::Device(c10::kCPU); }

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, c10::IValue recompute) {
        ctx->saved_data["recompute"] = recompute;
        ctx->save_for_backward({x});
        at::NoGradGuard no_grad;  // keep no intermediate tensor
        return c10::static_intrusive_pointer_cast<Recompute>(recompute.toCapsule())->fn(x);
    }

    static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
        auto r = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
        at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
        // Replay with the first run's random state (same dropout masks), then restore the current one.
        at::Generator gen = at::globalContext().defaultGenerator(r->rng_device);
        at::Tensor current;
        {
            std::lock_guard<std::mutex> lock(gen.mutex());
            current = gen.get_state();
            gen.set_state(r->rng_state);
        }
        at::Tensor out;
        {
            at::AutoGradMode grad(true);
            out = r->fn(x);
        }
        {
            std::lock_guard<std::mutex> lock(gen.mutex());
            gen.set_state(current);
        }
        // Reentrant backward through the recomputed block: accumulates into its leaf parameters
        // (adapter weights) and into x.grad.
        torch::autograd::backward({out}, {grad_outputs[0]});
        return {x.grad(), at::Tensor()};
    }
};

}  // namespace

at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& fn, const at::Tensor& x) {
    if (!at::GradMode::is_enabled()) return fn(x);
    // The block's own parameters may need gradients even when its input does not (the first layer of
    // an adapter run): make the input a leaf that asks for one, so backward reaches the block at all.
    at::Tensor input = x.requires_grad() ? x : x.detach().requires_grad_(true);
    at::Generator gen = at::globalContext().defaultGenerator(generator_device(x));
    at::Tensor state;
    {
        std::lock_guard<std::mutex> lock(gen.mutex());
        state = gen.get_state();
    }
    auto recompute = c10::make_intrusive<Recompute>(fn, state, generator_device(x));
    return CheckpointFunction::apply(input, c10::IValue::make_capsule(recompute));
}

}  // namespace lathe
