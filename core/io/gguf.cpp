#include "core/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/util/error.h"

namespace lathe {

namespace {

struct NamedType {
    uint32_t id;
    GgmlTypeTraits traits;
};

// Layouts from ggml's type_traits (ggml.c) / gguf-py's GGML_QUANT_SIZES.
constexpr int64_t QK_K = 256;
const NamedType kTypes[] = {
    {0, {"F32", 1, 4}},
    {1, {"F16", 1, 2}},
    {2, {"Q4_0", 32, 2 + 16}},
    {3, {"Q4_1", 32, 2 + 2 + 16}},
    {6, {"Q5_0", 32, 2 + 4 + 16}},
    {7, {"Q5_1", 32, 2 + 2 + 4 + 16}},
    {8, {"Q8_0", 32, 2 + 32}},
    {9, {"Q8_1", 32, 4 + 4 + 32}},
    {10, {"Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4}},
    {11, {"Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12}},
    {12, {"Q4_K", QK_K, 2 + 2 + QK_K / 2 + 12}},
    {13, {"Q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12}},
    {14, {"Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16}},
    {15, {"Q8_K", QK_K, 4 + QK_K + QK_K / 8}},
    {24, {"I8", 1, 1}},
    {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},
    {27, {"I64", 1, 8}},
    {28, {"F64", 1, 8}},
    {30, {"BF16", 1, 2}},
};

// Types llama.cpp has whose layout Lathe does not read; named in errors so the user knows what they have.
const char* other_type_name(uint32_t id) {
    switch (id) {
        case 16: return "IQ2_XXS";
        case 17: return "IQ2_XS";
        case 18: return "IQ3_XXS";
        case 19: return "IQ1_S";
        case 20: return "IQ4_NL";
        case 21: return "IQ3_S";
        case 22: return "IQ2_S";
        case 23: return "IQ4_XS";
        case 29: return "IQ1_M";
        case 34: return "TQ1_0";
        case 35: return "TQ2_0";
        case 39: return "MXFP4";
        default: return nullptr;
    }
}

// A bounds-checked cursor over the header. Every read names what it was reading when the file ends.
class Cursor {
public:
    Cursor(const uint8_t* data, size_t size, const std::string& where) : data_(data), size_(size), where_(where) {}

    size_t pos() const { return pos_; }

    void need(uint64_t n, const std::string& what) const {
        if (n > size_ - pos_) {
            throw Error(where_ + ": file ends inside " + what + " (at byte " + std::to_string(pos_) + " of " +
                        std::to_string(size_) + "); the file is truncated or not GGUF");
        }
    }
    template <typename T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string read_string(const std::string& what) {
        uint64_t n = read<uint64_t>(what + " (length)");
        need(n, what);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return s;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    const std::string& where_;
};

size_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        default: return 0;
    }
}

bool known_value_type(uint32_t t) { return t <= 12; }

// Reads one scalar of type `t` into `v` (the right field for its kind).
void read_scalar(Cursor& c, GgufType t, GgufValue& v, int64_t& as_int, double& as_float, const std::string& what) {
    switch (t) {
        case GgufType::U8: as_int = c.read<uint8_t>(what); break;
        case GgufType::I8: as_int = c.read<int8_t>(what); break;
        case GgufType::U16: as_int = c.read<uint16_t>(what); break;
        case GgufType::I16: as_int = c.read<int16_t>(what); break;
        case GgufType::U32: as_int = c.read<uint32_t>(what); break;
        case GgufType::I32: as_int = c.read<int32_t>(what); break;
        case GgufType::I64: as_int = c.read<int64_t>(what); break;
        case GgufType::U64: {
            uint64_t u = c.read<uint64_t>(what);
            v.u = u;
            as_int = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
            break;
        }
        case GgufType::BOOL: {
            uint8_t b = c.read<uint8_t>(what);
            if (b > 1) throw Error(what + ": bool value " + std::to_string(b) + " is neither 0 nor 1");
            as_int = b;
            break;
        }
        case GgufType::F32: as_float = c.read<float>(what); break;
        case GgufType::F64: as_float = c.read<double>(what); break;
        default: LATHE_ASSERT(false);
    }
}

GgufValue read_value(Cursor& c, GgufType type, const std::string& key, const std::string& where) {
    GgufValue v;
    v.type = type;
    const std::string what = "metadata value '" + key + "'";
    if (type == GgufType::STRING) {
        v.s = c.read_string(what);
    } else if (type == GgufType::ARRAY) {
        uint32_t et = c.read<uint32_t>(what + " (array type)");
        if (!known_value_type(et)) {
            throw Error(where + ": metadata '" + key + "' is an array of unknown value type " + std::to_string(et));
        }
        v.array_type = static_cast<GgufType>(et);
        if (v.array_type == GgufType::ARRAY) {
            throw Error(where + ": metadata '" + key + "' is an array of arrays, which ggml does not read either");
        }
        uint64_t n = c.read<uint64_t>(what + " (array length)");
        // Each element takes at least one byte (a string at least eight): a length beyond that is a lie.
        uint64_t min_each = v.array_type == GgufType::STRING ? 8 : scalar_size(v.array_type);
        c.need(n > UINT64_MAX / min_each ? UINT64_MAX : n * min_each, what + " (" + std::to_string(n) + " elements)");
        if (v.array_type == GgufType::STRING) {
            v.strings.reserve(n);
            for (uint64_t i = 0; i < n; ++i) v.strings.push_back(c.read_string(what + "[" + std::to_string(i) + "]"));
        } else if (v.array_type == GgufType::F32 || v.array_type == GgufType::F64) {
            v.floats.resize(n);
            for (uint64_t i = 0; i < n; ++i) {
                int64_t unused = 0;
                read_scalar(c, v.array_type, v, unused, v.floats[i], what);
            }
        } else {
            v.ints.resize(n);
            for (uint64_t i = 0; i < n; ++i) {
                double unused = 0;
                read_scalar(c, v.array_type, v, v.ints[i], unused, what);
            }
        }
    } else {
        read_scalar(c, type, v, v.i, v.f, what);
        if (type != GgufType::U64 && v.is_integer()) v.u = static_cast<uint64_t>(v.i);
    }
    return v;
}

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t type) {
    for (const auto& t : kTypes) {
        if (t.id == type) return &t.traits;
    }
    return nullptr;
}

std::string ggml_type_name(uint32_t type) {
    if (auto* t = ggml_type_traits(type)) return t->name;
    if (auto* n = other_type_name(type)) return "type " + std::to_string(type) + " (" + n + ")";
    return "type " + std::to_string(type);
}

uint64_t ggml_row_bytes(GgmlType type, int64_t n) {
    const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
    LATHE_ASSERT(t && n % t->block_size == 0);
    return static_cast<uint64_t>(n / t->block_size) * static_cast<uint64_t>(t->type_size);
}

const char* gguf_type_name(GgufType type) {
    switch (type) {
        case GgufType::U8: return "uint8";
        case GgufType::I8: return "int8";
        case GgufType::U16: return "uint16";
        case GgufType::I16: return "int16";
        case GgufType::U32: return "uint32";
        case GgufType::I32: return "int32";
        case GgufType::F32: return "float32";
        case GgufType::BOOL: return "bool";
        case GgufType::STRING: return "string";
        case GgufType::ARRAY: return "array";
        case GgufType::U64: return "uint64";
        case GgufType::I64: return "int64";
        case GgufType::F64: return "float64";
    }
    return "?";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
        case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
        default: return false;
    }
}

size_t GgufValue::array_size() const { return strings.size() + ints.size() + floats.size(); }

int64_t GgufTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {ne.rbegin(), ne.rend()}; }

const GgufValue* GgufHeader::find(const std::string& key) const {
    auto it = metadata_index.find(key);
    return it == metadata_index.end() ? nullptr : &metadata[it->second].second;
}

GgufHeader parse_gguf(const uint8_t* file, size_t file_size, const std::string& where) {
    Cursor c(file, file_size, where);
    GgufHeader h;

    c.need(4, "the magic");
    if (std::memcmp(file, "GGUF", 4) != 0) throw Error(where + ": not a GGUF file (it does not start with \"GGUF\")");
    c.read<uint32_t>("the magic");
    h.version = c.read<uint32_t>("the version");
    if (h.version == 1) throw Error(where + ": GGUF version 1 is not supported (convert it with a current llama.cpp)");
    if (h.version != 2 && h.version != 3) {
        // A big-endian file reads as a byte-swapped version number.
        if ((h.version & 0xFFFF) == 0) throw Error(where + ": big-endian GGUF files are not supported");
        throw Error(where + ": unsupported GGUF version " + std::to_string(h.version) + " (Lathe reads 2 and 3)");
    }
    const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
    const uint64_t n_kv = c.read<uint64_t>("the metadata count");
    // Each key/value takes at least 12 bytes and each tensor info at least 24: larger counts cannot fit.
    if (n_kv > file_size / 12 || n_tensors > file_size / 24) {
        throw Error(where + ": header claims " + std::to_string(n_kv) + " metadata entries and " +
                    std::to_string(n_tensors) + " tensors, more than a " + std::to_string(file_size) +
                    "-byte file can hold");
    }

    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string key = c.read_string("metadata key #" + std::to_string(i));
        if (key.empty()) throw Error(where + ": metadata key #" + std::to_string(i) + " is empty");
        uint32_t vt = c.read<uint32_t>("the type of metadata '" + key + "'");
        if (!known_value_type(vt)) {
            throw Error(where + ": metadata '" + key + "' has unknown value type " + std::to_string(vt));
        }
        GgufValue v = read_value(c, static_cast<GgufType>(vt), key, where);
        if (h.metadata_index.count(key)) throw Error(where + ": metadata key '" + key + "' appears twice");
        h.metadata_index[key] = h.metadata.size();
        h.metadata.emplace_back(std::move(key), std::move(v));
    }

    if (const GgufValue* a = h.find("general.alignment")) {
        if (a->type != GgufType::U32) {
            throw Error(where + ": general.alignment is " + gguf_type_name(a->type) + ", expected uint32");
        }
        if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
            throw Error(where + ": general.alignment " + std::to_string(a->u) + " is not a power of two");
        }
        h.alignment = a->u;
    }

    std::set<std::string> names;
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t;
        t.name = c.read_string("tensor info #" + std::to_string(i));
        const std::string what = "tensor '" + t.name + "'";
        if (!names.insert(t.name).second) throw Error(where + ": " + what + " appears twice");
        uint32_t n_dims = c.read<uint32_t>(what + " (dims)");
        if (n_dims == 0 || n_dims > 4) {
            throw Error(where + ": " + what + " has " + std::to_string(n_dims) + " dimensions (ggml allows 1 to 4)");
        }
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t n = c.read<uint64_t>(what + " (shape)");
            if (n == 0 || n > (uint64_t(1) << 40)) {
                throw Error(where + ": " + what + " has dimension " + std::to_string(d) + " = " + std::to_string(n));
            }
            t.ne.push_back(static_cast<int64_t>(n));
        }
        uint32_t type = c.read<uint32_t>(what + " (type)");
        const GgmlTypeTraits* traits = ggml_type_traits(type);
        if (!traits) {
            throw Error(where + ": " + what + " has tensor " + ggml_type_name(type) +
                        ", which Lathe cannot read (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                        "Q4_K, Q5_K, Q6_K and the other non-IQ ggml types)");
        }
        t.type = static_cast<GgmlType>(type);
        t.offset = c.read<uint64_t>(what + " (offset)");
        if (t.ne[0] % traits->block_size != 0) {
            throw Error(where + ": " + what + " has " + std::to_string(t.ne[0]) + " columns, not a multiple of " +
                        traits->name + "'s block size " + std::to_string(traits->block_size));
        }
        // Dims are each < 2^40 but their product can still overflow: check as we go.
        uint64_t rows = 1;
        for (size_t d = 1; d < t.ne.size(); ++d) {
            if (rows > (uint64_t(1) << 62) / static_cast<uint64_t>(t.ne[d])) throw Error(where + ": " + what + " is impossibly large");
            rows *= static_cast<uint64_t>(t.ne[d]);
        }
        uint64_t row = ggml_row_bytes(t.type, t.ne[0]);
        if (row != 0 && rows > (uint64_t(1) << 62) / row) throw Error(where + ": " + what + " is impossibly large");
        t.nbytes = rows * row;
        if (t.offset % h.alignment != 0) {
            throw Error(where + ": " + what + " starts at offset " + std::to_string(t.offset) +
                        ", not a multiple of the alignment " + std::to_string(h.alignment));
        }
        h.tensors.push_back(std::move(t));
    }

    h.data_offset = (c.pos() + h.alignment - 1) / h.alignment * h.alignment;
    const uint64_t data_size = file_size >= h.data_offset ? file_size - h.data_offset : 0;
    if (!h.tensors.empty() && file_size < h.data_offset) {
        throw Error(where + ": file ends before the tensor data starts; the file is truncated");
    }

    std::vector<const GgufTensorInfo*> by_offset;
    for (const auto& t : h.tensors) {
        if (t.offset > data_size || t.nbytes > data_size - t.offset) {
            throw Error(where + ": tensor '" + t.name + "' (bytes " + std::to_string(t.offset) + ".." +
                        std::to_string(t.offset + t.nbytes) + " of the data section) lies beyond the end of the file (" +
                        std::to_string(data_size) + " data bytes); the file is truncated or the offset is wrong");
        }
        by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const auto* a = by_offset[i - 1];
        const auto* b = by_offset[i];
        if (a->offset + a->nbytes > b->offset) {
            throw Error(where + ": tensors '" + a->name + "' and '" + b->name + "' overlap in the data section");
        }
    }
    return h;
}

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
    auto f = std::shared_ptr<GgufFile>(new GgufFile());
    f->mapping_ = MappedFile::open(path);
    f->header_ = parse_gguf(f->mapping_->data(), f->mapping_->size(), path);
    for (size_t i = 0; i < f->header_.tensors.size(); ++i) f->tensor_index_[f->header_.tensors[i].name] = i;
    return f;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &header_.tensors[it->second];
}

std::optional<std::string> GgufFile::opt_string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufType::STRING) {
        throw Error(path() + ": metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected a string");
    }
    return v->s;
}

