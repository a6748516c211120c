#include "kernels/dropout_replay.h"

#include <ATen/Context.h>
#include <ATen/ops/empty_like.h>

#include <mutex>

namespace lathe::kernels {

at::Generator generator_before_draw(c10::Device device) {
    at::Generator generator = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(generator.mutex());
    return generator.clone();
}

at::Tensor draw_dropout_noise(const at::Tensor& x, double dropout, std::optional<at::Generator> generator) {
    return at::empty_like(x).bernoulli_(1.0 - dropout, std::move(generator)).div_(1.0 - dropout);
}

at::Tensor dropout_noise_of(const at::Tensor& keep, const at::Tensor& x, double dropout) {
    return keep.to(x.scalar_type()).div_(1.0 - dropout);
}

}  // namespace lathe::kernels
