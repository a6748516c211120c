// `lathe bench train`: LoRA training throughput and peak memory on random-initialised models of real
// shapes, so the figure does not depend on having the checkpoint. Results go to docs/performance.md.
#include <ATen/Context.h>
#include <ATen/DeviceAccelerator.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/randint.h>

#if defined(LATHE_TORCH_HAS_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define LATHE_BENCH_CUDA_STATS 1
#endif

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "core/cli/commands.h"
#include "core/models/loader.h"
#include "core/train/adamw.h"
#include "core/train/batch.h"
#include "core/train/layer_activations.h"
#include "core/train/lora.h"
#include "core/train/memory_estimate.h"
#include "core/train/saved_bytes.h"
#include "core/train/train_config.h"
#include "core/train/train_step.h"
#include "core/util/error.h"
#include "kernels/dispatch.h"

namespace lathe {

namespace {

// config.json of each benchmark shape, as the published checkpoints have it.
const std::map<std::string, const char*> kShapes = {
    {"tiny", R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 4096,
      "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false})"},
    {"qwen2.5-0.5b", R"({"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
      "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
      "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": true})"},
    {"llama-3.2-1b", R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
      "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
      "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "tie_word_embeddings": true,
      "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192}, "rope_theta": 500000.0})"},
    {"llama-3.1-8b", R"({"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
      "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
      "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
      "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192}, "rope_theta": 500000.0})"},
};

// A micro-batch of random tokens: full rows ("none"), rows of random lengths in [seq/4, seq] padded on
// the right ("padded"), or sequences of random lengths in [seq/8, seq/2] packed into rows of exactly
// seq tokens, the last one cut to fit ("packed").
Batch bench_batch(const std::string& mask, int64_t rows, int64_t seq, int64_t vocab, std::mt19937_64& rng) {
    auto random_example = [&](int64_t length) {
        at::Tensor ids = at::randint(vocab, {length}, at::TensorOptions().dtype(at::kLong));
        Example e;
        e.input_ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length);
        e.labels = e.input_ids;
        return e;
    };
    if (mask == "padded") {
        std::uniform_int_distribution<int64_t> length(std::max<int64_t>(1, seq / 4), seq);
        std::vector<Example> examples;
        for (int64_t r = 0; r < rows; ++r) examples.push_back(random_example(length(rng)));
        Batch b = collate(examples, 0);
        // Padded to seq columns (collate stops at the longest row), so every mask runs [rows, seq].
        const int64_t extra = seq - b.input_ids.size(1);
        if (extra > 0) {
            b.input_ids = at::constant_pad_nd(b.input_ids, {0, extra}, 0);
            b.labels = at::constant_pad_nd(b.labels, {0, extra}, -100);
            b.attention_mask = at::constant_pad_nd(b.attention_mask, {0, extra}, 0);
        }
        return b;
    }
    if (mask == "packed") {
        std::uniform_int_distribution<int64_t> length(std::max<int64_t>(1, seq / 8), std::max<int64_t>(1, seq / 2));
        std::vector<Example> examples;
        std::vector<Pack> packs(static_cast<size_t>(rows));
        std::vector<size_t> pack_sizes;
        for (int64_t r = 0; r < rows; ++r) {
            int64_t left = seq;
            size_t count = 0;
            while (left > 0) {
                const int64_t n = std::min(left, length(rng));
                examples.push_back(random_example(n));
                left -= n;
                ++count;
            }
            pack_sizes.push_back(count);
        }
        size_t next = 0;  // pointers only once `examples` stops growing
        for (int64_t r = 0; r < rows; ++r)
            for (size_t k = 0; k < pack_sizes[static_cast<size_t>(r)]; ++k) packs[static_cast<size_t>(r)].push_back(&examples[next++]);
        return collate_packed(packs, 0);
    }
    Batch b;
    b.input_ids = at::randint(vocab, {rows, seq}, at::TensorOptions().dtype(at::kLong));
    b.labels = b.input_ids.clone();
    b.attention_mask = at::ones_like(b.input_ids);
    b.label_tokens = rows * (seq - 1);
    return b;
}

