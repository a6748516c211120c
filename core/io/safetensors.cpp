#include "core/io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace lathe {

using nlohmann::json;

namespace {

// The reference implementation refuses headers above 100 MB; so do we, before allocating anything.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

uint64_t read_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

TensorEntry parse_entry(const std::string& name, const json& value) {
    auto fail = [&](const std::string& what) { return Error("tensor '" + name + "': " + what); };
    if (!value.is_object()) throw fail("expected an object with dtype, shape and data_offsets");
    TensorEntry entry;
    entry.name = name;

    auto dtype_it = value.find("dtype");
    if (dtype_it == value.end() || !dtype_it->is_string()) throw fail("missing string field 'dtype'");
    auto dtype = dtype_from_safetensors_name(dtype_it->get<std::string>());
    if (!dtype)
        throw fail("unsupported dtype '" + dtype_it->get<std::string>() +
                   "' (Lathe reads F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL; convert the checkpoint first)");
    entry.dtype = *dtype;

    auto shape_it = value.find("shape");
    if (shape_it == value.end() || !shape_it->is_array()) throw fail("missing array field 'shape'");
    uint64_t numel = 1;
    for (const auto& dim : *shape_it) {
        if (!dim.is_number_unsigned()) throw fail("shape must hold non-negative integers, got " + shape_it->dump());
        uint64_t d = dim.get<uint64_t>();
        if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
            (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d))
            throw fail("shape " + shape_it->dump() + " is too large");
        numel *= d;
        entry.shape.push_back(static_cast<int64_t>(d));
    }

    auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned())
        throw fail("'data_offsets' must be [begin, end] with non-negative integers");
    entry.begin = (*offsets_it)[0].get<uint64_t>();
    entry.end = (*offsets_it)[1].get<uint64_t>();
    if (entry.end < entry.begin) throw fail("data_offsets end is before begin");

    size_t esize = element_size(entry.dtype);
    if (numel > std::numeric_limits<uint64_t>::max() / esize) throw fail("shape is too large");
    if (entry.end - entry.begin != numel * esize)
        throw fail("data_offsets cover " + std::to_string(entry.end - entry.begin) + " bytes but shape " +
                   shape_it->dump() + " of " + safetensors_name(entry.dtype) + " needs " +
                   std::to_string(numel * esize));
    return entry;
}

}  // namespace

int64_t TensorEntry::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* file, size_t file_size, const std::string& where) {
    try {
        if (file_size < 8)
            throw Error("file is " + std::to_string(file_size) + " bytes, too short for a safetensors header");
        uint64_t header_len = read_le64(file);
        if (header_len > kMaxHeaderBytes)
            throw Error("header length " + std::to_string(header_len) + " exceeds the 100 MB limit; not a safetensors file?");
        if (header_len > file_size - 8)
            throw Error("header length " + std::to_string(header_len) + " runs past the end of the file (" +
                        std::to_string(file_size) + " bytes); the file is truncated");

        const char* text = reinterpret_cast<const char*>(file + 8);
        json root;
        try {
            root = json::parse(text, text + header_len);
        } catch (const json::exception& e) {  // syntax errors, and numbers too large for any type
            throw Error(std::string("header is not valid JSON: ") + e.what());
        }
        if (!root.is_object()) throw Error("header must be a JSON object");

        SafetensorsHeader header;
        header.data_offset = 8 + header_len;
        uint64_t data_size = file_size - header.data_offset;
        for (auto it = root.begin(); it != root.end(); ++it) {
            if (it.key() == "__metadata__") {
                if (!it.value().is_object()) throw Error("'__metadata__' must be an object of strings");
                for (auto m = it.value().begin(); m != it.value().end(); ++m) {
                    if (!m.value().is_string()) throw Error("'__metadata__." + m.key() + "' must be a string");
                    header.metadata[m.key()] = m.value().get<std::string>();
                }
                continue;
            }
            TensorEntry entry = parse_entry(it.key(), it.value());
            if (entry.end > data_size)
                throw Error("tensor '" + entry.name + "': data runs to byte " + std::to_string(entry.end) +
                            " but the data section has " + std::to_string(data_size) + "; the file is truncated");
            header.tensors.push_back(std::move(entry));
        }

        // No two tensors may share bytes: a crafted header could otherwise alias weights.
        std::vector<const TensorEntry*> by_offset;
        for (const auto& t : header.tensors) by_offset.push_back(&t);
        std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
        const TensorEntry* furthest = nullptr;  // the non-empty tensor reaching furthest so far
        for (const TensorEntry* t : by_offset) {
            if (t->begin == t->end) continue;
            if (furthest && t->begin < furthest->end)
                throw Error("tensors '" + furthest->name + "' and '" + t->name + "' overlap in the data section");
            if (!furthest || t->end > furthest->end) furthest = t;
        }
        return header;
    } catch (const Error& e) {
        throw e.within(where);
    }
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    auto file = std::make_shared<SafetensorsFile>();
    file->mapping_ = MappedFile::open(path);
    file->header_ = parse_safetensors_header(file->mapping_->data(), file->mapping_->size(), path);
    for (size_t i = 0; i < file->header_.tensors.size(); ++i) file->index_[file->header_.tensors[i].name] = i;
    return file;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

void write_safetensors(const std::string& path, std::vector<TensorBytes> tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::stable_sort(tensors.begin(), tensors.end(), [](const TensorBytes& a, const TensorBytes& b) {
        size_t sa = element_size(a.dtype), sb = element_size(b.dtype);
        return sa != sb ? sa > sb : a.name < b.name;
    });
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        uint64_t numel = 1;
        for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
        if (numel * element_size(t.dtype) != t.nbytes)
            throw Error(path + ": tensor '" + t.name + "' has " + std::to_string(t.nbytes) +
                        " bytes but its shape needs " + std::to_string(numel * element_size(t.dtype)));
        if (header.contains(t.name)) throw Error(path + ": tensor '" + t.name + "' given twice");
        header[t.name] = {{"dtype", safetensors_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
        offset += t.nbytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');

    AtomicFile out(path);
    uint8_t len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(len, 8);
    out.write(text.data(), text.size());
    for (const auto& t : tensors) out.write(t.data, t.nbytes);
    out.commit();
}

}  // namespace lathe
