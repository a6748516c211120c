#include "core/train/preference_training.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>

#include <filesystem>

#include "core/data/mix.h"
#include "core/models/decoder_lm.h"
#include "core/train/preference_step.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

PreferenceTraining::PreferenceTraining(const TrainConfig& c, std::vector<WarningEvent>& warnings, nlohmann::json& fingerprints)
    : config_(c), options_(preference_options(c)) {
    const TextTokenizer tokenizer = TextTokenizer::load(c.base_model);
    data::PreferenceTokenizeOptions to;
    to.pipeline = preference_tokenization(options_);
    to.max_length = c.max_length > 0 ? c.max_length : c.sequence_len;
    to.max_prompt_length = c.max_prompt_length;
    std::vector<std::vector<data::PreferencePair>> sources;
    std::vector<data::MixSource> mix;
    for (const auto& spec : c.datasets) {
        if (!fs::exists(spec.path)) throw Error(spec.path + ": no such file or folder (datasets[].path)");
        data::PreferenceFormat format;
        format.type = spec.type;
        if (!spec.field_messages.empty()) format.field_messages = spec.field_messages;
        if (!spec.field_chosen.empty()) format.field_chosen = spec.field_chosen;
        if (!spec.field_rejected.empty()) format.field_rejected = spec.field_rejected;
        format.role_key = spec.role_key;
        format.content_key = spec.content_key;
        data::PreferenceFile file = data::read_preference_file(spec.path, tokenizer, to, format);
        if (c.strict && !file.problems.empty()) throw Error(file.problems.front().to_string() + " (strict: true)");
        fingerprints.push_back({{"path", spec.path}, {"type", spec.type.empty() ? "preference" : spec.type}, {"weight", spec.weight}, {"rows", file.pairs.size()},
                                {"skipped", file.problems.size()}, {"bytes", static_cast<int64_t>(fs::is_regular_file(spec.path) ? fs::file_size(spec.path) : 0)}});
        if (!file.problems.empty()) {
            std::vector<std::string> problems;
            for (const auto& p : file.problems) {
                if (problems.size() == 20) break;
                problems.push_back(p.to_string());
            }
            const size_t n = file.problems.size();
            warnings.push_back({.step = 0,
                                .message = spec.path + ": " + std::to_string(n) + " row" + (n > 1 ? "s" : "") + " skipped (first: " +
                                           file.problems.front().to_string() + "); strict: true makes this fatal",
                                .skipped = SkippedRows{.dataset = spec.path, .skipped_rows = static_cast<int64_t>(n), .problems = problems}});
        }
        mix.push_back({file.pairs.size(), spec.weight});
        sources.push_back(std::move(file.pairs));
    }
    for (const data::RowRef& ref : data::mix_sources(mix, c.seed)) pairs_.push_back(sources[ref.source][ref.row]);
    if (pairs_.empty())
        throw Error(warnings.empty() ? "the datasets hold no preference pairs" : "the datasets hold no usable preference pairs: " + warnings.front().message);
}

void PreferenceTraining::prepare(LoadedModel& model, int64_t batch_size, int64_t pad_id) {
    model.lm->config.dropout = {};  // TRL's disable_dropout
    const bool precompute = uses_reference(options_) && (config_.precompute_ref_log_probs || !uses_lora(config_));
    if (!precompute) return;
    reference_chosen_.assign(pairs_.size(), 0.f);
    reference_rejected_.assign(pairs_.size(), 0.f);
    for (size_t first = 0; first < pairs_.size(); first += static_cast<size_t>(batch_size)) {
        std::vector<size_t> group;
        for (size_t i = first; i < std::min(pairs_.size(), first + static_cast<size_t>(batch_size)); ++i) group.push_back(i);
        at::Tensor sums = completion_log_probs(model, micro_batch(group, pad_id)).cpu().contiguous();
        const float* v = sums.data_ptr<float>();
        for (size_t k = 0; k < group.size(); ++k) {
            reference_chosen_[group[k]] = v[k];
            reference_rejected_[group[k]] = v[group.size() + k];
        }
    }
}

Batch PreferenceTraining::micro_batch(const std::vector<size_t>& pair_indices, int64_t pad_id) const {
    std::vector<const data::PreferencePair*> chosen;
    for (size_t i : pair_indices) chosen.push_back(&pairs_.at(i));
    return collate_pairs(chosen, pad_id);
}

at::Tensor PreferenceTraining::forward_backward(LoadedModel& model, const std::vector<Batch>& micro,
                                                const std::vector<std::vector<size_t>>& groups) {
    // TRL's disable_dropout zeroes every nn.Dropout of the model, PEFT's adapter dropout included.
    for (Linear* layer : model.lm->linears())
        if (layer->lora) layer->lora->dropout = 0.0;
    const c10::Device device = model.lm->device();
    at::Tensor loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor metrics = at::zeros({6}, at::TensorOptions().dtype(at::kDouble).device(device));
    const int64_t n = static_cast<int64_t>(micro.size());
    for (size_t m = 0; m < micro.size(); ++m) {
        at::Tensor reference;
        if (uses_reference(options_)) {
            if (!reference_chosen_.empty()) {
                std::vector<float> ref;
                for (size_t i : groups[m]) ref.push_back(reference_chosen_[i]);
                for (size_t i : groups[m]) ref.push_back(reference_rejected_[i]);
                reference = at::from_blob(ref.data(), {static_cast<int64_t>(ref.size())}, at::kFloat).clone().to(device);
            } else {
                AdaptersOff base(model);
                reference = completion_log_probs(model, micro[m]);
            }
        }
        PreferenceLoss step = preference_forward_backward(model, micro[m], reference, options_, n);
        loss = loss + step.loss / static_cast<double>(n);
        metrics = metrics + step.metrics / static_cast<double>(n);
    }
    metrics_ = metrics;
    return loss;
}

PreferenceMetrics PreferenceTraining::read_metrics() const {
    at::Tensor m = metrics_.cpu().contiguous();
    const double* v = m.data_ptr<double>();
    return {.rewards_chosen = v[0], .rewards_rejected = v[1], .rewards_margins = v[2], .rewards_accuracies = v[3],
            .logps_chosen = v[4], .logps_rejected = v[5]};
}

}  // namespace lathe