// Every weight of the model as the checkpoint would hold it (4-bit weights at their logical size, a
// tied lm_head once): what the memory estimate takes as ModelSummary::parameters.
int64_t count_parameters(LoadedModel& model) {
    const DecoderLM& lm = *model.lm;
    int64_t n = lm.embed.numel() + (lm.pos_embed.defined() ? lm.pos_embed.numel() : 0);
    auto norm = [](const Norm& x) { return (x.weight.defined() ? x.weight.numel() : 0) + (x.bias.defined() ? x.bias.numel() : 0); };
    n += norm(lm.final_norm);
    for (const DecoderLayer& layer : lm.layers) {
        n += norm(layer.attn_norm) + norm(layer.mlp_norm);
        n += (layer.q_norm.defined() ? layer.q_norm.numel() : 0) + (layer.k_norm.defined() ? layer.k_norm.numel() : 0);
    }
    for (Linear* l : model.linears()) {
        if (l == &model.lm->lm_head && model.config.tie_word_embeddings) continue;
        n += l->out_features() * l->in_features() + (l->bias.defined() ? l->bias.numel() : 0);
    }
    return n;
}

// The resident set size now (VmRSS), in bytes.
double current_rss_bytes() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            double kib = 0;
            status >> kib;
            return kib * 1024;
        }
        status.ignore(4096, '\n');
    }
    return 0;
}

// Starts the resident high-water mark (VmHWM, getrusage's ru_maxrss) again from the current RSS (Linux:
// "5" to /proc/self/clear_refs), so that the steps' peak is not hidden under the model build's (building
// random weights peaks higher than holding them). False where the kernel refuses it.
bool reset_rss_high_water_mark() { return static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5"); }

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// --saved-bytes: the saved bytes with every layer and with the first layer only; their difference per
// token and per layer is the figure docs/performance.md compares with transformers + PEFT
// (bench/saved_bytes_hf.py counts the same way through saved-tensor hooks), beside what the memory
// estimate expects one layer to keep (layer_activations.h).
nlohmann::json saved_bytes_report(LoadedModel& model, const Batch& b, const TrainConfig& run, bool bf16) {
    const ActivationOps ops{.bf16 = bf16, .fused = kernels::fused_ops_enabled(), .on_cpu = runs_on_cpu(run), .sequence = b.input_ids.size(1)};
    const LayerActivations expected = run.gradient_checkpointing ? checkpointed_layer(model.config, ops) : layer_activations(run, model.config, ops);
    const SavedBytes s = measure_saved_bytes(model, b);
    const double tokens = static_cast<double>(b.input_ids.numel());
    return {{"saved_bytes", {{std::to_string(s.layers), s.all_layers}, {"1", s.one_layer}}},
            {"saved_bytes_per_token_per_layer", s.per_token_per_layer},
            {"estimate_bytes_per_token_per_layer", expected.per_token + expected.per_layer / tokens},
            {"fused_ops", kernels::fused_ops_enabled()},
            {"counting", "allocator: bytes allocated during the layers' forward and alive after it, each storage once"}};
}

// --alternate-fused: every step once with the fused ops and once with the composites, one after the
// other in this process (LATHE_FUSED_OPS switched between them), so that the load of a shared machine
// falls on both alike. Returns the tokens/s of each and every step's seconds; peak memory cannot be told
// apart in one process.
nlohmann::json alternate_fused_throughput(LoadedModel& model, AdamW& optimizer, const BenchTrainCommand& cmd, int64_t vocab,
                                          std::mt19937_64& rng, const std::function<void()>& sync) {
    std::map<bool, std::vector<double>> seconds;
    kernels::ScopedFusedOps setting(true);
    for (int64_t step = 0; step < cmd.warmup + cmd.steps; ++step) {
        Batch b = bench_batch(cmd.mask, cmd.micro_batch, cmd.seq, vocab, rng);
        for (bool fused : {step % 2 == 0, step % 2 != 0}) {  // A B, then B A: neither always goes first
            setting.set(fused);
            sync();
            const double t0 = now_s();
            forward_backward(model, {b});
            optimizer.step(1e-4);
            optimizer.zero_grad();
            sync();
            if (step >= cmd.warmup) seconds[fused].push_back(now_s() - t0);
        }
    }
    auto tokens_per_s = [&](bool fused) {
        double total = 0;
        for (double t : seconds[fused]) total += t;
        return static_cast<double>(cmd.micro_batch * cmd.seq) * static_cast<double>(seconds[fused].size()) / total;
    };
    return {{"tokens_per_s_fused", tokens_per_s(true)}, {"tokens_per_s_composite", tokens_per_s(false)},
            {"step_seconds_fused", seconds[true]}, {"step_seconds_composite", seconds[false]}};
}

}  // namespace

