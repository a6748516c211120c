#include "core/train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sstream>

#include "core/eval/task_config.h"
#include "core/util/error.h"

namespace lathe {

namespace {

// Collects every problem so a user fixes their file in one go.
struct Problems {
    std::string file;
    std::vector<std::string> list;
    void add(const YAML::Node& node, const std::string& key, const std::string& what) {
        std::string line = node.Mark().line >= 0 ? std::to_string(node.Mark().line + 1) : "?";
        list.push_back(file + ":" + line + ": " + key + ": " + what);
    }
};

template <typename T>
bool read_scalar(const YAML::Node& node, const std::string& key, T& out, Problems& p, const char* type_name) {
    if (!node.IsScalar()) {
        p.add(node, key, std::string("must be ") + type_name);
        return false;
    }
    try {
        out = node.as<T>();
        return true;
    } catch (const YAML::Exception&) {
        p.add(node, key, std::string("must be ") + type_name + ", got '" + node.Scalar() + "'");
        return false;
    }
}

std::vector<std::string> read_strings(const YAML::Node& node, const std::string& key, Problems& p) {
    std::vector<std::string> out;
    if (node.IsScalar()) return {node.Scalar()};
    if (!node.IsSequence()) {
        p.add(node, key, "must be a list of names");
        return out;
    }
    for (const auto& item : node) {
        if (!item.IsScalar()) p.add(item, key, "must be a list of names");
        else out.push_back(item.Scalar());
    }
    return out;
}

// One dataset entry: a path alone, or a mapping of Axolotl's dataset keys. `own_key` reads the keys an
// entry of another list adds (a probe's name, ...) and returns whether it took the key; `own_keys` names them.
void read_dataset(const YAML::Node& item, const std::string& k, Problems& p, DatasetSpec& d,
                  const std::function<bool(const std::string&, const YAML::Node&)>& own_key = {}, const std::string& own_keys = "") {
    d.line = item.Mark().line + 1;
    if (item.IsScalar()) {
        d.path = item.Scalar();
        return;
    }
    for (const auto& kv : item) {
        std::string sub = kv.first.Scalar(), key = k + "." + sub;
        const YAML::Node& v = kv.second;
        if (own_key && own_key(sub, v)) continue;
        if (sub == "path") read_scalar(v, key, d.path, p, "a string");
        else if (sub == "type") read_scalar(v, key, d.type, p, "a string");
        else if (sub == "field") read_scalar(v, key, d.field, p, "a string");
        else if (sub == "field_messages") read_scalar(v, key, d.field_messages, p, "a string");
        else if (sub == "field_chosen") read_scalar(v, key, d.field_chosen, p, "a string");
        else if (sub == "field_rejected") read_scalar(v, key, d.field_rejected, p, "a string");
        else if (sub == "roles_to_train") d.roles_to_train = read_strings(v, key, p);
        else if (sub == "weight") {
            if (read_scalar(v, key, d.weight, p, "a number") && !(d.weight >= 0 && d.weight <= 1e6)) p.add(v, key, "must be >= 0, got " + v.Scalar());
        } else if (sub == "train_on_eos") {
            // Axolotl's values: turn (every trained turn's end-of-turn token), all, none; "last" is not offered.
            std::string s;
            if (!read_scalar(v, key, s, p, "turn, all, none, true or false")) continue;
            if (s == "turn" || s == "all" || s == "true") d.train_on_eos = true;
            else if (s == "none" || s == "false") d.train_on_eos = false;
            else p.add(v, key, "'" + s + "' is not supported (turn, all or none)");
        } else if (sub == "message_property_mappings") {
            if (!v.IsMap()) {
                p.add(v, key, "must be a mapping {role: ..., content: ...}");
                continue;
            }
            for (const auto& m : v) {
                std::string name = m.first.Scalar();
                if (name == "role") read_scalar(m.second, key + ".role", d.role_key, p, "a string");
                else if (name == "content") read_scalar(m.second, key + ".content", d.content_key, p, "a string");
                else p.add(m.first, key + "." + name, "unknown key (role and content can be mapped)");
            }
        } else {
            p.add(kv.first, key,
                  "unknown key (a dataset has " + own_keys + "path, type, weight, field, field_messages, field_chosen, field_rejected, "
                  "message_property_mappings, roles_to_train, train_on_eos)");
        }
    }
    if (d.path.empty()) p.add(item, k, "each entry needs a 'path'");
    static const char* types[] = {"", "pretokenized", "text", "completion", "alpaca", "chat_template", "chat_template.default", "chatml.intel"};
    if (std::none_of(std::begin(types), std::end(types), [&](const char* t) { return d.type == t; }))
        p.add(item["type"] ? item["type"] : item, k + ".type",
              "'" + d.type + "' is not supported (pretokenized, text, completion, alpaca, chat_template, or leave it out to detect it; "
              "with rl: chat_template.default, chatml.intel)");
    if (!d.field.empty() && d.type != "completion") p.add(item["field"], k + ".field", "applies to type: completion");
    if (!d.field_messages.empty() && d.type != "chat_template" && d.type != "chat_template.default")
        p.add(item["field_messages"], k + ".field_messages", "applies to type: chat_template (or chat_template.default with rl)");
    for (const auto& [name, value] : {std::pair{"field_chosen", &d.field_chosen}, std::pair{"field_rejected", &d.field_rejected}})
        if (!value->empty() && d.type != "chat_template.default") p.add(item[name], k + "." + name, "applies to type: chat_template.default (with rl)");
}

// Axolotl's bnb_config_kwargs: BitsAndBytesConfig arguments; the 4-bit ones Lathe honours.
void read_bnb_config_kwargs(const YAML::Node& n, const std::string& k, Problems& p, TrainConfig& c) {
    if (!n.IsMap()) return p.add(n, k, "must be a mapping (bnb_4bit_quant_type: nf4, ...)");
    for (const auto& kv : n) {
        std::string sub = kv.first.Scalar(), key = k + "." + sub;
        if (sub == "bnb_4bit_quant_type") read_scalar(kv.second, key, c.bnb_4bit_quant_type, p, "a string");
        else if (sub == "bnb_4bit_use_double_quant") {
            bool on = false;
            if (read_scalar(kv.second, key, on, p, "true or false")) c.bnb_4bit_use_double_quant = on;
        }
        else if (sub == "bnb_4bit_compute_dtype") read_scalar(kv.second, key, c.bnb_4bit_compute_dtype, p, "a string");
        else p.add(kv.first, key, "not supported (Lathe reads bnb_4bit_quant_type, bnb_4bit_use_double_quant, bnb_4bit_compute_dtype)");
    }
}

void read_datasets(const YAML::Node& n, const std::string& k, Problems& p, std::vector<DatasetSpec>& out) {
    if (!n.IsSequence()) return p.add(n, k, "must be a list of {path, type}");
    for (const auto& item : n) {
        if (!item.IsScalar() && !item.IsMap()) {
            p.add(item, k, "each entry is a path or a {path, type, ...} mapping");
            continue;
        }
        DatasetSpec d;
        read_dataset(item, k, p, d);
        out.push_back(d);
    }
}

// Keys that say the same thing two ways, which Axolotl's validators reject with these words.
void check_schedule_keys(const YAML::Node& root, const TrainConfig& c, Problems& p) {
    if (c.warmup_steps > 0 && c.warmup_ratio > 0)
        p.add(root["warmup_ratio"], "warmup_ratio", "warmup_steps and warmup_ratio are mutually exclusive; keep one");
    if ((c.save_steps > 0 || c.save_steps_fraction > 0) && c.saves_per_epoch > 0)
        p.add(root["saves_per_epoch"], "saves_per_epoch", "save_steps and saves_per_epoch are mutually exclusive and cannot be used together; keep one");
    if ((c.eval_steps > 0 || c.eval_steps_fraction > 0) && c.evals_per_epoch > 0)
        p.add(root["evals_per_epoch"], "evals_per_epoch", "eval_steps and evals_per_epoch are mutually exclusive and cannot be used together; keep one");
    if (c.rl == "simpo" && c.warmup_ratio > 0)
        p.add(root["warmup_ratio"], "warmup_ratio", "is not supported with rl: simpo (as in Axolotl); use warmup_steps");
}

// probe_datasets: each entry a dataset mapping with a `name` (unique) and an optional `max_rows`.
void read_probe_datasets(const YAML::Node& n, const std::string& k, Problems& p, std::vector<ProbeSpec>& out) {
    if (!n.IsSequence()) return p.add(n, k, "must be a list of {name, path, type, max_rows}");
    for (const auto& item : n) {
        if (!item.IsMap()) {
            p.add(item, k, "each entry is a {name, path, type, ...} mapping (a probe needs a name)");
            continue;
        }
        ProbeSpec probe;
        read_dataset(item, k, p, probe.dataset, [&](const std::string& sub, const YAML::Node& v) {
            if (sub == "name") {
                read_scalar(v, k + ".name", probe.name, p, "a string");
            } else if (sub == "max_rows") {
                if (read_scalar(v, k + ".max_rows", probe.max_rows, p, "an integer") && probe.max_rows < 1)
                    p.add(v, k + ".max_rows", "must be >= 1, got " + v.Scalar() + " (leave it out for every row)");
            } else {
                return false;
            }
            return true;
        }, "name, max_rows, ");
        if (probe.name.empty() && !item["name"]) p.add(item, k, "each entry needs a 'name' (it labels the probe's curve and metrics)");
        else if (probe.name.empty() && item["name"].IsScalar()) p.add(item["name"], k + ".name", "must not be empty");
        else if (std::any_of(out.begin(), out.end(), [&](const ProbeSpec& q) { return q.name == probe.name; }))
            p.add(item["name"], k + ".name", "'" + probe.name + "' names another probe already; each probe needs a name of its own");
        if (item["weight"]) p.add(item["weight"], k + ".weight", "applies to datasets (a probe is evaluated, not trained on)");
        out.push_back(probe);
    }
}

// eval_tasks: each a task file that `lathe eval` can read, with its local data there, and no task twice. The
// run would otherwise fail at its first evaluation, after the model is loaded.
void check_eval_tasks(const YAML::Node& root, const TrainConfig& c, Problems& p) {
    if (c.eval_tasks.empty()) {
        for (const char* key : {"eval_tasks_limit", "eval_tasks_num_fewshot", "eval_tasks_batch_size"})
            if (root[key] && !root[key].IsNull()) p.add(root[key], key, "applies with eval_tasks (lm-evaluation-harness task files)");
        return;
    }
    const YAML::Node& n = root["eval_tasks"];
    std::map<std::string, std::string> tasks;  // task name -> file
    for (size_t i = 0; i < c.eval_tasks.size(); ++i) {
        const std::string& file = c.eval_tasks[i];
        const YAML::Node& at = n.IsSequence() && i < n.size() ? n[i] : n;
        const std::string key = "eval_tasks[" + std::to_string(i) + "]";
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) {
            p.add(at, key, file + (std::filesystem::exists(file, ec) ? " is not a file" : " does not exist") + " (a task YAML, as `lathe eval --tasks` takes)");
            continue;
        }
        try {
            const eval::TaskConfig task = eval::load_task_config(file);
            for (const auto& [split, files] : task.data_files)
                for (const auto& data : files)
                    if (!std::filesystem::exists(data, ec))
                        p.add(at, key, file + ": dataset_kwargs.data_files: split '" + split + "': " + data + " does not exist");
            if (auto [it, fresh] = tasks.emplace(task.task, file); !fresh)
                p.add(at, key, file + ": task '" + task.task + "' is given twice (also in " + it->second + ")");
        } catch (const std::exception& e) {
            std::string why = e.what();  // a task's own list of problems, indented under this one
            for (size_t nl = why.find('\n'); nl != std::string::npos; nl = why.find('\n', nl + 1)) why.insert(nl + 1, "  ");
            p.add(at, key, why);
        }
    }
}

// QLoRA's keys must agree with each other and with the adapter, as Axolotl requires.
void check_quantization_keys(const YAML::Node& root, const TrainConfig& c, Problems& p) {
    auto node = [&](const char* key) {  // the key, or where bnb_config_kwargs gives it
        if (root[key]) return root[key];
        if (root["bnb_config_kwargs"] && root["bnb_config_kwargs"].IsMap() && root["bnb_config_kwargs"][key]) return root["bnb_config_kwargs"][key];
        return root;
    };
    if (c.load_in_8bit)
        p.add(node("load_in_8bit"), "load_in_8bit", "8-bit base weights are not supported; use adapter: qlora with load_in_4bit: true");
    if (c.adapter == "qlora" && !c.load_in_4bit)
        p.add(root["adapter"], "adapter", "qlora needs load_in_4bit: true (its base weights are held in 4 bits)");
    if (c.load_in_4bit && c.adapter != "qlora")
        p.add(node("load_in_4bit"), "load_in_4bit",
              c.adapter.empty() ? "4-bit base weights cannot be finetuned in full; set adapter: qlora to train an adapter on them"
                                : "applies to adapter: qlora; set adapter: qlora to train LoRA on 4-bit base weights");
    const bool any_bnb = root["bnb_4bit_quant_type"] || root["bnb_4bit_use_double_quant"] || root["bnb_4bit_compute_dtype"] || root["bnb_config_kwargs"];
    if (any_bnb && !c.load_in_4bit) {
        for (const char* key : {"bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_compute_dtype", "bnb_config_kwargs"})
            if (root[key]) p.add(root[key], key, "applies with load_in_4bit: true (adapter: qlora)");
    }
    if (!c.bnb_4bit_quant_type.empty() && c.bnb_4bit_quant_type != "nf4" && c.bnb_4bit_quant_type != "fp4")
        p.add(node("bnb_4bit_quant_type"), "bnb_4bit_quant_type", "'" + c.bnb_4bit_quant_type + "' is not supported (nf4 or fp4)");
    static const char* dtypes[] = {"", "float32", "bfloat16", "float16"};
    if (std::none_of(std::begin(dtypes), std::end(dtypes), [&](const char* d) { return c.bnb_4bit_compute_dtype == d; }))
        p.add(node("bnb_4bit_compute_dtype"), "bnb_4bit_compute_dtype",
              "'" + c.bnb_4bit_compute_dtype + "' is not supported (float32, bfloat16 or float16)");
}

// Preference tuning's keys apply with `rl`, and `rl` with what it supports so far.
void check_preference_keys(const YAML::Node& root, const TrainConfig& c, Problems& p) {
    static const char* keys[] = {"dpo_beta", "rl_beta", "dpo_label_smoothing", "dpo_loss_type", "orpo_alpha", "simpo_gamma",
                                 "cpo_alpha", "precompute_ref_log_probs", "max_length", "max_prompt_length"};
    if (c.rl.empty()) {
        for (const char* key : keys)
            if (root[key] && !root[key].IsNull()) p.add(root[key], key, "applies with rl: dpo, ipo, orpo or simpo (preference tuning)");
        for (size_t i = 0; i < c.datasets.size(); ++i)
            if (c.datasets[i].type == "chat_template.default" || c.datasets[i].type == "chatml.intel")
                p.list.push_back(c.source + ":" + std::to_string(c.datasets[i].line) + ": datasets[" + std::to_string(i) + "].type: '" +
                                 c.datasets[i].type + "' holds preference pairs; it applies with rl: dpo, ipo, orpo or simpo");
        return;
    }
    static const char* methods[] = {"dpo", "ipo", "orpo", "simpo"};
    if (std::none_of(std::begin(methods), std::end(methods), [&](const char* m) { return c.rl == m; }))
        return p.add(root["rl"], "rl", "'" + c.rl + "' is not supported (dpo, ipo, orpo, simpo)");
    const bool dpo = c.rl == "dpo" || c.rl == "ipo";
    if (!c.dpo_loss_type.empty()) {
        if (!dpo) p.add(root["dpo_loss_type"], "dpo_loss_type", "applies to rl: dpo or ipo");
        else if (c.dpo_loss_type != "sigmoid" && c.dpo_loss_type != "ipo" && c.dpo_loss_type != "robust")
            p.add(root["dpo_loss_type"], "dpo_loss_type", "'" + c.dpo_loss_type + "' is not supported (sigmoid, ipo, robust)");
    }
    const std::string loss = !c.dpo_loss_type.empty() ? c.dpo_loss_type : c.rl == "ipo" ? "ipo" : "sigmoid";
    if (c.dpo_label_smoothing > 0 && dpo && loss != "robust")
        p.add(root["dpo_label_smoothing"], "dpo_label_smoothing",
              "TRL's " + loss + " loss has no label smoothing; set dpo_loss_type: robust for DPO with noisy preference labels");
    if (c.dpo_label_smoothing > 0 && c.rl == "orpo") p.add(root["dpo_label_smoothing"], "dpo_label_smoothing", "ORPO has no label smoothing");
    if (root["orpo_alpha"] && c.rl != "orpo") p.add(root["orpo_alpha"], "orpo_alpha", "applies to rl: orpo");
    for (const char* key : {"simpo_gamma", "cpo_alpha"})
        if (root[key] && c.rl != "simpo") p.add(root[key], key, "applies to rl: simpo");
    if (root["precompute_ref_log_probs"] && !dpo) p.add(root["precompute_ref_log_probs"], "precompute_ref_log_probs", "applies to rl: dpo or ipo (ORPO and SimPO have no reference model)");
    const char* why = "is not supported with rl yet";
    if (c.sample_packing) p.add(root["sample_packing"], "sample_packing", std::string(why) + " (pairs run unpacked, chosen and rejected in one batch)");
    if (c.train_on_inputs) p.add(root["train_on_inputs"], "train_on_inputs", std::string(why) + " (preference losses score the completions)");
    if (!c.probe_datasets.empty()) p.add(root["probe_datasets"], "probe_datasets", std::string(why) + " (a preference run evaluates its pairs: val_set_size or test_datasets)");
    if (!c.lora_modules_to_save.empty()) p.add(root["lora_modules_to_save"], "lora_modules_to_save", std::string(why) + " (the reference switches only the adapter off)");
    for (const auto* list : {&c.datasets, &c.test_datasets}) {
        const char* name = list == &c.datasets ? "datasets" : "test_datasets";
        for (size_t i = 0; i < list->size(); ++i) {
            const std::string& type = (*list)[i].type;
            if (!type.empty() && type != "chat_template.default" && type != "chatml.intel")
                p.list.push_back(c.source + ":" + std::to_string((*list)[i].line) + ": " + name + "[" + std::to_string(i) + "].type: with rl every "
                                 "dataset holds preference pairs: leave type out (TRL's prompt/chosen/rejected rows), or chat_template.default or "
                                 "chatml.intel (Axolotl's)");
        }
    }
    if (c.max_length > 0 && c.max_prompt_length >= c.max_length)
        p.add(root["max_prompt_length"], "max_prompt_length", "must be below max_length");
}

}  // namespace

