#include "core/train/trainer.h"

#include <ATen/Context.h>
#include <ATen/ops/stack.h>
#include <c10/util/Exception.h>
#if defined(LATHE_TORCH_HAS_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define LATHE_TRAIN_CUDA_STATS 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <random>

#include "core/adapters/peft.h"
#include "core/data/mix.h"
#include "core/data/prepare.h"
#include "core/io/tensor_io.h"
#include "core/models/loader.h"
#include "core/train/adamw.h"
#include "core/train/batch.h"
#include "core/train/dataset_rows.h"
#include "core/train/checkpointer.h"
#include "core/train/compute_plan.h"
#include "core/train/data_parallel.h"
#include "core/train/distributed_env.h"
#include "core/train/early_stopping.h"
#include "core/train/events.h"
#include "core/train/grad_clip.h"
#include "core/train/data_parallel_training.h"
#include "core/train/lora.h"
#include "core/train/loss_forecast.h"
#include "core/train/lr_schedule.h"
#include "core/train/preference_training.h"
#include "core/train/probes.h"
#include "core/train/master_weights.h"
#include "core/train/param_groups.h"
#include "core/train/qlora_base.h"
#include "core/train/sgd.h"
#include "core/train/sharded_adamw.h"
#include "core/train/step_plan.h"
#include "core/train/task_evaluation.h"
#include "core/train/train_checkpoint.h"
#include "core/train/text_dataset.h"
#include "core/train/train_step.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Emits one event: a JSON line on the stream (flushed: the GUI reads it live) and a row in the store.
class EventSink {
public:
    EventSink(std::ostream& out, RunStore& store, int64_t run) : out_(out), store_(store), run_(run) {}
    void emit(TrainEvent event) {
        std::string line = to_line({run_, std::move(event)});
        out_ << line << "\n";
        out_.flush();
        store_.add_event(run_, line);
    }
    // In the run store only (what the stream's readers need not see).
    void record(TrainEvent event) { store_.add_event(run_, to_line({run_, std::move(event)})); }

private:
    std::ostream& out_;
    RunStore& store_;
    int64_t run_;
};

// An expected failure whose kind the trainer knows where it happens (a diverged loss).
class TrainFailure : public Error {
public:
    TrainFailure(ErrorKind kind, const std::string& message) : Error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

// Whether a file or folder the config names is absent: then a failure to read the model or the data is
// a missing file, whatever the reader's message says.
bool config_names_missing_path(const TrainConfig& c) {
    std::vector<std::string> paths = {c.base_model};
    if (!c.lora_model_dir.empty()) paths.push_back(c.lora_model_dir);
    for (const auto* list : {&c.datasets, &c.test_datasets})
        for (const auto& d : *list) paths.push_back(d.path);
    for (const auto& probe : c.probe_datasets) paths.push_back(probe.dataset.path);
    std::error_code ec;
    for (const auto& p : paths)
        if (!p.empty() && !fs::exists(p, ec)) return true;
    return false;
}

// GPU memory the caching allocator holds for this process (what other processes cannot use), in GiB;
// < 0 when the device is not a CUDA GPU or LibTorch has no CUDA.
double gpu_memory_gib(const at::Device& device) {
#ifdef LATHE_TRAIN_CUDA_STATS
    if (device.is_cuda()) {
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
        return stats.reserved_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].current / 1073741824.0;
    }
#endif
    (void)device;
    return -1;
}

struct Data {
    std::vector<Example> train, validation;
    std::unique_ptr<PreferenceTraining> preference;  // rl runs: the pairs, instead of train/validation
    json fingerprints = json::array();
    std::vector<WarningEvent> warnings;  // rows skipped per dataset: emitted as warning events once the run starts
};