void run_bench_train(const BenchTrainCommand& cmd, std::ostream& out) {
    auto shape = kShapes.find(cmd.shape);
    if (shape == kShapes.end()) {
        std::string names;
        for (const auto& [name, _] : kShapes) names += (names.empty() ? "" : ", ") + name;
        throw Error("--shape '" + cmd.shape + "' is not known (" + names + ")");
    }
    auto dir = std::filesystem::temp_directory_path() / ("lathe-bench-" + cmd.shape);
    std::filesystem::create_directories(dir);
    nlohmann::json config = nlohmann::json::parse(shape->second);
    if (cmd.layers < 0) throw Error("--layers must be positive (0: the shape's own count)");
    if (cmd.layers > 0) config["num_hidden_layers"] = cmd.layers;
    std::ofstream(dir / "config.json") << config.dump();

    LoadOptions options;
    options.device = parse_device(cmd.device);
    options.dtype = parse_dtype(cmd.dtype);
    // The run this benchmark stands for, as `lathe train --dry-run` would estimate it.
    TrainConfig run;
    run.adapter = cmd.load_in_4bit ? "qlora" : "lora";
    run.load_in_4bit = cmd.load_in_4bit;
    run.lora_r = cmd.lora_r;
    run.lora_alpha = 2.0 * static_cast<double>(cmd.lora_r);
    run.lora_target_linear = true;
    run.lora_dropout = cmd.lora_dropout;
    run.micro_batch_size = cmd.micro_batch;
    run.sequence_len = cmd.seq;
    run.gradient_checkpointing = cmd.gradient_checkpointing;
    run.device = cmd.device;
    const bool bf16 = *options.dtype == at::kBFloat16;
    if (cmd.load_in_4bit) options.load_in_4bit = qlora_quantization(run, bf16);
    const double rss_before_model = options.device.is_cuda() ? 0 : current_rss_bytes();
    auto model = random_model((dir / "config.json").string(), options);
    model->lm->gradient_checkpointing = cmd.gradient_checkpointing;
    LoraOptions lora;
    lora.r = cmd.lora_r;
    lora.alpha = 2.0 * cmd.lora_r;
    lora.dropout = cmd.lora_dropout;
    lora.target_modules = {"all-linear"};
    add_lora(*model, lora, 0);
    auto params = make_lora_trainable(*model, at::kFloat);
    std::mt19937_64 rng(20260);  // the same row lengths every run
    const int64_t vocab = model->config.vocab_size;
    if (cmd.mask != "none" && cmd.mask != "padded" && cmd.mask != "packed")
        throw Error("--mask '" + cmd.mask + "' is not known (none, padded, packed)");
    if (cmd.saved_bytes) {
        nlohmann::json j = {{"shape", cmd.shape}, {"device", options.device.str()}, {"dtype", cmd.dtype}, {"lora_r", cmd.lora_r},
                            {"lora_dropout", cmd.lora_dropout}, {"micro_batch", cmd.micro_batch}, {"seq", cmd.seq}, {"mask", cmd.mask},
                            {"gradient_checkpointing", cmd.gradient_checkpointing}, {"load_in_4bit", cmd.load_in_4bit}};
        j.update(saved_bytes_report(*model, bench_batch(cmd.mask, cmd.micro_batch, cmd.seq, vocab, rng), run, bf16));
        out << j.dump() << "\n";
        return;
    }
    ParamGroup group{.name = "lora", .params = {}, .lr_scale = 1.0, .weight_decay = 0.0};
    for (auto& [_, p] : params) group.params.push_back(p);
    AdamW optimizer({group}, AdamWOptions{});
    const bool steps_peak_known = !options.device.is_cuda() && reset_rss_high_water_mark();

    auto sync = [&] {
        if (options.device.is_cuda()) at::accelerator::synchronizeDevice(options.device.index() < 0 ? 0 : options.device.index());
    };
#ifdef LATHE_BENCH_CUDA_STATS
    const int device_index = options.device.index() < 0 ? 0 : options.device.index();
    if (options.device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device_index);
#endif
    if (cmd.alternate_fused) {
        nlohmann::json j = {{"shape", cmd.shape}, {"device", options.device.str()}, {"dtype", cmd.dtype}, {"lora_r", cmd.lora_r},
                            {"lora_dropout", cmd.lora_dropout}, {"micro_batch", cmd.micro_batch}, {"seq", cmd.seq}, {"mask", cmd.mask},
                            {"steps", cmd.steps}, {"layers", model->lm->layers.size()}, {"gradient_checkpointing", cmd.gradient_checkpointing}};
        j.update(alternate_fused_throughput(*model, optimizer, cmd, vocab, rng, sync));
        out << j.dump() << "\n";
        return;
    }
    double loss = 0, measured = 0;
    int64_t real_tokens = 0;  // measured steps' non-padding tokens
    for (int64_t step = 0; step < cmd.warmup + cmd.steps; ++step) {
        Batch b = bench_batch(cmd.mask, cmd.micro_batch, cmd.seq, vocab, rng);
        sync();
        double t0 = now_s();
        loss = forward_backward(*model, {b});
        optimizer.step(1e-4);
        optimizer.zero_grad();
        sync();
        if (step >= cmd.warmup) {
            measured += now_s() - t0;
            real_tokens += b.attention_mask.sum().item<int64_t>();
        }
    }
    // tokens_per_s counts every position of the [micro_batch, seq] rows, padding included;
    // real_tokens_per_s only the tokens that are not padding.
    const double tokens_per_s = static_cast<double>(cmd.micro_batch * cmd.seq * cmd.steps) / measured;
    const double real_tokens_per_s = static_cast<double>(real_tokens) / measured;
    double peak_gib = 0;
    std::string peak_kind = "process peak RSS";
#ifdef LATHE_BENCH_CUDA_STATS
    if (options.device.is_cuda()) {
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device_index);
        peak_gib = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak / 1073741824.0;
        peak_kind = "peak GPU memory allocated";
    }
