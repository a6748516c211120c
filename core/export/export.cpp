#include "core/export/export.h"

#include <algorithm>
#include <filesystem>

#include "core/export/model_card.h"
#include "core/export/model_files.h"
#include "core/export/peft_export.h"
#include "core/export/staged_output.h"
#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

const std::vector<std::string>& export_formats() {
    static const std::vector<std::string> formats = {"merged", "peft"};
    return formats;
}

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
    } else {
        DType dtype = write_peft_adapter(source, staged.dir(), options.dtype);
        what = std::string("a PEFT LoRA adapter in ") + dtype_display_name(dtype);
    }
    report(0.99, "README.md");
    write_text_file(staged.dir(), "README.md", model_card(source, options.format, what));
    staged.publish();
    report(1.0, "done");
    return staged.final_path();
}

}  // namespace lathe
