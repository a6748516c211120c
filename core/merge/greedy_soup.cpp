#include "core/merge/greedy_soup.h"

#include <ATen/core/grad_mode.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "core/merge/merge_config.h"
#include "core/merge/merge_model.h"
#include "core/models/loader.h"
#include "core/train/probes.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace lathe::merge {

namespace fs = std::filesystem;

namespace {

// Candidate soups are written here (beside the output, so they are on its disk) and removed.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& output) {
        const fs::path out = fs::absolute(output);
        path_ = (out.parent_path() / ("." + out.filename().string() + ".soup-" + std::to_string(::getpid()))).string();
    }
    ~ScratchDir() {
        std::error_code ec;
        remove_tree(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    std::string sub(const std::string& name) const { return (fs::path(path_) / name).string(); }

private:
    std::string path_;
};

// The held-out file rendered exactly as a `probe_datasets` entry of a run on this base.
ProbeSet load_held_out(const SoupOptions& o, const std::string& tokenizer_dir) {
    TrainConfig c;
    c.base_model = tokenizer_dir;
    c.sequence_len = o.sequence_len;
    c.seed = o.seed;
    DatasetSpec spec;
    spec.path = o.held_out;
    spec.type = o.held_out_type;
    c.probe_datasets.push_back(ProbeSpec{.name = "held-out", .dataset = spec, .max_rows = o.max_rows});
    try {
        return std::move(load_probes(c).front());
    } catch (const Error& e) {
        throw e.within("--held-out " + o.held_out);
    }
}

class LossMeter {
public:
    LossMeter(const SoupOptions& o, ProbeSet rows) : rows_({std::move(rows)}), batch_size_(o.batch_size) {
        load_.device = parse_device(o.device);
        if (!o.dtype.empty()) load_.dtype = parse_dtype(o.dtype);
    }
    double loss_of(const std::string& model_dir) const {
        auto model = load_model(model_dir, load_);
        const int64_t pad_id = model->config.pad_token_id.value_or(0);
        return evaluate_probes(*model, rows_, batch_size_, pad_id).front().loss;
    }
    int64_t rows() const { return static_cast<int64_t>(rows_.front().rows.size()); }

private:
    std::vector<ProbeSet> rows_;
    int64_t batch_size_;
    LoadOptions load_;
};

void refuse_existing(const std::string& path, bool force, const char* flag) {
    if (!path.empty() && !force && fs::exists(path)) throw Error(std::string(flag) + " " + path + " exists (--force replaces it)");
}

}  // namespace

std::string uniform_soup_recipe(const std::vector<std::string>& models) {
    std::string text = "merge_method: linear\nmodels:\n";
    for (const auto& m : models) text += "  - model: " + nlohmann::json(m).dump() + "\n    parameters:\n      weight: 1.0\n";
    return text;
}

SoupResult greedy_soup(const SoupOptions& o) {
    at::NoGradGuard no_grad;
    if (o.inputs.empty()) throw Error("greedy soup: no ingredients");
    if (o.output.empty()) throw Error("greedy soup: no output folder");
    for (size_t i = 0; i < o.inputs.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (o.inputs[i] == o.inputs[j]) throw Error("greedy soup: '" + o.inputs[i] + "' is given twice");
    refuse_existing(o.output, o.force, "--output");
    refuse_existing(o.uniform_output, o.force, "--uniform-output");
    const ResolveModel resolve = o.resolve ? o.resolve : [](const std::string& ref) { return ref; };
    auto report = [&](nlohmann::json event) {
        if (o.report) o.report(event);
    };

    // Every check `lathe merge` makes (architecture, shapes, vocabulary), before the first evaluation.
    const std::string all_text = uniform_soup_recipe(o.inputs);
    const MergeConfig all = parse_merge_config(all_text, "uniform soup");
    const MergeInputs opened = open_merge_inputs(all, resolve);
    std::vector<std::string> dirs;
    for (const auto& m : opened.models) dirs.push_back(m.dir);

    const LossMeter meter(o, load_held_out(o, dirs.front()));
    SoupResult result;
    result.held_out_rows = meter.rows();
    const double steps = static_cast<double>(2 * o.inputs.size() + 1);  // ingredients, candidates, uniform
    double done = 0;
    auto progress = [&](const std::string& stage) {
        report({{"event", "progress"}, {"fraction", done / steps}, {"stage", stage}});
        done += 1;
    };

    std::vector<double> losses;
    for (size_t i = 0; i < o.inputs.size(); ++i) {
        progress("ingredient " + o.inputs[i]);
        losses.push_back(meter.loss_of(dirs[i]));
        report({{"event", "ingredient"}, {"input", o.inputs[i]}, {"loss", losses.back()}});
    }
    std::vector<size_t> order(o.inputs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return losses[a] < losses[b]; });

    ScratchDir scratch(o.output);
    auto write_soup = [&](const std::vector<std::string>& members, const std::string& dir, bool force) {
        const std::string text = uniform_soup_recipe(members);
        MergeOptions mo{.output = dir, .force = force, .max_shard_bytes = o.max_shard_bytes, .seed = 0,
                        .recipe_text = text, .resolve = resolve, .progress = [&o](double fraction, const std::string&) {
                            if (fraction < 1.0 && o.between_tensors) o.between_tensors();  // 1.0: already published
                        }};
        merge_models(parse_merge_config(text, "soup"), mo);
    };

    // The best ingredient starts the soup; a soup of one is that model.
    result.kept.push_back(o.inputs[order.front()]);
    result.greedy_loss = losses[order.front()];
    result.ingredients.push_back({.input = o.inputs[order.front()], .loss = losses[order.front()], .kept = true, .soup_loss = std::nullopt});
    report({{"event", "soup_step"}, {"input", o.inputs[order.front()]}, {"soup_loss", result.greedy_loss}, {"kept", true}});
    for (size_t k = 1; k < order.size(); ++k) {
        const size_t i = order[k];
        progress("soup with " + o.inputs[i]);
        std::vector<std::string> members = result.kept;
        members.push_back(o.inputs[i]);
        const std::string dir = scratch.sub("candidate");
        write_soup(members, dir, true);
        const double loss = meter.loss_of(dir);
        const bool keep = loss <= result.greedy_loss;  // "does not rise"
        if (keep) {
            result.kept = members;
            result.greedy_loss = loss;
        }
        result.ingredients.push_back({.input = o.inputs[i], .loss = losses[i], .kept = keep, .soup_loss = loss});
        report({{"event", "soup_step"}, {"input", o.inputs[i]}, {"soup_loss", loss}, {"kept", keep}});
    }

    progress("uniform soup");
    const std::string uniform_dir = o.uniform_output.empty() ? scratch.sub("uniform") : o.uniform_output;
    write_soup(o.inputs, uniform_dir, o.force || o.uniform_output.empty());
    result.uniform_loss = meter.loss_of(uniform_dir);

    progress("writing the greedy soup");
    write_soup(result.kept, o.output, o.force);
    report({{"event", "progress"}, {"fraction", 1.0}, {"stage", "done"}});
    return result;
}

}  // namespace lathe::merge
