#include "core/merge/merge_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/export/model_files.h"
#include "core/export/shards.h"
#include "core/export/staged_output.h"
#include "core/io/tensor_io.h"
#include "core/merge/merge_math.h"
#include "core/merge/shard_stream.h"
#include "core/util/error.h"

namespace lathe::merge {

namespace fs = std::filesystem;

namespace {

DType dtype_named(const std::string& name) {
    if (name == "float32") return DType::F32;
    if (name == "float16") return DType::F16;
    if (name == "bfloat16") return DType::BF16;
    throw Error("dtype '" + name + "' is not float32, float16 or bfloat16");
}

// Every parameter of every tensor, resolved before anything is written.
struct TensorPlan {
    std::string name;
    DType merge_dtype;
    DType out_dtype;
    std::map<std::string, double> shared;
    std::vector<std::map<std::string, double>> per_input;  // by input; only the parameters its scope gives it
};

std::vector<TensorPlan> plan_tensors(const MergeConfig& config, const MergeInputs& in) {
    const MethodSpec& method = *config.method;
    const InputModelFiles& donor = in.models[in.donor];
    std::vector<TensorPlan> plans;
    std::set<std::string> reported;
    std::vector<std::string> problems;
    for (const auto& name : donor.weights.names()) {
        TensorPlan p;
        p.name = name;
        // mergekit's gradient position: layer i of L at i / (L - 1) (1 when there is one layer); the
        // tensors before and after the layers (embeddings, final norm, lm_head) at 0.
        double t = 0;
        if (auto layer = layer_of(name)) t = in.num_layers > 1 ? static_cast<double>(*layer) / static_cast<double>(in.num_layers - 1) : 1.0;
        const DType first = in.models[0].weights.at(name).entry->dtype;
        p.merge_dtype = config.dtype.empty() ? first : dtype_named(config.dtype);
        p.out_dtype = config.out_dtype.empty() ? p.merge_dtype : dtype_named(config.out_dtype);
        p.per_input.resize(in.models.size());
        for (const ParamSpec& spec : method.parameters) {
            if (spec.scope == ParamScope::Shared) {
                auto v = resolve_parameter(spec, {&config.parameters}, name, t);
                if (v) p.shared[spec.name] = *v;
                else if (reported.insert(std::string("shared.") + spec.name).second)
                    problems.push_back(config.source + ": parameters." + spec.name + ": missing (" + method.name + " needs it for tensor '" +
                                       name + "')");
                continue;
            }
            for (size_t i = 0; i < in.models.size(); ++i) {
                if (spec.scope == ParamScope::NonBase && in.base == i) continue;
                auto v = resolve_parameter(spec, {in.models[i].parameters, &config.parameters}, name, t);
                if (v) p.per_input[i][spec.name] = *v;
                else if (reported.insert(std::to_string(i) + "." + spec.name).second)
                    problems.push_back(config.source + ": " + in.models[i].label + ": parameter '" + spec.name + "' is missing for tensor '" +
                                       name + "' (set it in the model's parameters or the top-level parameters)");
            }
        }
        plans.push_back(std::move(p));
    }
    if (!problems.empty()) {
        std::string all;
        for (const auto& line : problems) all += (all.empty() ? "" : "\n") + line;
        throw Error(all);
    }
    return plans;
}

at::Tensor merge_tensor(const MergeConfig& config, const MergeInputs& in, const TensorPlan& p, at::Generator& generator) {
    const at::ScalarType dtype = to_scalar_type(p.merge_dtype);
    std::vector<at::Tensor> x;
    for (const auto& m : in.models) x.push_back(tensor_view(m.weights.at(p.name)).to(dtype));
    const MethodSpec& method = *config.method;
    switch (method.kind) {
        case MethodKind::Linear: {
            std::vector<double> weights;
            for (const auto& params : p.per_input) weights.push_back(params.at("weight"));
            return linear_merge(x, weights, p.shared.at("normalize") != 0);
        }
        case MethodKind::Slerp:
            return slerp(p.shared.at("t"), x[*in.base], x[*in.base == 0 ? 1 : 0]);
        case MethodKind::TaskArithmetic: {
            std::vector<TaskVectorInput> vectors;
            for (size_t i = 0; i < x.size(); ++i) {
                if (i == *in.base) continue;
                const auto& params = p.per_input[i];
                TaskVectorInput v{.tensor = x[i], .weight = params.at("weight"), .density = params.at("density")};
                if (auto g = params.find("gamma"); g != params.end()) v.gamma = g->second;
                vectors.push_back(std::move(v));
            }
            TaskArithmeticOptions options{.consensus = method.consensus,
                                          .sparsification = method.sparsification,
                                          .normalize = p.shared.at("normalize") != 0,
                                          .rescale = p.shared.at("rescale") != 0,
                                          .lambda = p.shared.at("lambda")};
            return task_arithmetic_merge(x[*in.base], vectors, options, generator);
        }
    }
    LATHE_ASSERT(false);
    return {};
}

}  // namespace

MergeResult merge_models(const MergeConfig& config, const MergeOptions& options) {
    at::NoGradGuard no_grad;
    LATHE_ASSERT(config.method);
    ResolveModel resolve = options.resolve ? options.resolve : [](const std::string& ref) { return ref; };
    const MergeInputs in = open_merge_inputs(config, resolve);
    const std::vector<TensorPlan> plans = plan_tensors(config, in);
    const InputModelFiles& donor = in.models[in.donor];

    std::vector<uint64_t> sizes;
    for (const auto& p : plans) {
        const TensorEntry& e = *donor.weights.at(p.name).entry;
        sizes.push_back(static_cast<uint64_t>(e.numel()) * element_size(p.out_dtype));
    }
    const auto shards = plan_shards(sizes, options.max_shard_bytes);

    StagedOutput staged(options.output, options.force);
    at::Generator generator = at::detail::createCPUGenerator(options.seed);
    MergeResult result;
    std::map<std::string, std::string> weight_map;
    std::map<std::string, const TensorPlan*> by_name;
    for (const auto& p : plans) by_name[p.name] = &p;
    for (size_t s = 0; s < shards.size(); ++s) {
        const std::string file = shard_file_name(s, shards.size());
        std::vector<PlannedTensor> planned;
        for (size_t i : shards[s]) planned.push_back({plans[i].name, plans[i].out_dtype, donor.weights.at(plans[i].name).entry->shape});
        ShardStream stream((fs::path(staged.dir()) / file).string(), planned);
        for (const PlannedTensor& pt : stream.order()) {
            const TensorPlan& p = *by_name.at(pt.name);
            if (options.progress) options.progress(static_cast<double>(result.tensors) / static_cast<double>(plans.size()), p.name);
            at::Tensor merged;
            try {
                merged = merge_tensor(config, in, p, generator).to(to_scalar_type(p.out_dtype)).contiguous();
            } catch (const Error& e) {
                throw e.within("tensor '" + p.name + "'");
            }
            stream.append(p.name, merged.data_ptr(), static_cast<size_t>(merged.nbytes()));
            weight_map[p.name] = file;
            result.bytes_written += pt.nbytes();
            result.parameters += merged.numel();
            ++result.tensors;
        }
        stream.commit();
    }
    result.shards = shards.size();
    if (shards.size() > 1) write_shard_index(staged.dir(), weight_map, result.bytes_written, result.parameters);

    const DType config_dtype = !config.out_dtype.empty() ? dtype_named(config.out_dtype)
                               : !config.dtype.empty()   ? dtype_named(config.dtype)
                                                         : stored_dtype(donor.dir);
    write_model_config(donor.dir, staged.dir(), config_dtype);
    write_generation_config(donor.dir, staged.dir());
    copy_tokenizer_files(donor.dir, staged.dir());
    if (!options.recipe_text.empty()) write_text_file(staged.dir(), "mergekit_config.yml", options.recipe_text);
    staged.publish();
    if (options.progress) options.progress(1.0, "done");
    return result;
}

}  // namespace lathe::merge
