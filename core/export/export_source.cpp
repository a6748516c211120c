#include "core/export/export_source.h"

#include <filesystem>

#include "core/models/config.h"
#include "core/runs/run_store.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_adapter(const fs::path& dir) { return fs::exists(dir / "adapter_config.json"); }
bool has_weights(const fs::path& dir) {
    return fs::exists(dir / "config.json") && (fs::exists(dir / "model.safetensors") || fs::exists(dir / "model.safetensors.index.json"));
}

void require_model_dir(const std::string& dir, const std::string& flag) {
    if (!fs::is_directory(dir)) throw Error(flag + " " + dir + ": no such folder");
    if (!has_weights(dir)) throw Error(flag + " " + dir + ": not a model folder (needs config.json and model.safetensors or its index)");
}

// The run's base_model as its YAML gave it: relative to where training ran, which is usually where
// the export runs too, else relative to the YAML file.
std::string run_base_model(const RunRecord& run) {
    fs::path p = run.model;
    if (p.is_relative() && !fs::exists(p) && !run.config_path.empty()) {
        fs::path beside = fs::path(run.config_path).parent_path() / p;
        if (fs::exists(beside)) return beside.string();
    }
    return p.string();
}

void fill_from_run(ExportProvenance& prov, const RunRecord& run, RunStore& store, int64_t step) {
    prov.run_id = run.id;
    prov.run_name = run.name;
    prov.config_text = run.config_text;
    for (const auto& line : store.events(run.id)) {
        json e = json::parse(line, nullptr, false);
        if (e.is_object() && e.value("event", "") == "datasets" && e.contains("datasets")) prov.datasets = e["datasets"];
    }
    // The last value of each metric logged at or before the checkpoint's step.
    for (const char* name : {"loss", "eval_loss", "eval_perplexity"})
        for (const auto& m : store.metrics(run.id, name))
            if (step < 0 || m.step <= step) prov.metrics[name] = m.value;
}

int64_t step_of(const fs::path& checkpoint) {
    fs::path state = checkpoint / "trainer_state.json";
    if (!fs::exists(state)) return -1;
    json j = read_json_file(state.string());
    return j.value("step", int64_t{-1});
}

// An adapter records the folder of the model it was trained on (base_model_name_or_path). When that
// folder is here and its architecture differs from the base model given, the adapter belongs to
// another model even where the tensor shapes happen to fit.
void check_recorded_base(const std::string& adapter_dir, const std::string& base_model) {
    fs::path config_path = fs::path(adapter_dir) / "adapter_config.json";
    json adapter = read_json_file(config_path.string());
    std::string recorded = adapter.value("base_model_name_or_path", "");
    if (recorded.empty() || !fs::exists(fs::path(recorded) / "config.json")) return;
    std::error_code ec;
    if (fs::equivalent(recorded, base_model, ec)) return;
    json theirs = read_json_file((fs::path(recorded) / "config.json").string());
    json ours = read_json_file((fs::path(base_model) / "config.json").string());
    for (const char* key : {"model_type", "architectures", "vocab_size", "hidden_size", "n_embd", "num_hidden_layers", "n_layer",
                            "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim"}) {
        json a = theirs.value(key, json()), b = ours.value(key, json());
        if (a != b)
            throw Error(config_path.string() + ": the adapter was trained on " + recorded + " (" + key + " " + a.dump() + "), but the base model " +
                        base_model + " has " + key + " " + b.dump() + "; was the adapter made for another base model? Pass the model it was trained on as --base-model");
    }
}

// The quantization a QLoRA run (adapter: qlora) applied to its float base on load; nullopt for other
// runs and for a pre-quantized base (its 4-bit weights are in the folder).
std::optional<quant::BnbQuantizationConfig> qlora_base_quantization(const RunRecord& run, const std::string& base_model) {
    if (run.config_text.empty()) return std::nullopt;
    TrainConfig config;
    try {
        config = parse_train_config(run.config_text, "run #" + std::to_string(run.id) + "'s configuration");
    } catch (const Error&) {
        return std::nullopt;  // a YAML this version no longer reads: not a QLoRA run it knows of
    }
    if (config.adapter != "qlora" || read_model_config(base_model).quantization) return std::nullopt;
    return qlora_quantization(config, false);  // the compute dtype plays no part in merging
}

}  // namespace