// Every entry of a dataset list, each rendered (or read from the cache), mixed by weight.
std::vector<Example> load_dataset_list(const std::vector<DatasetSpec>& specs, const TrainConfig& c, Data& d) {
    const data::PrepareOptions po = prepare_options(c);
    std::optional<TextTokenizer> tokenizer;  // raw text is tokenized with the model's own tokenizer
    std::vector<std::vector<Example>> sources;
    std::vector<data::MixSource> mix;
    for (const auto& spec : specs) {
        std::vector<Example> rows;
        if (spec.type == "text") {  // continued pretraining: documents split into sequence_len rows
            if (!tokenizer) tokenizer = TextTokenizer::load(c.base_model);
            rows = read_text_dataset(spec.path, *tokenizer, c.sequence_len);
            d.fingerprints.push_back({{"path", spec.path}, {"type", spec.type}, {"weight", spec.weight}, {"rows", rows.size()},
                                      {"bytes", fs::exists(spec.path) ? static_cast<int64_t>(fs::file_size(spec.path)) : 0}});
        } else {
            data::PreparedDataset prepared = data::prepare_dataset(spec, po);
            rows = examples_of(*prepared.rows);
            d.fingerprints.push_back(prepared.fingerprint);
            if (prepared.skipped > 0) {
                std::vector<std::string> problems;
                for (const auto& p : prepared.rows->problems()) {
                    if (problems.size() == 20) break;
                    problems.push_back(p.to_string());
                }
                d.warnings.push_back({.step = 0,
                                      .message = spec.path + ": " + std::to_string(prepared.skipped) + " row" + (prepared.skipped > 1 ? "s" : "") +
                                                 " skipped (first: " + prepared.rows->problems().front().to_string() + "); strict: true makes this fatal",
                                      .skipped = SkippedRows{.dataset = spec.path, .skipped_rows = static_cast<int64_t>(prepared.skipped), .problems = problems}});
            }
        }
        mix.push_back({rows.size(), spec.weight});
        sources.push_back(std::move(rows));
    }
    // With every weight 1 this is each source's rows once, in order.
    std::vector<Example> all;
    for (const data::RowRef& ref : data::mix_sources(mix, c.seed)) all.push_back(sources[ref.source][ref.row]);
    return all;
}

Data load_data(const TrainConfig& c) {
    Data d;
    if (!c.rl.empty()) {
        d.preference = std::make_unique<PreferenceTraining>(c, d.warnings, d.fingerprints);
        return d;
    }
    std::vector<Example> all = load_dataset_list(c.datasets, c, d);
    if (!c.test_datasets.empty()) {
        d.validation = load_dataset_list(c.test_datasets, c, d);
        if (d.validation.empty())
            throw Error("test_datasets hold no usable rows" + (d.warnings.empty() ? std::string() : ": " + d.warnings.back().message));
    }
    if (all.empty()) throw Error(d.warnings.empty() ? "the datasets hold no rows" : "the datasets hold no usable rows: " + d.warnings[0].message);
    size_t n_val = static_cast<size_t>(std::floor(all.size() * c.val_set_size));
    if (c.val_set_size > 0 && n_val == 0) n_val = 1;
    if (n_val >= all.size()) throw Error("val_set_size leaves no training rows");
    if (n_val > 0) {
        // A fixed, seeded choice of held-out rows, independent of the epoch shuffles.
        std::vector<size_t> order(all.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::mt19937_64 rng(c.seed ^ 0x5eedULL);
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<bool> held(all.size(), false);
        for (size_t i = 0; i < n_val; ++i) held[order[i]] = true;
        for (size_t i = 0; i < all.size(); ++i) (held[i] ? d.validation : d.train).push_back(std::move(all[i]));
    } else {
        d.train = std::move(all);
    }
    return d;
}

size_t train_rows(const Data& data) { return data.preference ? data.preference->pairs() : data.train.size(); }

// Row order of an epoch: file order, or a shuffle fixed by seed and epoch (so a resumed run sees the
// same order).
std::vector<size_t> epoch_order(size_t n, const TrainConfig& c, int64_t epoch) {
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    if (c.shuffle) {
        std::mt19937_64 rng(c.seed + static_cast<uint64_t>(epoch) * 1000003ULL);
        std::shuffle(order.begin(), order.end(), rng);
    }
    return order;
}

// What one epoch feeds the model, in order: single rows, or (sample packing) packs of rows. Each unit
// is one row of a micro-batch.
struct EpochPlan {
    int64_t epoch = -1;
    std::vector<Pack> units;
    std::vector<size_t> pairs;  // preference runs: pair indices in order, one per unit (units stay empty)
    size_t size() const { return units.empty() ? pairs.size() : units.size(); }
};

EpochPlan plan_epoch(const Data& data, const TrainConfig& c, int64_t epoch) {
    EpochPlan plan;
    plan.epoch = epoch;
    if (data.preference) {
        plan.pairs = epoch_order(train_rows(data), c, epoch);
        return plan;
    }
    std::vector<const Example*> ordered;
    for (size_t i : epoch_order(data.train.size(), c, epoch)) ordered.push_back(&data.train[i]);
    if (c.sample_packing) {
        plan.units = pack_examples(ordered, c.sequence_len);
    } else {
        for (const Example* e : ordered) plan.units.push_back({e});
    }
    return plan;
}

Batch make_micro_batch(const EpochPlan& plan, size_t first, size_t count, bool packed, int64_t pad_id) {
    if (packed) return collate_packed({plan.units.begin() + first, plan.units.begin() + first + count}, pad_id);
    std::vector<Example> rows;
    for (size_t u = first; u < first + count; ++u) rows.push_back(*plan.units[u][0]);
    return collate(rows, pad_id);
}

}  // namespace