#endif
    if (!options.device.is_cuda()) {
        rusage r{};
        getrusage(RUSAGE_SELF, &r);  // the same counter as VmHWM, so the steps' peak when it was reset
        peak_gib = r.ru_maxrss / 1048576.0;
        if (steps_peak_known) peak_kind = "peak RSS of the steps (weights included; high-water mark reset after the model build)";
    }
    int64_t trainable = 0;
    for (auto& [_, p] : params) trainable += p.numel();
    const MemoryEstimate estimate = estimate_training_memory(run, model->config, count_parameters(*model), bf16);
    nlohmann::json j = {{"shape", cmd.shape}, {"device", options.device.str()}, {"dtype", cmd.dtype}, {"lora_r", cmd.lora_r},
                        {"micro_batch", cmd.micro_batch}, {"seq", cmd.seq}, {"gradient_checkpointing", cmd.gradient_checkpointing},
                        {"lora_dropout", cmd.lora_dropout}, {"layers", model->lm->layers.size()},
                        {"fused_ops", kernels::fused_ops_enabled()}, {"steps", cmd.steps}, {"trainable_parameters", trainable}, {"tokens_per_s", tokens_per_s},
                        {"mask", cmd.mask}, {"real_tokens_per_s", real_tokens_per_s},
                        {"attention", attention_path(*model->lm, cmd.mask != "none")},
                        {"load_in_4bit", cmd.load_in_4bit}, {"peak_gib", peak_gib}, {"peak_kind", peak_kind},
                        {"estimate_gib", estimate.total / 1073741824.0}, {"last_loss", loss}};
    // On the CPU the peak RSS also holds the process itself (LibTorch's code, the allocator's caches)
    // before any weight exists: reported so the estimate can be compared with what the run added.
    if (!options.device.is_cuda()) j["rss_before_model_gib"] = rss_before_model / 1073741824.0;
    out << j.dump() << "\n";
}

}  // namespace lathe