ExportSource resolve_export_source(const ExportSourceRequest& r) {
    int given = (r.run_id > 0) + !r.adapter_dir.empty() + !r.model_dir.empty();
    if (given != 1)
        throw Error("give one source: --run ID (a training run), --adapter DIR --base-model DIR (a PEFT adapter), "
                    "or --model DIR (full weights, e.g. a full-finetune checkpoint)");
    ExportSource s;
    fs::path checkpoint;
    std::optional<RunRecord> from_run;

    if (r.run_id > 0) {
        std::string store_path = r.store.empty() ? RunStore::default_path() : r.store;
        if (!fs::exists(store_path)) throw Error("no run store at " + store_path + "; pass --store with the database `lathe train` used");
        auto store = RunStore::open(store_path);
        auto run = store->find_run(r.run_id);
        if (!run) throw Error("no run #" + std::to_string(r.run_id) + " in " + store_path + " (see `lathe runs list`)");
        auto checkpoints = store->checkpoints(r.run_id);
        std::string available;
        for (const auto& c : checkpoints)
            if (fs::exists(c.path)) available += (available.empty() ? "" : ", ") + std::to_string(c.step);
        const std::string run_label = "run #" + std::to_string(r.run_id);
        if (available.empty()) throw Error(run_label + " has no checkpoint on disk to export");
        if (r.checkpoint == "latest" || r.checkpoint.empty()) {
            for (auto it = checkpoints.rbegin(); it != checkpoints.rend() && checkpoint.empty(); ++it)
                if (fs::exists(it->path)) checkpoint = it->path;
        } else {
            int64_t step = -1;
            try {
                size_t used = 0;
                step = std::stoll(r.checkpoint, &used);
                if (used != r.checkpoint.size()) step = -1;
            } catch (const std::exception&) {
            }
            if (step < 0) throw Error("--checkpoint '" + r.checkpoint + "': give a step number or 'latest'");
            for (const auto& c : checkpoints)
                if (c.step == step && fs::exists(c.path)) checkpoint = c.path;
            if (checkpoint.empty())
                throw Error(run_label + " has no checkpoint at step " + r.checkpoint + " (on disk: steps " + available + ")");
        }
        s.base_model = r.base_model.empty() ? run_base_model(*run) : r.base_model;
        fill_from_run(s.provenance, *run, *store, step_of(checkpoint));
        from_run = *run;
        if (is_adapter(checkpoint)) s.adapter_dir = checkpoint.string();
        else if (has_weights(checkpoint)) s.weights_dir = checkpoint.string();
        else throw Error(checkpoint.string() + ": the checkpoint holds neither an adapter (adapter_config.json) nor weights (model.safetensors)");
    } else if (!r.adapter_dir.empty()) {
        checkpoint = r.adapter_dir;
        if (!fs::is_directory(checkpoint)) throw Error("--adapter " + r.adapter_dir + ": no such folder");
        if (!is_adapter(checkpoint)) throw Error("--adapter " + r.adapter_dir + ": no adapter_config.json; not a PEFT adapter folder");
        s.adapter_dir = r.adapter_dir;
        s.base_model = r.base_model;
        if (s.base_model.empty()) {  // PEFT records where the base came from; use it when it is a folder here
            json config = read_json_file((checkpoint / "adapter_config.json").string());
            std::string recorded = config.value("base_model_name_or_path", "");
            if (recorded.empty() || !fs::is_directory(recorded))
                throw Error("--adapter " + r.adapter_dir + ": give --base-model DIR, the model folder the adapter was trained on" +
                            (recorded.empty() ? std::string() : " (its adapter_config.json names '" + recorded + "', which is not a folder here)"));
            s.base_model = recorded;
        }
    } else {
        checkpoint = r.model_dir;
        require_model_dir(r.model_dir, "--model");
        if (is_adapter(checkpoint)) throw Error("--model " + r.model_dir + " is a PEFT adapter; pass it as --adapter with --base-model");
        s.weights_dir = r.model_dir;
        s.base_model = r.base_model.empty() ? r.model_dir : r.base_model;
    }

    require_model_dir(s.base_model, "--base-model");
    if (from_run) s.quantize_base = qlora_base_quantization(*from_run, s.base_model);
    if (s.provenance.step < 0) s.provenance.step = step_of(checkpoint);
    if (!s.adapter_dir.empty()) {
        check_recorded_base(s.adapter_dir, s.base_model);
        s.weights_dir = s.base_model;
    }
    return s;
}

}  // namespace lathe
