// AdamW and gradient clipping against PyTorch's own numbers (tests/interop/make_optimizer_references.py:
// torch.optim.AdamW in its default, foreach and fused forms; torch.nn.utils.clip_grad_norm_).
#include <gtest/gtest.h>

#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/tensor.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/train/adamw.h"
#include "core/train/grad_clip.h"
#include "core/util/json_file.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

using nlohmann::json;

at::Tensor float_tensor(const json& values, const json& shape) {
    return at::tensor(values.get<std::vector<double>>(), at::kDouble).to(at::kFloat).reshape(shape.get<std::vector<int64_t>>());
}

// max |a - b| over max |b|: the tolerance the issue sets for AdamW is 1e-6 of this.
double relative(const at::Tensor& a, const at::Tensor& b) {
    return test::max_abs_diff(a, b) / std::max(1e-30, b.abs().max().item<double>());
}

std::string optimizer_refs() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir ? std::string(dir) + "/optimizer" : "";
}

struct OptimizerRun {
    std::vector<ParamGroup> groups;
    std::unique_ptr<AdamW> optimizer;
};

OptimizerRun make_run(const json& ref, AdamWKernel kernel, c10::Device device = c10::kCPU) {
    OptimizerRun run;
    for (size_t g = 0; g < ref["groups"].size(); ++g) {
        const json& group = ref["groups"][g];
        // step(1.0) below: each group's lr_scale is its learning rate.
        ParamGroup pg{.name = "g" + std::to_string(g), .params = {}, .lr_scale = group["lr"], .weight_decay = group["weight_decay"]};
        for (const auto& p : group["params"]) pg.params.push_back(float_tensor(p["init"], p["shape"]).to(device).requires_grad_(true));
        run.groups.push_back(pg);
    }
    run.optimizer = std::make_unique<AdamW>(run.groups, AdamWOptions{.beta1 = ref["betas"][0], .beta2 = ref["betas"][1], .eps = ref["eps"], .kernel = kernel});
    return run;
}

void take_step(OptimizerRun& run, const json& ref, int step) {
    for (size_t g = 0; g < run.groups.size(); ++g)
        for (size_t i = 0; i < run.groups[g].params.size(); ++i) {
            const json& p = ref["groups"][g]["params"][i];
            run.groups[g].params[i].mutable_grad() = float_tensor(p["grads"][step], p["shape"]).to(run.groups[g].params[i].device());
        }
    run.optimizer->step(1.0);
    run.optimizer->zero_grad();
}

