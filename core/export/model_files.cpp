#include "core/export/model_files.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/checkpoint.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;

void write_text_file(const std::string& dir, const std::string& name, const std::string& text) {
    AtomicFile f((fs::path(dir) / name).string());
    f.write(text.data(), text.size());
    f.commit();
}

void copy_file_into(const std::string& from, const std::string& dir, const std::string& name) {
    std::ifstream in(from, std::ios::binary);
    if (!in) throw Error(from + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    write_text_file(dir, name, text.str());
}

DType stored_dtype(const std::string& model_dir) {
    Checkpoint ckpt = Checkpoint::open_dir(model_dir);
    std::map<DType, int64_t> elements;
    for (const auto& name : ckpt.names()) {
        const TensorEntry& e = *ckpt.at(name).entry;
        if (e.dtype == DType::F32 || e.dtype == DType::F16 || e.dtype == DType::BF16 || e.dtype == DType::F64) elements[e.dtype] += e.numel();
    }
    if (elements.empty()) throw Error(model_dir + ": the model has no floating-point weights");
    auto most = elements.begin();
    for (auto it = elements.begin(); it != elements.end(); ++it)
        if (it->second > most->second) most = it;
    return most->first;
}

void write_model_config(const std::string& from_dir, const std::string& to_dir, DType dtype) {
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(read_json_file((fs::path(from_dir) / "config.json").string()).dump());
    // read_json_file sorts keys; transformers writes them sorted too, so the order matches its own files.
    config["dtype"] = dtype_display_name(dtype);
    config.erase("quantization_config");  // the weights written here are float (lathe quantize adds its own)
    if (config.contains("torch_dtype")) config["torch_dtype"] = dtype_display_name(dtype);
    write_text_file(to_dir, "config.json", config.dump(2) + "\n");
}

void write_generation_config(const std::string& from_dir, const std::string& to_dir) {
    fs::path given = fs::path(from_dir) / "generation_config.json";
    if (fs::exists(given)) {
        read_json_file(given.string());  // a broken file is an error now, not when someone loads the export
        copy_file_into(given.string(), to_dir, "generation_config.json");
        return;
    }
    nlohmann::json config = read_json_file((fs::path(from_dir) / "config.json").string());
    nlohmann::json gen = {{"_from_model_config", true}};
    for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"})
        if (config.contains(key) && !config[key].is_null()) gen[key] = config[key];
    write_text_file(to_dir, "generation_config.json", gen.dump(2) + "\n");
}

int copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir) {
    static const char* names[] = {"tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                                  "chat_template.jinja", "chat_template.json", "tokenizer.model",         "vocab.json",
                                  "merges.txt",       "vocab.txt"};
    int copied = 0;
    for (const char* name : names) {
        fs::path from = fs::path(from_dir) / name;
        if (!fs::exists(from)) continue;
        copy_file_into(from.string(), to_dir, name);
        ++copied;
    }
    fs::path templates = fs::path(from_dir) / "additional_chat_templates";  // named templates, transformers 4.5x+
    if (fs::is_directory(templates)) {
        fs::create_directory(fs::path(to_dir) / "additional_chat_templates");
        for (const auto& entry : fs::directory_iterator(templates))
            if (entry.is_regular_file())
                copy_file_into(entry.path().string(), (fs::path(to_dir) / "additional_chat_templates").string(), entry.path().filename().string());
    }
    return copied;
}

void write_shard_index(const std::string& to_dir, const std::map<std::string, std::string>& weight_map, uint64_t total_bytes,
                       int64_t total_parameters) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_parameters", total_parameters}, {"total_size", total_bytes}};
    index["weight_map"] = nlohmann::ordered_json::object();
    for (const auto& [name, file] : weight_map) index["weight_map"][name] = file;
    write_text_file(to_dir, "model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace lathe