namespace {
TrainConfig config_from_yaml(const YAML::Node& root, const std::string& path);
}  // namespace

quant::BnbQuantizationConfig qlora_quantization(const TrainConfig& c, bool bf16_compute) {
    quant::BnbQuantizationConfig q;
    q.quant_type = c.bnb_4bit_quant_type.empty() ? "nf4" : c.bnb_4bit_quant_type;
    q.double_quant = c.bnb_4bit_use_double_quant.value_or(true);
    q.compute_dtype = !c.bnb_4bit_compute_dtype.empty() ? c.bnb_4bit_compute_dtype : bf16_compute ? "bfloat16" : "float32";
    return q;
}

TrainConfig read_train_config(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw Error(path + ": cannot open");
    } catch (const YAML::ParserException& e) {
        throw Error(path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
    return config_from_yaml(root, path);
}

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& source_name) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::ParserException& e) {
        throw Error(source_name + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
    }
    return config_from_yaml(root, source_name);
}

namespace {

TrainConfig config_from_yaml(const YAML::Node& root, const std::string& path) {
    if (!root.IsMap()) throw Error(path + ": expected a mapping of keys (base_model: ..., learning_rate: ...)");

    TrainConfig c;
    c.source = path;
    Problems p{path, {}};
    using Reader = std::function<void(const YAML::Node&, const std::string&)>;
    auto str = [&](std::string& field) -> Reader { return [&](const YAML::Node& n, const std::string& k) { read_scalar(n, k, field, p, "a string"); }; };
    auto integer = [&](int64_t& field, int64_t min) -> Reader {
        return [&, min](const YAML::Node& n, const std::string& k) {
            if (read_scalar(n, k, field, p, "an integer") && field < min) p.add(n, k, "must be >= " + std::to_string(min) + ", got " + n.Scalar());
        };
    };
    auto number = [&](double& field, double min, double max) -> Reader {
        return [&, min, max](const YAML::Node& n, const std::string& k) {
            if (read_scalar(n, k, field, p, "a number") && !(field >= min && field <= max)) {
                std::ostringstream range;
                range << "must be in [" << min << ", " << max << "], got " << n.Scalar();
                p.add(n, k, range.str());
            }
        };
    };
    auto positive = [&](double& field) -> Reader {
        return [&](const YAML::Node& n, const std::string& k) {
            if (read_scalar(n, k, field, p, "a number") && !(field > 0)) p.add(n, k, "must be > 0, got " + n.Scalar());
        };
    };
    auto flag = [&](bool& field) -> Reader { return [&](const YAML::Node& n, const std::string& k) { read_scalar(n, k, field, p, "true or false"); }; };
    // save_steps / eval_steps: Axolotl's `int | float`; below 1, a share of the run's steps.
    auto steps_or_share = [&](int64_t& steps, double& share) -> Reader {
        return [&](const YAML::Node& n, const std::string& k) {
            double v = 0;
            if (!read_scalar(n, k, v, p, "a number")) return;
            if (v > 0 && v < 1) share = v;
            else if (v == 0 || (v >= 1 && v <= 1e15 && v == std::floor(v))) steps = static_cast<int64_t>(v);
            else p.add(n, k, "must be a whole number of steps, or a fraction of the run below 1, got " + n.Scalar());
        };
    };
    uint64_t seed = c.seed;

    const std::map<std::string, Reader> readers = {
        {"base_model", str(c.base_model)},
        {"adapter", str(c.adapter)},
        {"lora_r", integer(c.lora_r, 1)},
        {"lora_alpha", positive(c.lora_alpha)},
        {"lora_dropout", number(c.lora_dropout, 0, 0.999)},
        {"lora_target_modules", [&](const YAML::Node& n, const std::string& k) { c.lora_target_modules = read_strings(n, k, p); }},
        {"lora_target_linear", flag(c.lora_target_linear)},
        {"lora_model_dir", str(c.lora_model_dir)},
        {"lora_modules_to_save", [&](const YAML::Node& n, const std::string& k) { c.lora_modules_to_save = read_strings(n, k, p); }},
        {"load_in_4bit", flag(c.load_in_4bit)},
        {"load_in_8bit", flag(c.load_in_8bit)},
        {"bnb_4bit_quant_type", str(c.bnb_4bit_quant_type)},
        {"bnb_4bit_use_double_quant", [&](const YAML::Node& n, const std::string& k) {
             bool on = false;
             if (read_scalar(n, k, on, p, "true or false")) c.bnb_4bit_use_double_quant = on;
         }},
        {"bnb_4bit_compute_dtype", str(c.bnb_4bit_compute_dtype)},
        {"bnb_config_kwargs", [&](const YAML::Node& n, const std::string& k) { read_bnb_config_kwargs(n, k, p, c); }},
        {"peft_use_rslora", flag(c.peft_use_rslora)},
        {"peft_use_dora", flag(c.peft_use_dora)},
        {"loraplus_lr_ratio", number(c.loraplus_lr_ratio, 0, 1e6)},
        {"unfrozen_parameters", [&](const YAML::Node& n, const std::string& k) {
             c.unfrozen_parameters = read_strings(n, k, p);
             for (const auto& pattern : c.unfrozen_parameters) {
                 try {
                     std::regex check(pattern);
                 } catch (const std::regex_error& e) {
                     p.add(n, k, "'" + pattern + "' is not a valid regular expression (" + e.what() + ")");
                 }
             }
         }},
        {"datasets", [&](const YAML::Node& n, const std::string& k) { read_datasets(n, k, p, c.datasets); }},
        {"test_datasets", [&](const YAML::Node& n, const std::string& k) { read_datasets(n, k, p, c.test_datasets); }},
        {"probe_datasets", [&](const YAML::Node& n, const std::string& k) { read_probe_datasets(n, k, p, c.probe_datasets); }},
        {"eval_tasks", [&](const YAML::Node& n, const std::string& k) { c.eval_tasks = read_strings(n, k, p); }},
        {"eval_tasks_limit", integer(c.eval_tasks_limit, 1)},
        {"eval_tasks_num_fewshot", integer(c.eval_tasks_num_fewshot, 0)},
        {"eval_tasks_batch_size", integer(c.eval_tasks_batch_size, 1)},
        {"train_on_inputs", flag(c.train_on_inputs)},
        {"dataset_prepared_path", str(c.dataset_prepared_path)},
        {"strict", flag(c.strict)},
        {"truncation", str(c.truncation)},
        {"val_set_size", number(c.val_set_size, 0, 0.999)},
        {"sequence_len", integer(c.sequence_len, 1)},
        {"shuffle", flag(c.shuffle)},
        {"sample_packing", flag(c.sample_packing)},
        {"micro_batch_size", integer(c.micro_batch_size, 1)},
        {"gradient_accumulation_steps", integer(c.gradient_accumulation_steps, 1)},
        {"num_epochs", integer(c.num_epochs, 1)},
        {"max_steps", integer(c.max_steps, 0)},
        {"optimizer", str(c.optimizer)},
        {"learning_rate", positive(c.learning_rate)},
        {"lr_scheduler", str(c.lr_scheduler)},
        {"warmup_steps", integer(c.warmup_steps, 0)},
        {"warmup_ratio", number(c.warmup_ratio, 0, 1)},
        {"cosine_min_lr_ratio", number(c.cosine_min_lr_ratio, 0, 1)},
        {"weight_decay", number(c.weight_decay, 0, 10)},
        {"adam_beta1", number(c.adam_beta1, 0, 0.999999)},
        {"adam_beta2", number(c.adam_beta2, 0, 0.999999)},
        {"adam_epsilon", positive(c.adam_epsilon)},
        {"max_grad_norm", number(c.max_grad_norm, 0, 1e9)},
        {"bf16", [&](const YAML::Node& n, const std::string& k) {
             // Axolotl's values: auto, true, false (and YAML's other spellings of a boolean).
             bool on = false;
             if (n.IsScalar() && n.Scalar() == "auto") c.bf16 = "auto";
             else if (read_scalar(n, k, on, p, "auto, true or false")) c.bf16 = on ? "true" : "false";
         }},
        {"gradient_checkpointing", flag(c.gradient_checkpointing)},
        {"base_model_dropout", flag(c.base_model_dropout)},
        {"device", str(c.device)},
        {"rl", str(c.rl)},
        {"dpo_beta", positive(c.dpo_beta)},
        {"rl_beta", positive(c.dpo_beta)},
        {"dpo_label_smoothing", number(c.dpo_label_smoothing, 0, 0.499999)},
        {"dpo_loss_type", str(c.dpo_loss_type)},
        {"orpo_alpha", positive(c.orpo_alpha)},
        {"simpo_gamma", number(c.simpo_gamma, 0, 1e6)},
        {"cpo_alpha", number(c.cpo_alpha, 0, 1e6)},
        {"precompute_ref_log_probs", flag(c.precompute_ref_log_probs)},
        {"max_length", integer(c.max_length, 2)},
        {"max_prompt_length", integer(c.max_prompt_length, 1)},
        {"output_dir", str(c.output_dir)},
        {"save_steps", steps_or_share(c.save_steps, c.save_steps_fraction)},
        {"saves_per_epoch", integer(c.saves_per_epoch, 0)},
        {"eval_steps", steps_or_share(c.eval_steps, c.eval_steps_fraction)},
        {"evals_per_epoch", integer(c.evals_per_epoch, 0)},
        {"save_total_limit", integer(c.save_total_limit, 0)},
        {"early_stopping_patience", integer(c.early_stopping_patience, 0)},
        {"early_stopping_projection", number(c.early_stopping_projection, 0, 1e6)},
        {"ddp_timeout", integer(c.ddp_timeout, 1)},
        {"ddp_bucket_cap_mb", number(c.ddp_bucket_cap_mb, 1e-6, 1e6)},
        {"zero_stage", [&](const YAML::Node& n, const std::string& k) {
             if (read_scalar(n, k, c.zero_stage, p, "1 or 2") && c.zero_stage != 1 && c.zero_stage != 2)
                 p.add(n, k, "must be 1 (optimizer state sharded) or 2 (optimizer state and gradients), got " + n.Scalar() +
                                 "; stage 3 (parameter sharding) is not implemented (docs/distributed.md)");
         }},
        {"seed", [&](const YAML::Node& n, const std::string& k) { read_scalar(n, k, seed, p, "a non-negative integer"); }},
    };

    for (const auto& kv : root) {
        std::string key = kv.first.Scalar();
        // `key:` with no value is "not set", as in Axolotl: it keeps the default, and an Axolotl config's
        // empty placeholders (wandb_project:, lora_model_dir:, ...) need not be deleted first.
        if (kv.second.IsNull()) continue;
        auto it = readers.find(key);
        if (it == readers.end()) {
            p.add(kv.first, key, "unknown key (docs/config.md lists the keys Lathe reads)");
            continue;
        }
        it->second(kv.second, key);
    }
    c.seed = seed;

    if (!root["base_model"]) p.list.push_back(path + ": base_model: required (a Hugging Face model folder)");
    if (c.datasets.empty()) p.list.push_back(path + ": datasets: at least one dataset is required");
    if (c.truncation != "right" && c.truncation != "left" && c.truncation != "drop")
        p.add(root["truncation"], "truncation", "'" + c.truncation + "' is not supported (right, left or drop)");
    if (!c.test_datasets.empty() && c.val_set_size > 0)
        p.add(root["test_datasets"], "test_datasets", "gives the validation set; leave val_set_size out (it would hold out rows as well)");
    if (!c.unfrozen_parameters.empty() && !c.adapter.empty())
        p.add(root["unfrozen_parameters"], "unfrozen_parameters", "applies to full finetuning; with an adapter only the adapter trains");
    if (!c.adapter.empty() && !uses_lora(c))
        p.add(root["adapter"], "adapter", "'" + c.adapter + "' is not supported (lora, qlora, or leave it out for full finetuning)");
    check_schedule_keys(root, c, p);
    check_quantization_keys(root, c, p);
    check_preference_keys(root, c, p);
    check_eval_tasks(root, c, p);
    if (uses_lora(c) && c.lora_target_modules.empty() && !c.lora_target_linear && c.lora_model_dir.empty())
        p.list.push_back(path + ": lora_target_modules: name the modules to adapt (e.g. [q_proj, v_proj]) or set lora_target_linear: true");
    if (c.optimizer != "adamw_torch" && c.optimizer != "adamw" && c.optimizer != "adamw_torch_fused" && c.optimizer != "sgd")
        p.add(root["optimizer"], "optimizer", "'" + c.optimizer + "' is not supported (adamw_torch, adamw_torch_fused, sgd)");
    static const char* schedulers[] = {"constant", "constant_with_warmup", "linear", "cosine", "cosine_with_min_lr", "warmup_stable_decay"};
    if (std::none_of(std::begin(schedulers), std::end(schedulers), [&](const char* s) { return c.lr_scheduler == s; }))
        p.add(root["lr_scheduler"], "lr_scheduler", "'" + c.lr_scheduler + "' is not supported (constant, constant_with_warmup, linear, cosine, cosine_with_min_lr, warmup_stable_decay)");

    if (!p.list.empty()) {
        std::string all = std::to_string(p.list.size()) + " problem" + (p.list.size() > 1 ? "s" : "") + " in " + path + ":";
        for (const auto& line : p.list) all += "\n  " + line;
        throw Error(all);
    }
    return c;
}

}  // namespace

}  // namespace lathe