TEST(AdamW, MatchesTorchOptimAdamW) {
    if (optimizer_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const json ref = read_json_file(optimizer_refs() + "/adamw.json");
    for (AdamWKernel kernel : {AdamWKernel::Foreach, AdamWKernel::Fused}) {
        const char* ours = kernel == AdamWKernel::Foreach ? "foreach" : "fused";
        OptimizerRun run = make_run(ref, kernel);
        for (int s = 0; s < ref["steps"].get<int>(); ++s) take_step(run, ref, s);
        auto state = run.optimizer->state();
        size_t k = 0;
        for (size_t g = 0; g < run.groups.size(); ++g)
            for (size_t i = 0; i < run.groups[g].params.size(); ++i, k += 2) {
                const json& p = ref["groups"][g]["params"][i];
                // Against torch's default (the CPU's single-tensor path) and against the same form in torch.
                for (const char* theirs : {"default", ours}) {
                    const json& fin = p["final"][theirs];
                    SCOPED_TRACE(std::string(ours) + " vs torch " + theirs + ", group " + std::to_string(g) + " param " + std::to_string(i));
                    EXPECT_LE(relative(run.groups[g].params[i], float_tensor(fin["param"], p["shape"])), 1e-6);
                    EXPECT_LE(relative(state[k].second, float_tensor(fin["exp_avg"], p["shape"])), 1e-6);
                    EXPECT_LE(relative(state[k + 1].second, float_tensor(fin["exp_avg_sq"], p["shape"])), 1e-6);
                }
            }
    }
}

TEST(AdamW, StateRoundTripContinuesBitForBit) {
    // What a checkpoint keeps (state() and the step count) must carry a run on exactly, for both kernels.
    if (optimizer_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const json ref = read_json_file(optimizer_refs() + "/adamw.json");
    for (AdamWKernel kernel : {AdamWKernel::Foreach, AdamWKernel::Fused}) {
        OptimizerRun whole = make_run(ref, kernel), first = make_run(ref, kernel);
        for (int s = 0; s < 4; ++s) take_step(whole, ref, s);
        for (int s = 0; s < 2; ++s) take_step(first, ref, s);
        OptimizerRun resumed = make_run(ref, kernel);
        {
            at::NoGradGuard no_grad;
            for (size_t g = 0; g < first.groups.size(); ++g)
                for (size_t i = 0; i < first.groups[g].params.size(); ++i) resumed.groups[g].params[i].copy_(first.groups[g].params[i]);
        }
        std::map<std::string, at::Tensor> saved;
        for (auto& [name, t] : first.optimizer->state()) saved[name] = t.clone();
        resumed.optimizer->load_state(saved, first.optimizer->steps_taken());
        for (int s = 2; s < 4; ++s) take_step(resumed, ref, s);
        for (size_t g = 0; g < whole.groups.size(); ++g)
            for (size_t i = 0; i < whole.groups[g].params.size(); ++i)
                EXPECT_TRUE(resumed.groups[g].params[i].equal(whole.groups[g].params[i])) << static_cast<int>(kernel) << " " << g << "." << i;
    }
}

TEST(AdamW, FusedOnAGpuMatchesTorch) {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA GPU";
    if (optimizer_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const json ref = read_json_file(optimizer_refs() + "/adamw.json");
    for (AdamWKernel kernel : {AdamWKernel::Auto, AdamWKernel::Foreach}) {
        OptimizerRun run = make_run(ref, kernel, c10::Device("cuda"));
        EXPECT_EQ(run.optimizer->kernel(), kernel == AdamWKernel::Auto ? AdamWKernel::Fused : AdamWKernel::Foreach);
        for (int s = 0; s < ref["steps"].get<int>(); ++s) take_step(run, ref, s);
        for (size_t g = 0; g < run.groups.size(); ++g)
            for (size_t i = 0; i < run.groups[g].params.size(); ++i) {
                const json& p = ref["groups"][g]["params"][i];
                EXPECT_LE(relative(run.groups[g].params[i].cpu(), float_tensor(p["final"]["default"]["param"], p["shape"])), 1e-6) << g << "." << i;
            }
    }
}

TEST(AdamW, AutoIsForeachOnTheCpu) {
    ParamGroup g{.name = "g", .params = {at::tensor(std::vector<float>{1.0f}).requires_grad_(true)}, .lr_scale = 1.0, .weight_decay = 0.0};
    EXPECT_EQ(AdamW({g}, AdamWOptions{}).kernel(), AdamWKernel::Foreach);
    EXPECT_EQ(AdamW({g}, AdamWOptions{.kernel = AdamWKernel::Fused}).kernel(), AdamWKernel::Fused);
}

TEST(GradClip, MatchesTorchClipGradNorm) {
    if (optimizer_refs().empty()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which makes the references";
    const json ref = read_json_file(optimizer_refs() + "/clip.json");
    for (const auto& c : ref["cases"]) {
        std::vector<at::Tensor> params;
        for (const auto& g : c["grads"]) {
            at::Tensor p = at::zeros(g["shape"].get<std::vector<int64_t>>()).requires_grad_(true);
            p.mutable_grad() = float_tensor(g["values"], g["shape"]);
            params.push_back(p);
        }
        at::Tensor total = clip_grad_norm(params, ref["max_norm"]);
        EXPECT_NEAR(total.item<double>(), c["total_norm"].get<double>(), 1e-6 * c["total_norm"].get<double>());
        for (size_t i = 0; i < params.size(); ++i)
            EXPECT_LE(relative(params[i].grad(), float_tensor(c["clipped"][i], c["grads"][i]["shape"])), 1e-6) << i;
    }
    EXPECT_FALSE(clip_grad_norm({at::zeros({2}).requires_grad_(true)}, 1.0).defined());  // no gradient, no norm
}

}  // namespace
}  // namespace lathe
