#include "core/export/model_card.h"

#include <filesystem>
#include <sstream>

#include "core/util/json_file.h"
#include "core/util/version.h"

namespace lathe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string join(const json& list) {
    std::string out;
    if (!list.is_array()) return out;
    for (const auto& v : list) out += (out.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
    return out;
}

std::string number(double v) {
    std::ostringstream s;
    s.precision(6);
    s << v;
    return s.str();
}

}  // namespace

std::string model_card(const ExportSource& source, const std::string& format, const std::string& what) {
    const ExportProvenance& p = source.provenance;
    json adapter;
    if (!source.adapter_dir.empty()) adapter = read_json_file((fs::path(source.adapter_dir) / "adapter_config.json").string());
    json config = read_json_file((fs::path(source.weights_dir) / "config.json").string());
    const bool trained = p.run_id > 0 || p.step >= 0;
    std::string method = trained ? "full finetuning" : "none recorded: the weights of the model folder as they are";
    if (adapter.is_object()) method = adapter.value("use_dora", false) ? "DoRA" : adapter.value("use_rslora", false) ? "rsLoRA" : "LoRA";

    std::ostringstream md;
    md << "---\n"
       << "base_model: " << json(source.base_model).dump() << "\n"
       << "library_name: " << (format == "peft" ? "peft" : format == "gguf" ? "gguf" : "transformers") << "\n"
       << "tags:\n  - lathe\n";
    if (adapter.is_object()) md << "  - " << (format == "peft" ? "lora" : "lora-merged") << "\n";
    else if (trained) md << "  - full-finetune\n";
    md << "---\n\n";
    md << "# " << fs::path(source.base_model).filename().string() << (trained || adapter.is_object() ? " finetuned with Lathe" : ", exported by Lathe") << "\n\n";
    md << "Written by `lathe export --format " << format << "` (Lathe " << version() << "): " << what << ".";
    if (p.run_id > 0) md << " From run #" << p.run_id << (p.run_name.empty() ? "" : " (" + p.run_name + ")");
    if (p.step >= 0) md << (p.run_id > 0 ? ", " : " From the ") << "checkpoint at step " << p.step;
    if (p.run_id > 0 || p.step >= 0) md << ".";
    md << "\n\n";

    md << "## Base model\n\n`" << source.base_model << "` (" << config.value("model_type", "unknown architecture") << ")\n\n";

    md << "## Method\n\n" << method;
    if (adapter.is_object()) {
        md << ": rank " << adapter.value("r", json()).dump() << ", alpha " << adapter.value("lora_alpha", json()).dump()
           << ", dropout " << adapter.value("lora_dropout", json()).dump() << ", target modules " << join(adapter.value("target_modules", json()));
        if (adapter.contains("modules_to_save") && adapter["modules_to_save"].is_array() && !adapter["modules_to_save"].empty())
            md << "; trained in full: " << join(adapter["modules_to_save"]);
        md << ".\n" << (format == "peft" ? "Saved as a PEFT adapter; load it on the base model with `PeftModel.from_pretrained`.\n"
                                         : "The adapter is merged into the weights (as PEFT's `merge_and_unload`).\n");
    } else {
        md << ".\n";
    }

    if (!p.datasets.empty()) {
        md << "\n## Training data\n\n| dataset | type | rows | bytes |\n|---|---|---|---|\n";
        for (const auto& d : p.datasets)
            md << "| `" << d.value("path", "") << "` | " << d.value("type", "") << " | " << d.value("rows", json()).dump() << " | "
               << d.value("bytes", json()).dump() << " |\n";
    }

    if (p.step >= 0 || !p.metrics.empty()) {
        md << "\n## Training\n\n";
        if (p.step >= 0) md << "- steps: " << p.step << "\n";
        for (const auto& [name, value] : p.metrics.items()) md << "- " << name << ": " << number(value.get<double>()) << "\n";
    }

    if (!p.config_text.empty()) {
        md << "\n<details><summary>Training configuration (run.yaml)</summary>\n\n```yaml\n" << p.config_text;
        if (p.config_text.back() != '\n') md << "\n";
        md << "```\n\n</details>\n";
    }
    return md.str();
}

}  // namespace lathe
