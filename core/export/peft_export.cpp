#include "core/export/peft_export.h"

#include <filesystem>

#include "core/export/model_files.h"
#include "core/export/source_model.h"
#include "core/io/tensor_io.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;

DType write_peft_adapter(const ExportSource& source, const std::string& dir, std::optional<DType> dtype) {
    if (source.adapter_dir.empty())
        throw Error(source.weights_dir + " holds full weights, not an adapter; export it with --format merged or gguf");
    load_export_model(source);  // the adapter must fit the base model before anything is written

    const fs::path from = source.adapter_dir;
    Checkpoint ckpt = Checkpoint::open_file((from / "adapter_model.safetensors").string());
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    DType written = DType::F32;
    for (const auto& name : ckpt.names()) {
        at::Tensor t = tensor_view(ckpt.at(name));
        if (dtype && at::isFloatingType(t.scalar_type())) t = t.to(to_scalar_type(*dtype));
        written = to_dtype(t.scalar_type());
        tensors.emplace_back(name, t);
    }
    save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});
    // The config as it was saved (by peft, or by Lathe in peft's layout); read first so a broken file
    // fails the export instead of the user's load.
    read_json_file((from / "adapter_config.json").string());
    copy_file_into((from / "adapter_config.json").string(), dir, "adapter_config.json");
    return written;
}

}  // namespace lathe