std::optional<int64_t> GgufFile::opt_int(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer()) {
        throw Error(path() + ": metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected an integer");
    }
    if (v->type == GgufType::U64 && v->u > static_cast<uint64_t>(INT64_MAX)) {
        throw Error(path() + ": metadata '" + key + "' = " + std::to_string(v->u) + " is out of range");
    }
    return v->i;
}

std::optional<double> GgufFile::opt_float(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type == GgufType::F32 || v->type == GgufType::F64) return v->f;
    if (v->is_integer()) return static_cast<double>(v->i);
    throw Error(path() + ": metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected a number");
}

std::optional<bool> GgufFile::opt_bool(const std::string& key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != GgufType::BOOL) {
        throw Error(path() + ": metadata '" + key + "' is " + gguf_type_name(v->type) + ", expected a bool");
    }
    return v->i != 0;
}

std::string GgufFile::get_string(const std::string& key) const {
    if (auto v = opt_string(key)) return *v;
    throw Error(path() + ": metadata '" + key + "' is missing");
}

int64_t GgufFile::get_int(const std::string& key) const {
    if (auto v = opt_int(key)) return *v;
    throw Error(path() + ": metadata '" + key + "' is missing");
}

double GgufFile::get_float(const std::string& key) const {
    if (auto v = opt_float(key)) return *v;
    throw Error(path() + ": metadata '" + key + "' is missing");
}

}  // namespace lathe
