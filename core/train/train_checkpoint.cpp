#include "core/train/train_checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/io/tensor_io.h"
#include "core/models/named_weights.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "core/util/remove_tree.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& path, const std::string& text) {
    AtomicFile f(path.string());
    f.write(text.data(), text.size());
    f.commit();
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> make_full_trainable(LoadedModel& model, const std::vector<std::string>& patterns) {
    if (model.config.arch->conv1d) throw Error("full finetuning of GPT-2 (Conv1D weights) is not supported yet");
    std::vector<std::regex> unfrozen;
    for (const auto& p : patterns) unfrozen.emplace_back(p);
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (auto& [name, tensor] : named_weights(model)) {
        bool train = unfrozen.empty() || std::any_of(unfrozen.begin(), unfrozen.end(), [&](const std::regex& r) {
                         return std::regex_search(name, r, std::regex_constants::match_continuous);
                     });
        if (!train) continue;
        *tensor = tensor->detach().clone().requires_grad_(true);
        out.emplace_back(name, *tensor);
    }
    if (out.empty()) throw Error("unfrozen_parameters matches no weight of the model (names look like 'model.layers.0.mlp.down_proj.weight')");
    if (model.lm->config.tie_word_embeddings) model.lm->lm_head.weight = model.lm->embed;  // keep the tie
    return out;
}

void load_full_weights(LoadedModel& model, const std::string& dir) {
    at::NoGradGuard no_grad;
    auto saved = load_safetensors((fs::path(dir) / "model.safetensors").string());
    for (auto& [name, tensor] : named_weights(model)) {
        auto it = saved.find(name);
        if (it == saved.end()) throw Error(dir + "/model.safetensors: tensor '" + name + "' is missing");
        tensor->copy_(it->second);
    }
}

std::string save_train_checkpoint(LoadedModel& model, const TrainConfig& config, const LoraOptions& lora,
                                  const std::string& config_text, const AdamW* optimizer,
                                  const std::vector<std::pair<std::string, at::Tensor>>* masters, const TrainState& state) {
    fs::path final_dir = fs::path(config.output_dir) / ("checkpoint-" + std::to_string(state.step));
    fs::path temp_dir = fs::path(config.output_dir) / (".checkpoint-" + std::to_string(state.step) + ".tmp");
    std::error_code ec;
    remove_tree(temp_dir, ec);
    fs::create_directories(temp_dir);

    if (uses_lora(config)) {
        save_peft_adapter(model, peft_config_for(model, lora, config.base_model), temp_dir.string());
    } else {
        std::vector<std::pair<std::string, at::Tensor>> weights;
        for (auto& [name, tensor] : named_weights(model)) weights.emplace_back(name, *tensor);
        save_safetensors((temp_dir / "model.safetensors").string(), weights);
        fs::copy_file(fs::path(config.base_model) / "config.json", temp_dir / "config.json", fs::copy_options::overwrite_existing);
    }
    if (optimizer) save_safetensors((temp_dir / "optimizer.safetensors").string(), optimizer->state());
    if (masters) save_safetensors((temp_dir / "master_weights.safetensors").string(), *masters);
    // Dropout draws from the generator of the device the model runs on; both are saved.
    std::vector<std::pair<std::string, at::Tensor>> rng = {{"cpu", at::Generator(at::detail::getDefaultCPUGenerator()).get_state()}};
    c10::Device device = model.lm ? model.lm->device() : model.classifier->device();
    if (device.is_cuda()) rng.emplace_back("cuda", at::Generator(at::globalContext().defaultGenerator(device)).get_state());
    save_safetensors((temp_dir / "rng_state.safetensors").string(), rng);
    write_text(temp_dir / "run.yaml", config_text);
    nlohmann::json j = {{"run_id", state.run_id}, {"step", state.step}, {"best_eval", std::isfinite(state.best_eval) ? state.best_eval : -1.0},
                        {"evals_without_improvement", state.evals_without_improvement}, {"lathe_checkpoint_version", 1}};
    write_text(temp_dir / "trainer_state.json", j.dump(2) + "\n");
    fsync_directory(temp_dir.string());

    // Replace an older checkpoint of the same step (a resumed run re-saving), then publish.
    remove_tree(final_dir, ec);
    fs::rename(temp_dir, final_dir);
    fsync_directory(config.output_dir);
    return final_dir.string();
}

TrainState read_train_state(const std::string& dir) {
    fs::path path = fs::path(dir) / "trainer_state.json";
    if (!fs::exists(path)) throw Error(dir + ": not a Lathe checkpoint (no trainer_state.json)");
    auto j = read_json_file(path.string());
    TrainState s;
    try {
        s.run_id = j.at("run_id").get<int64_t>();
        s.step = j.at("step").get<int64_t>();
        double best = j.value("best_eval", -1.0);
        s.best_eval = best < 0 ? INFINITY : best;
        s.evals_without_improvement = j.value("evals_without_improvement", 0);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path.string() + ": " + e.what());
    }
    s.dir = dir;
    return s;
}

std::map<std::string, at::Tensor> read_optimizer_state(const std::string& dir) {
    fs::path path = fs::path(dir) / "optimizer.safetensors";
    if (!fs::exists(path)) throw Error(dir + ": the checkpoint has no optimizer.safetensors");
    std::map<std::string, at::Tensor> out;
    for (auto& [name, t] : load_safetensors(path.string())) out[name] = t.clone();
    return out;
}

void restore_rng(const std::string& dir, c10::Device device) {
    fs::path path = fs::path(dir) / "rng_state.safetensors";
    if (!fs::exists(path)) return;
    auto saved = load_safetensors(path.string());
    if (saved.count("cpu")) at::Generator(at::detail::getDefaultCPUGenerator()).set_state(saved.at("cpu").clone());
    if (saved.count("cuda") && device.is_cuda())
        at::Generator(at::globalContext().defaultGenerator(device)).set_state(saved.at("cuda").clone());
}

std::string resolve_resume(const std::string& what, RunStore& store) {
    if (fs::is_directory(what)) return what;
    int64_t id = 0;
    try {
        size_t used = 0;
        id = std::stoll(what, &used);
        if (used != what.size()) id = 0;
    } catch (...) {
    }
    if (id <= 0) throw Error("--resume '" + what + "': neither a checkpoint folder nor a run id");
    auto checkpoints = store.checkpoints(id);
    if (!store.find_run(id)) throw Error("--resume " + what + ": no run #" + what + " in " + store.path());
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it)
        if (fs::exists(fs::path(it->path) / "trainer_state.json")) return it->path;
    throw Error("--resume " + what + ": run #" + what + " has no checkpoint on disk to resume from");
}

}  // namespace lathe
