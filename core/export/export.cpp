#include "core/export/export.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>

#include "core/export/gguf_arch.h"
#include "core/export/gguf_export.h"
#include "core/export/model_card.h"
#include "core/export/model_files.h"
#include "core/export/ollama_modelfile.h"
#include "core/export/peft_export.h"
#include "core/export/staged_output.h"
#include "core/models/config.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace lathe {

namespace fs = std::filesystem;

const std::vector<std::string>& export_formats() {
    static const std::vector<std::string> formats = {"merged", "peft", "gguf"};
    return formats;
}

namespace {

const std::vector<std::string> kGgufTypes = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};

// GGUF: the merged model goes to a folder inside the staged output, export_gguf writes NAME-TYPE.gguf
// from it, and the folder is removed; the Modelfile goes beside the .gguf. Returns what was written.
std::string write_gguf(const ExportSource& source, const std::string& dir, const std::string& name, const ExportOptions& options,
                       const std::function<void(double, const std::string&)>& report) {
    const fs::path merged = fs::path(dir) / "merged-for-gguf";
    fs::create_directory(merged);
    // The intermediate keeps the base model's dtype (float32 for an f32 GGUF), unless --dtype says otherwise.
    std::optional<DType> dtype = options.dtype;
    if (!dtype && options.gguf_type == "f32") dtype = DType::F32;
    MergedExportOptions merge{.dtype = dtype, .max_shard_bytes = UINT64_MAX,
                              .progress = [&](double f, const std::string& w) { report(0.4 * f, w); }};
    write_merged_model(source, merged.string(), merge);

    std::string type = options.gguf_type;
    std::transform(type.begin(), type.end(), type.begin(), ::toupper);
    const std::string file = name + "-" + type + ".gguf";
    GgufExportOptions gguf{.type = options.gguf_type, .progress = [&](double f, const std::string& w) { report(0.4 + 0.57 * f, w); }};
    export_gguf(merged.string(), (fs::path(dir) / file).string(), gguf);
    write_text_file(dir, "Modelfile", ollama_modelfile_for(merged.string(), file));
    remove_tree(merged);
    return "a GGUF file (" + type + ", " + file + ") for llama.cpp, with an Ollama Modelfile";
}

}  // namespace

std::string run_export(const ExportSource& source, const ExportOptions& options) {
    const auto& formats = export_formats();
    if (std::find(formats.begin(), formats.end(), options.format) == formats.end()) {
        std::string list;
        for (const auto& f : formats) list += (list.empty() ? "" : ", ") + f;
        throw Error("--format '" + options.format + "' is not one this build writes (" + list + ")");
    }
    if (options.output.empty()) throw Error("give --output, the folder to write");
    if (options.format == "peft" && source.adapter_dir.empty())
        throw Error(source.weights_dir + " holds full weights, not an adapter; a full finetune exports with --format merged");
    if (options.format == "gguf") {
        // Checked before any work: the model type, and the type asked for.
        ModelConfig config = read_model_config(source.weights_dir);
        if (!gguf_arch_for_model_type(config.model_type))
            throw Error(config.path + ": model_type '" + config.model_type + "' cannot be exported to GGUF by Lathe (supported: " +
                        gguf_supported_model_types() + ")");
        if (!fs::exists(fs::path(source.base_model) / "tokenizer.json"))
            throw Error(source.base_model + ": no tokenizer.json; a GGUF file carries the tokenizer, so the base model needs one "
                        "(pass the model folder that has it as --base-model)");
        if (std::find(kGgufTypes.begin(), kGgufTypes.end(), options.gguf_type) == kGgufTypes.end())
            throw Error("--gguf-type '" + options.gguf_type + "' is not supported (use f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k)");
    }
    if (options.dtype && *options.dtype != DType::F32 && *options.dtype != DType::F16 && *options.dtype != DType::BF16)
        throw Error("--dtype must be float32, bfloat16 or float16");

    auto report = [&](double fraction, const std::string& what) {
        if (options.progress) options.progress(std::clamp(fraction, 0.0, 1.0), what);
    };
    StagedOutput staged(options.output, options.force);  // refuses an existing output before any work
    report(0.0, "loading " + (source.adapter_dir.empty() ? source.weights_dir : source.adapter_dir));

    std::string what;
    if (options.format == "merged") {
        MergedExportOptions merged{.dtype = options.dtype, .max_shard_bytes = options.max_shard_bytes,
                                   .progress = [&](double f, const std::string& w) { report(0.98 * f, w); }};
        DType dtype = write_merged_model(source, staged.dir(), merged);
        what = std::string("a Hugging Face model in ") + dtype_display_name(dtype) +
               (source.adapter_dir.empty() ? "" : ", the adapter merged into the weights");
    } else if (options.format == "gguf") {
        what = write_gguf(source, staged.dir(), fs::path(staged.final_path()).filename().string(), options, report);
    } else {
        DType dtype = write_peft_adapter(source, staged.dir(), options.dtype);
        what = std::string("a PEFT LoRA adapter in ") + dtype_display_name(dtype);
    }
    report(0.99, "README.md");
    write_text_file(staged.dir(), "README.md", model_card(source, options.format, what));
    // The last report, which may still cancel; after the rename the export is complete.
    report(1.0, "publishing " + staged.final_path());
    staged.publish();
    return staged.final_path();
}

}  // namespace lathe
