#include "core/train/preference_training.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/data/mix.h"
#include "core/data/preference_cache.h"
#include "core/models/decoder_lm.h"
#include "core/train/gradient_sync.h"
#include "core/train/preference_step.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

// Every entry of a dataset list, from the tokenized-dataset cache or tokenized (and cached), mixed by weight
// (as supervised runs mix theirs). Each entry's cache key goes to `keys`.
std::vector<data::PreferencePair> load_pairs(const std::vector<DatasetSpec>& specs, const TrainConfig& c, const data::PreferenceTokenizeOptions& to,
                                             std::vector<WarningEvent>& warnings, nlohmann::json& fingerprints, std::vector<std::string>& keys) {
    const std::string cache_dir = data::default_token_cache_dir(c.dataset_prepared_path);
    std::vector<std::vector<data::PreferencePair>> sources;
    std::vector<data::MixSource> mix;
    for (const auto& spec : specs) {
        data::PreferenceFormat format;
        format.type = spec.type;
        if (!spec.field_messages.empty()) format.field_messages = spec.field_messages;
        if (!spec.field_chosen.empty()) format.field_chosen = spec.field_chosen;
        if (!spec.field_rejected.empty()) format.field_rejected = spec.field_rejected;
        format.role_key = spec.role_key;
        format.content_key = spec.content_key;
        data::PreparedPairs file = data::prepare_preference_dataset(spec.path, format, c.base_model, to, cache_dir, spec.weight);
        if (c.strict && !file.problems.empty()) throw Error(file.problems.front().to_string() + " (strict: true)");
        fingerprints.push_back(file.fingerprint);
        keys.push_back(file.key.hex);
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
    std::vector<data::PreferencePair> pairs;
    for (const data::RowRef& ref : data::mix_sources(mix, c.seed)) pairs.push_back(sources[ref.source][ref.row]);
    return pairs;
}

// val_set_size: the held-out pairs are the ones a supervised run would hold out of as many rows (the same
// seeded choice, independent of the epoch shuffles); both sides keep their order.
void hold_out(std::vector<data::PreferencePair>& all, double val_set_size, uint64_t seed, std::vector<data::PreferencePair>& validation) {
    size_t n_val = static_cast<size_t>(std::floor(all.size() * val_set_size));
    if (val_set_size > 0 && n_val == 0) n_val = 1;
    if (n_val == 0) return;
    if (n_val >= all.size()) throw Error("val_set_size leaves no training pairs");
    std::vector<size_t> order(all.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(seed ^ 0x5eedULL);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> held(all.size(), false);
    for (size_t i = 0; i < n_val; ++i) held[order[i]] = true;
    std::vector<data::PreferencePair> train;
    for (size_t i = 0; i < all.size(); ++i) (held[i] ? validation : train).push_back(std::move(all[i]));
    all = std::move(train);
}

// What the reference model's numbers depend on in its folder: config.json and the weight files (not the
// tokenizer, whose part is in the pairs' keys, nor anything else kept there).
std::vector<std::string> model_files(const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        auto ends_with = [&](const std::string& suffix) { return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0; };
        if (entry.is_regular_file() && (name == "config.json" || ends_with(".safetensors") || ends_with(".safetensors.index.json") || ends_with(".bin")))
            files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<size_t> indices(size_t first, size_t end) {
    std::vector<size_t> out;
    for (size_t i = first; i < end; ++i) out.push_back(i);
    return out;
}

}  // namespace

std::vector<MetricPoint> preference_metric_points(int64_t step, const PreferenceMetrics& m, const std::string& prefix) {
    std::vector<MetricPoint> out;
    for (auto [name, value] : {std::pair{"rewards/chosen", m.rewards_chosen}, {"rewards/rejected", m.rewards_rejected},
                               {"rewards/margins", m.rewards_margins}, {"rewards/accuracies", m.rewards_accuracies},
                               {"logps/chosen", m.logps_chosen}, {"logps/rejected", m.logps_rejected}})
        out.push_back({step, prefix + name, value});
    return out;
}

PreferenceTraining::PreferenceTraining(const TrainConfig& c, std::vector<WarningEvent>& warnings, nlohmann::json& fingerprints)
    : config_(c), options_(preference_options(c)) {
    data::PreferenceTokenizeOptions to;
    to.pipeline = preference_tokenization(options_);
    to.max_length = c.max_length > 0 ? c.max_length : c.sequence_len;
    to.max_prompt_length = c.max_prompt_length;
    train_.pairs = load_pairs(c.datasets, c, to, warnings, fingerprints, pair_keys_);
    if (train_.pairs.empty())
        throw Error(warnings.empty() ? "the datasets hold no preference pairs" : "the datasets hold no usable preference pairs: " + warnings.front().message);
    if (!c.test_datasets.empty()) {
        validation_.pairs = load_pairs(c.test_datasets, c, to, warnings, fingerprints, pair_keys_);
        if (validation_.pairs.empty())
            throw Error("test_datasets hold no usable preference pairs" + (warnings.empty() ? std::string() : ": " + warnings.back().message));
    } else {
        hold_out(train_.pairs, c.val_set_size, c.seed, validation_.pairs);
    }
}

void PreferenceTraining::precompute_reference(LoadedModel& model, PairSet& set, int64_t batch_size, int64_t pad_id) {
    set.reference_chosen.assign(set.pairs.size(), 0.f);
    set.reference_rejected.assign(set.pairs.size(), 0.f);
    for (size_t first = 0; first < set.pairs.size(); first += static_cast<size_t>(batch_size)) {
        const std::vector<size_t> group = indices(first, std::min(set.pairs.size(), first + static_cast<size_t>(batch_size)));
        at::Tensor sums = completion_log_probs(model, collate(set, group, pad_id)).cpu().contiguous();
        const float* v = sums.data_ptr<float>();
        for (size_t k = 0; k < group.size(); ++k) {
            set.reference_chosen[group[k]] = v[k];
            set.reference_rejected[group[k]] = v[group.size() + k];
        }
    }
}

void PreferenceTraining::prepare(LoadedModel& model, int64_t batch_size, int64_t pad_id, nlohmann::json& fingerprints) {
    model.lm->config.dropout = {};  // TRL's disable_dropout
    const bool precompute = uses_reference(options_) && (config_.precompute_ref_log_probs || !uses_lora(config_));
    if (!precompute) return;
    // Cached with the pairs: keyed by their cache keys and order, the base model's weights and config, and how
    // the reference runs (device, dtype, 4-bit base, batch size).
    const nlohmann::ordered_json settings = {
        {"reference_version", 1}, {"pairs", pair_keys_}, {"seed", config_.seed}, {"val_set_size", config_.val_set_size},
        {"weights", [&] {
             std::vector<double> w;
             for (const auto* list : {&config_.datasets, &config_.test_datasets})
                 for (const auto& d : *list) w.push_back(d.weight);
             return w;
         }()},
        {"batch_size", batch_size}, {"device", model.lm->device().str()}, {"dtype", std::string(c10::toString(model.lm->dtype()))},
        {"adapter", config_.adapter}, {"load_in_4bit", config_.load_in_4bit}, {"bnb_4bit_quant_type", config_.bnb_4bit_quant_type},
        {"bnb_4bit_compute_dtype", config_.bnb_4bit_compute_dtype}};
    const data::TokenCacheKey key = data::make_token_cache_key(model_files(config_.base_model), "", settings);
    const std::string dir = data::default_token_cache_dir(config_.dataset_prepared_path);
    const size_t n_train = train_.pairs.size(), n_val = validation_.pairs.size();
    bool reused = false;
    if (auto cached = data::read_reference_log_probs(dir, key); cached && cached->chosen.size() == n_train + n_val) {
        train_.reference_chosen.assign(cached->chosen.begin(), cached->chosen.begin() + n_train);
        train_.reference_rejected.assign(cached->rejected.begin(), cached->rejected.begin() + n_train);
        validation_.reference_chosen.assign(cached->chosen.begin() + n_train, cached->chosen.end());
        validation_.reference_rejected.assign(cached->rejected.begin() + n_train, cached->rejected.end());
        reused = true;
    } else {
        precompute_reference(model, train_, batch_size, pad_id);
        precompute_reference(model, validation_, batch_size, pad_id);
        data::ReferenceLogProbs all{train_.reference_chosen, train_.reference_rejected};
        all.chosen.insert(all.chosen.end(), validation_.reference_chosen.begin(), validation_.reference_chosen.end());
        all.rejected.insert(all.rejected.end(), validation_.reference_rejected.begin(), validation_.reference_rejected.end());
        data::write_reference_log_probs(dir, key, all);
    }
    fingerprints.push_back({{"reference_log_probs", data::reference_log_probs_path(dir, key)}, {"pairs", n_train + n_val}, {"cache_reused", reused}});
}

Batch PreferenceTraining::collate(const PairSet& set, const std::vector<size_t>& pair_indices, int64_t pad_id) {
    std::vector<const data::PreferencePair*> chosen;
    for (size_t i : pair_indices) chosen.push_back(&set.pairs.at(i));
    return collate_pairs(chosen, pad_id);
}

Batch PreferenceTraining::micro_batch(const std::vector<size_t>& pair_indices, int64_t pad_id) const { return collate(train_, pair_indices, pad_id); }

// DPO's reference sums of a batch [2B]: precomputed, or the model with its adapters off; undefined for
// reference-free methods.
at::Tensor PreferenceTraining::reference_of(LoadedModel& model, const PairSet& set, const std::vector<size_t>& group, const Batch& batch) const {
    if (!uses_reference(options_)) return {};
    if (!set.reference_chosen.empty()) {
        std::vector<float> ref;
        for (size_t i : group) ref.push_back(set.reference_chosen[i]);
        for (size_t i : group) ref.push_back(set.reference_rejected[i]);
        return at::from_blob(ref.data(), {static_cast<int64_t>(ref.size())}, at::kFloat).clone().to(model.lm->device());
    }
    AdaptersOff base(model);
    return completion_log_probs(model, batch);
}

at::Tensor PreferenceTraining::forward_backward(LoadedModel& model, const std::vector<Batch>& micro, const std::vector<std::vector<size_t>>& groups,
                                                int64_t step_micro_batches) {
    // TRL's disable_dropout zeroes every nn.Dropout of the model, PEFT's adapter dropout included.
    for (Linear* layer : model.lm->linears())
        if (layer->lora) layer->lora->dropout = 0.0;
    const c10::Device device = model.lm->device();
    at::Tensor loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor metrics = at::zeros({6}, at::TensorOptions().dtype(at::kDouble).device(device));
    const int64_t n = std::max<int64_t>(step_micro_batches, 1);
    for (size_t m = 0; m < micro.size(); ++m) {
        at::Tensor reference = reference_of(model, train_, groups[m], micro[m]);
        PreferenceLoss step = preference_forward_backward(model, micro[m], reference, options_, n);
        loss = loss + step.loss / static_cast<double>(n);
        metrics = metrics + step.metrics / static_cast<double>(n);
    }
    metrics_ = metrics;
    return loss;
}

at::Tensor PreferenceTraining::sum_over_ranks(GradientSync& sync, const at::Tensor& loss) {
    at::Tensor summed = sync.finish(at::cat({loss.reshape({1}), metrics_}));
    metrics_ = summed.narrow(0, 1, 6);
    return summed.select(0, 0);
}

PreferenceMetrics PreferenceTraining::read_metrics() const {
    at::Tensor m = metrics_.cpu().contiguous();
    const double* v = m.data_ptr<double>();
    return {.rewards_chosen = v[0], .rewards_rejected = v[1], .rewards_margins = v[2], .rewards_accuracies = v[3],
            .logps_chosen = v[4], .logps_rejected = v[5]};
}

PreferenceEvaluation PreferenceTraining::evaluate(LoadedModel& model, int64_t batch_size, int64_t pad_id) const {
    if (validation_.pairs.empty()) throw Error("no validation pairs to evaluate");
    const c10::Device device = model.lm->device();
    at::Tensor weighted_loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor metric_sums = at::zeros({6}, at::TensorOptions().dtype(at::kDouble).device(device));
    int64_t batches = 0;
    const size_t n = validation_.pairs.size();
    for (size_t first = 0; first < n; first += static_cast<size_t>(batch_size)) {
        const std::vector<size_t> group = indices(first, std::min(n, first + static_cast<size_t>(batch_size)));
        const Batch batch = collate(validation_, group, pad_id);
        const PreferenceLoss result = preference_evaluate(model, batch, reference_of(model, validation_, group, batch), options_);
        weighted_loss = weighted_loss + result.loss * static_cast<double>(group.size());
        metric_sums = metric_sums + result.metrics;
        ++batches;
    }
    at::Tensor read = at::cat({(weighted_loss / static_cast<double>(n)).reshape({1}), metric_sums / static_cast<double>(batches)}).cpu().contiguous();
    const double* v = read.data_ptr<double>();
    return {.loss = v[0],
            .metrics = {.rewards_chosen = v[1], .rewards_rejected = v[2], .rewards_margins = v[3], .rewards_accuracies = v[4],
                        .logps_chosen = v[5], .logps_rejected = v[6]}};
}

}  // namespace lathe