TrainOutcome run_training(const TrainRequest& request, RunStore& store, std::ostream& out) {
    TrainConfig c = request.config;
    DataParallel* const dp = request.data_parallel;
    const int rank = dp ? dp->rank() : 0, world = dp ? dp->world_size() : 1;
    std::optional<TrainState> resumed;
    int64_t run_id = 0;
    if (!request.resume.empty()) {
        std::string dir = resolve_resume(request.resume, store);
        resumed = read_train_state(dir);
        // A data parallel run's other ranks record into a run store of their own (see TrainRequest).
        run_id = rank == 0 ? resumed->run_id : store.create_run({});
        auto run = store.find_run(run_id);
        if (!run) throw Error(dir + ": its run #" + std::to_string(run_id) + " is not in the run store " + store.path());
    } else {
        RunRecord r;
        r.name = fs::path(c.output_dir).filename().string();
        r.config_path = c.source;
        r.config_text = request.config_text;
        r.model = c.base_model;
        r.output_dir = c.output_dir;
        run_id = store.create_run(r);
    }
    EventSink events(out, store, run_id);
    auto fail = [&](ErrorKind kind, const std::string& message) {
        store.set_status(run_id, RunStatus::failed, message);
        events.emit(ErrorEvent{.kind = kind, .message = message});
        events.emit(EndEvent{.status = RunStatus::failed, .step = std::nullopt, .metrics = std::nullopt});
    };
    store.set_status(run_id, RunStatus::running);

    // What a failure means depends on where it happens (see the catch blocks).
    enum class Phase { loading_data, loading_model, training } phase = Phase::loading_data;
    try {
        at::manual_seed(c.seed);
        if (rank > 0) dp->barrier();  // rank 0 renders (and caches) the datasets first; the others read its cache
        Data data = load_data(c);
        const std::vector<ProbeSet> probes = load_probes(c);
        const TaskEvaluation task_evaluation(c, rank == 0);  // eval_tasks, scored by rank 0 alone
        if (rank == 0 && dp) dp->barrier();
        phase = Phase::loading_model;
        const ComputePlan compute = plan_compute(c);
        LoadOptions lo;
        lo.device = parse_device(compute.device);
        if (compute.bf16) lo.dtype = at::kBFloat16;
        if (compute.tf32) {  // float32 matmuls (adapters, float32 runs) on TF32 tensor cores, as torch's "high" precision
            at::globalContext().setAllowTF32CuBLAS(true);
            at::globalContext().setAllowTF32CuDNN(true);
        }
        auto model = load_training_base(c, lo);  // adapter: qlora: 4-bit base weights
        if (!model->lm) throw Error(c.base_model + ": training supports causal language models");
        const int64_t pad_id = model->config.pad_token_id.value_or(0);
        model->lm->gradient_checkpointing = c.gradient_checkpointing;
        if (!c.base_model_dropout) model->lm->config.dropout = {};

        // Before an adapter or resumed weights: the model is the base, the preference reference.
        if (data.preference) data.preference->prepare(*model, c.micro_batch_size, pad_id, data.fingerprints);

        // Trainable parameters: the adapter (float32 master weights), or every weight.
        std::vector<std::pair<std::string, at::Tensor>> params;
        LoraOptions lora;
        if (uses_lora(c)) {
            lora.r = c.lora_r;
            lora.alpha = c.lora_alpha;
            lora.dropout = c.lora_dropout;
            lora.rslora = c.peft_use_rslora;
            lora.dora = c.peft_use_dora;
            lora.target_modules = c.lora_target_linear ? std::vector<std::string>{"all-linear"} : c.lora_target_modules;
            std::string from = resumed ? resumed->dir : c.lora_model_dir;
            if (!from.empty()) {
                attach_peft_adapter(*model, from);
                lora = lora_options_of(read_peft_config(from));  // checkpoints describe the adapter trained, not the YAML's defaults
            } else {
                add_lora(*model, lora, c.seed);
            }
            if (!resumed) add_modules_to_save(*model, c.lora_modules_to_save);
            params = make_lora_trainable(*model, at::kFloat);
        } else {
            params = make_full_trainable(*model, c.unfrozen_parameters);
            if (resumed) load_full_weights(*model, resumed->dir);
        }
        // A bfloat16 model's trained weights get float32 masters, which the optimizer updates instead.
        std::optional<MasterWeights> masters;
        if (c.adapter.empty() && compute.bf16) {
            masters.emplace(params);
            if (resumed && fs::exists(fs::path(resumed->dir) / "master_weights.safetensors"))
                masters->load(load_safetensors((fs::path(resumed->dir) / "master_weights.safetensors").string()));
            params = masters->masters();
        }

        const std::vector<ParamGroup> groups = make_param_groups(c, params);
        std::vector<at::Tensor> all_params;
        for (auto& [_, p] : params) all_params.push_back(p);
        // One optimizer of three: SGD; AdamW with its state sharded over the ranks (data parallel, ZeRO-1);
        // or AdamW (adamw_torch: fused on a GPU, foreach, PyTorch's CPU numbers, on the CPU).
        std::optional<SGD> sgd;
        std::optional<AdamW> adamw;
        std::optional<ShardedAdamW> sharded_adamw;
        const AdamWOptions adamw_options{.beta1 = c.adam_beta1, .beta2 = c.adam_beta2, .eps = c.adam_epsilon,
                                         .kernel = c.optimizer == "adamw_torch_fused" ? AdamWKernel::Fused : AdamWKernel::Auto};
        // Data parallel: gradients reduced in buckets while backward runs (ZeRO-2: each to the rank updating it).
        const std::unique_ptr<GradientSync> gradient_sync = dp ? make_gradient_sync(*dp, c, *model->lm, all_params, masters ? &*masters : nullptr) : nullptr;
        if (c.optimizer == "sgd") sgd.emplace(groups);
        else if (dp) sharded_adamw.emplace(groups, adamw_options, *dp, owner_lookup(*gradient_sync, all_params));
        else adamw.emplace(groups, adamw_options);

        // Steps per epoch (packing makes them differ by epoch), and what follows each step.
        const StepPlan steps = plan_steps(c, world, [&](int64_t e) {
            return c.sample_packing ? static_cast<int64_t>(plan_epoch(data, c, e).units.size()) : static_cast<int64_t>(train_rows(data));
        });
        const int64_t total_steps = steps.total_steps;
        ScheduleOptions schedule{.kind = c.lr_scheduler, .warmup_steps = steps.warmup_steps, .total_steps = total_steps,
                                 .min_lr_ratio = c.cosine_min_lr_ratio};
        schedule.validate();
        FinalLossProjector projector(schedule_multipliers(schedule), steps.eval_every);  // projected_final_loss, early_stopping_projection

        int64_t step = 0;
        EarlyStopping early_stopping(c.early_stopping_patience);
        if (resumed) {
            step = resumed->step;
            if (adamw) adamw->load_state(read_optimizer_state(resumed->dir), step);
            if (sharded_adamw) sharded_adamw->load_state(read_optimizer_state(resumed->dir), step);
            if (sgd) sgd->load_state({}, step);
            restore_rng(resumed->dir, lo.device);
            early_stopping = EarlyStopping(c.early_stopping_patience, resumed->best_eval, resumed->evals_without_improvement);
            for (const MetricPoint& m : store.metrics(run_id)) {  // the forecast fits the whole curve, from step 1
                if (m.step > step) continue;
                if (m.name == "loss") projector.record_step(m.step, m.value);
                if (m.name == "eval_loss") projector.record_eval(m.step, m.value);
            }
        }

        phase = Phase::training;
        int64_t trainable = 0;
        for (auto& p : all_params) trainable += p.numel();
        events.emit(StartEvent{.resumed = resumed.has_value(), .step = step, .total_steps = total_steps,
                               .train_rows = static_cast<int64_t>(train_rows(data)), .validation_rows = static_cast<int64_t>(data.preference ? data.preference->validation_pairs() : data.validation.size()),
                               .trainable_parameters = trainable, .device = lo.device.str(), .output_dir = c.output_dir,
                               .attention = attention_path(*model->lm), .precision = compute.bf16 ? "bfloat16" : "float32"});
        if (compute.no_gpu_found)
            events.emit(WarningEvent{.step = step, .message = "no GPU found (device: auto): training runs on the CPU, which is much slower", .skipped = std::nullopt});
        if (!resumed) events.record(DatasetsEvent{.datasets = data.fingerprints});
        for (WarningEvent w : data.warnings) {
            w.step = step;
            events.emit(w);
        }

        Checkpointer checkpointer(store, run_id, c.save_total_limit, rank == 0);
        auto checkpoint = [&](int64_t at_step) {
            if (checkpointer.has(at_step)) return;  // a stop right after a save_steps checkpoint: it is already on disk
            std::optional<AdamW> gathered = sharded_adamw ? sharded_adamw->gather_on_first_rank() : std::nullopt;  // every rank takes part
            const AdamW* optimizer = gathered ? &*gathered : adamw ? &*adamw : nullptr;  // SGD keeps no state
            TrainState state{.run_id = run_id, .step = at_step, .best_eval = early_stopping.best_loss(),
                             .evals_without_improvement = early_stopping.evals_without_improvement(), .dir = ""};
            std::optional<std::string> path = checkpointer.save(at_step, [&] {
                return save_train_checkpoint(*model, c, lora, request.config_text, optimizer, masters ? &masters->masters() : nullptr, state);
            });
            if (path) events.emit(CheckpointEvent{.step = at_step, .path = *path});
        };
        auto run_probes = [&](int64_t at_step) {  // beside the validation set; they never stop a run early
            for (const ProbeLoss& p : evaluate_probes(*model, probes, c.micro_batch_size, pad_id)) {
                store.add_metrics(run_id, {{at_step, probe_loss_metric(p.name), p.loss}, {at_step, probe_perplexity_metric(p.name), std::exp(p.loss)}});
                events.emit(EvalEvent{.step = at_step, .eval_loss = p.loss, .perplexity = std::exp(p.loss), .projection = std::nullopt, .probe = p.name,
                                      .preference = std::nullopt});
            }
        };
        auto run_tasks = [&](int64_t at_step) { task_evaluation.run(*model->lm, at_step, store, run_id, [&](TrainEvent e) { events.emit(std::move(e)); }); };
        auto run_eval = [&](int64_t at_step) -> bool {  // true: early stopping says stop
            run_probes(at_step);
            run_tasks(at_step);
            if (data.preference ? data.preference->validation_pairs() == 0 : data.validation.empty()) return false;
            EvalEvent eval{.step = at_step, .eval_loss = 0, .perplexity = 0, .projection = std::nullopt, .probe = "", .preference = std::nullopt};
            if (data.preference) {  // TRL's evaluate(): the preference loss and metrics (no perplexity to store)
                const PreferenceEvaluation e = data.preference->evaluate(*model, c.micro_batch_size, pad_id);
                eval.eval_loss = e.loss;
                eval.preference = e.metrics;
                std::vector<MetricPoint> points = preference_metric_points(at_step, e.metrics, "eval_");
                points.insert(points.begin(), MetricPoint{at_step, "eval_loss", e.loss});
                store.add_metrics(run_id, points);
            } else {
                eval.eval_loss = evaluation_loss(*model, data.validation, c.micro_batch_size, pad_id);
                store.add_metrics(run_id, {{at_step, "eval_loss", eval.eval_loss}, {at_step, "eval_perplexity", std::exp(eval.eval_loss)}});
            }
            const double loss = eval.eval_loss;
            eval.perplexity = std::exp(loss);
            projector.annotate(eval);
            events.emit(eval);
            return early_stopping.observe(loss);
        };

        if (!resumed) run_probes(step);  // the probes' losses before any training: where a rise is measured from
        if (!resumed) run_tasks(step);   // the eval_tasks scores before any training
        const double start = now_s();
        int64_t tokens_since = 0;
        double window_start = start;
        bool stopped = false, early_stopped = false;
        EpochPlan plan;
        while (step < total_steps) {
            const int64_t epoch = steps.epoch_of(step);
            const int64_t in_epoch = step - steps.epoch_first_step[epoch];
            if (plan.epoch != epoch) plan = plan_epoch(data, c, epoch);
            // This rank's micro-batches; the loss is normalised over the label tokens of every rank's, which
            // each rank counts itself (they all hold the same order), and the throughput counts them all.
            std::vector<Batch> micro;
            std::vector<std::vector<size_t>> pair_groups;  // preference runs: this rank's pairs of each micro-batch
            int64_t label_tokens = 0, step_tokens = 0, micro_batches = 0;
            for (int r = 0; r < world; ++r)
                for (UnitRange u : micro_batches_of_rank(plan.size(), in_epoch, c.micro_batch_size, c.gradient_accumulation_steps, r, world)) {
                    Batch b;
                    if (data.preference) {
                        std::vector<size_t> pairs(plan.pairs.begin() + u.first, plan.pairs.begin() + u.first + u.count);
                        b = data.preference->micro_batch(pairs, pad_id);
                        if (r == rank) pair_groups.push_back(std::move(pairs));
                    } else {
                        b = make_micro_batch(plan, u.first, u.count, c.sample_packing, pad_id);
                    }
                    label_tokens += b.label_tokens;
                    step_tokens += b.attention_mask.sum().item<int64_t>();
                    ++micro_batches;
                    if (r == rank) micro.push_back(std::move(b));
                }
            if (label_tokens == 0) {
                events.emit(WarningEvent{.step = step + 1, .message = "every label in this step is -100; skipped", .skipped = std::nullopt});
                ++step;
                continue;
            }
            // Everything up to the read-back below is queued on the device without waiting for it.
            at::Tensor loss_on_device = data.preference ? data.preference->forward_backward(*model, micro, pair_groups, micro_batches)
                                                       : forward_backward_on_device(*model, micro, 1024, label_tokens, arm_hook(gradient_sync.get()));
            if (masters) masters->gather_gradients();
            if (gradient_sync)
                loss_on_device = data.preference ? data.preference->sum_over_ranks(*gradient_sync, loss_on_device) : gradient_sync->finish(loss_on_device);
            at::Tensor grad_norm_on_device = gradient_sync && !gradient_sync->owners().empty()
                                                 ? clip_grad_norm_over_ranks(all_params, c.max_grad_norm, *dp)
                                                 : clip_grad_norm(all_params, c.max_grad_norm);
            const double lr = c.learning_rate * lr_multiplier(schedule, step);
            if (adamw) adamw->step(lr);
            else if (sharded_adamw) sharded_adamw->step(lr);
            else sgd->step(lr);
            if (masters) masters->publish();
            for (auto& p : all_params) p.mutable_grad() = at::Tensor();
            // The step's one wait for the device: loss and gradient norm, read together.
            at::Tensor logged = grad_norm_on_device.defined() ? at::stack({loss_on_device, grad_norm_on_device.to(at::kDouble)}) : loss_on_device.reshape({1});
            logged = logged.cpu();
            const double loss = logged.data_ptr<double>()[0];
            const double grad_norm = logged.numel() > 1 ? logged.data_ptr<double>()[1] : 0.0;
            ++step;
            tokens_since += step_tokens;
            const double t = now_s();
            const double tokens_per_s = tokens_since / std::max(1e-9, t - window_start);
            tokens_since = 0;
            window_start = t;
            std::vector<MetricPoint> metrics = {{step, "loss", loss}, {step, "lr", lr}, {step, "grad_norm", grad_norm}, {step, "tokens_per_s", tokens_per_s}};
            StepEvent step_event{.step = step, .total_steps = total_steps,
                                 .epoch = epoch + static_cast<double>(in_epoch + 1) / steps.steps_in_epoch(epoch),
                                 .loss = loss, .lr = lr, .grad_norm = grad_norm, .tokens_per_s = tokens_per_s, .elapsed_s = t - start,
                                 .gpu_mem_gib = std::nullopt, .preference = std::nullopt, .projection = std::nullopt, .rank_mem_gib = std::nullopt};
            projector.annotate(step_event);
            if (data.preference) {
                step_event.preference = data.preference->read_metrics();
                for (MetricPoint& m : preference_metric_points(step, *step_event.preference, "")) metrics.push_back(std::move(m));
            }
            if (double gib = gpu_memory_gib(lo.device); gib >= 0) {  // CUDA runs only
                metrics.push_back({step, "gpu_mem_gib", gib});
                step_event.gpu_mem_gib = gib;
            }
            if (dp) gather_rank_memory(*dp, step_event, metrics);
            store.add_metrics(run_id, metrics);
            events.emit(step_event);
            if (!std::isfinite(loss))
                throw TrainFailure(ErrorKind::diverged, "the loss became " + std::to_string(loss) + " at step " + std::to_string(step) +
                                                            "; lower learning_rate or set max_grad_norm");

            if (steps.evaluates_after(step)) early_stopped = run_eval(step);
            if (steps.saves_after(step)) checkpoint(step);
            if (early_stopped) {
                events.emit(WarningEvent{.step = step, .message = "early stopping: the validation loss stopped improving", .skipped = std::nullopt});
                break;
            }
            if (c.early_stopping_projection > 0 && step < total_steps && projector.gain_below(c.early_stopping_projection)) {
                events.emit(WarningEvent{.step = step, .message = projector.stop_message(c.early_stopping_projection), .skipped = std::nullopt});
                early_stopped = true;  // as with early_stopping_patience: no further evaluation, then the checkpoint below
                break;
            }
            const bool stop_asked = request.stop && request.stop->load();
            if (dp ? dp->any(stop_asked) : stop_asked) {
                stopped = true;
                break;
            }
        }
        if (!stopped && !early_stopped) run_eval(step);
        checkpoint(step);
        FinalMetrics final_metrics{.step = step, .loss = std::nullopt, .eval_loss = std::nullopt};
        auto losses = store.metrics(run_id, "loss");
        if (!losses.empty()) final_metrics.loss = losses.back().value;
        auto evals = store.metrics(run_id, "eval_loss");
        if (!evals.empty()) final_metrics.eval_loss = evals.back().value;
        store.set_final_metrics(run_id, to_json(final_metrics).dump());
        const RunStatus status = stopped ? RunStatus::stopped : RunStatus::completed;
        store.set_status(run_id, status);
        events.emit(EndEvent{.status = status, .step = step, .metrics = final_metrics});
        return stopped ? TrainOutcome::Stopped : TrainOutcome::Completed;
    } catch (const c10::OutOfMemoryError&) {
        fail(ErrorKind::out_of_memory, "out of GPU memory: lower micro_batch_size or sequence_len, or use an adapter instead of full finetuning");
        return TrainOutcome::Failed;
    } catch (const TrainFailure& e) {
        fail(e.kind(), e.what());
        return TrainOutcome::Failed;
    } catch (const std::exception& e) {  // lathe::Error, and LibTorch's own errors: the run is failed, not lost
        ErrorKind kind = ErrorKind::other;
        if (phase != Phase::training && config_names_missing_path(c)) kind = ErrorKind::missing_file;
        else if (phase == Phase::loading_data) kind = ErrorKind::bad_data;
        fail(kind, e.what());
        return TrainOutcome::Failed;
    }
}

}  // namespace lathe
