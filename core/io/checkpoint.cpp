#include "core/io/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace fs = std::filesystem;

Checkpoint Checkpoint::open_file(const std::string& path) {
    Checkpoint ckpt;
    ckpt.source_ = path;
    ckpt.files_.push_back(SafetensorsFile::open(path));
    for (const auto& entry : ckpt.files_.back()->header().tensors)
        ckpt.where_[entry.name] = {ckpt.files_.back().get(), &entry};
    return ckpt;
}

Checkpoint Checkpoint::open_dir(const std::string& dir) {
    fs::path single = fs::path(dir) / "model.safetensors";
    fs::path index = fs::path(dir) / "model.safetensors.index.json";
    if (fs::exists(single)) {
        Checkpoint ckpt = open_file(single.string());
        ckpt.source_ = dir;
        return ckpt;
    }
    if (!fs::exists(index)) {
        bool has_bin = fs::exists(fs::path(dir) / "pytorch_model.bin") || fs::exists(fs::path(dir) / "pytorch_model.bin.index.json");
        throw Error(dir + ": no model.safetensors or model.safetensors.index.json" +
                    std::string(has_bin ? " (only pytorch_model.bin, a pickle format Lathe does not load; convert it to safetensors)" : ""));
    }

    nlohmann::json root = read_json_file(index.string());
    auto map_it = root.find("weight_map");
    if (map_it == root.end() || !map_it->is_object())
        throw Error(index.string() + ": missing object 'weight_map' (tensor name -> shard file)");

    Checkpoint ckpt;
    ckpt.source_ = dir;
    std::map<std::string, const SafetensorsFile*> shard_by_name;
    for (auto it = map_it->begin(); it != map_it->end(); ++it) {
        if (!it.value().is_string()) throw Error(index.string() + ": weight_map['" + it.key() + "'] must be a file name");
        std::string shard = it.value().get<std::string>();
        if (shard.find('/') != std::string::npos || shard == ".." )
            throw Error(index.string() + ": weight_map['" + it.key() + "'] names '" + shard + "', which is not a file in the folder");
        auto found = shard_by_name.find(shard);
        if (found == shard_by_name.end()) {
            fs::path shard_path = fs::path(dir) / shard;
            if (!fs::exists(shard_path))
                throw Error(index.string() + ": shard '" + shard + "' (for tensor '" + it.key() + "') is missing");
            ckpt.files_.push_back(SafetensorsFile::open(shard_path.string()));
            found = shard_by_name.emplace(shard, ckpt.files_.back().get()).first;
        }
        const TensorEntry* entry = found->second->find(it.key());
        if (!entry)
            throw Error(index.string() + ": maps tensor '" + it.key() + "' to '" + shard + "', which does not contain it");
        ckpt.where_[it.key()] = {found->second, entry};
    }
    return ckpt;
}

LocatedTensor Checkpoint::at(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error(source_ + ": tensor '" + name + "' is missing");
    return it->second;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    for (const auto& [name, _] : where_) out.push_back(name);
    return out;
}

uint64_t Checkpoint::total_bytes() const {
    uint64_t n = 0;
    for (const auto& f : files_) n += f->mapping()->size();
    return n;
}

int64_t Checkpoint::total_elements() const {
    int64_t n = 0;
    for (const auto& [_, t] : where_) n += t.entry->numel();
    return n;
}

}  // namespace lathe
