#include "core/io/gguf_writer.h"

#include <cstring>
#include <set>

#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace lathe {

namespace {

class Bytes {
public:
    template <typename T>
    void put(T v) {
        size_t at = buf.size();
        buf.resize(at + sizeof(T));
        std::memcpy(buf.data() + at, &v, sizeof(T));
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        buf.insert(buf.end(), s.begin(), s.end());
    }
    std::vector<uint8_t> buf;
};

void put_scalar(Bytes& b, GgufType t, int64_t i, double f) {
    switch (t) {
        case GgufType::U8: b.put<uint8_t>(static_cast<uint8_t>(i)); break;
        case GgufType::I8: b.put<int8_t>(static_cast<int8_t>(i)); break;
        case GgufType::U16: b.put<uint16_t>(static_cast<uint16_t>(i)); break;
        case GgufType::I16: b.put<int16_t>(static_cast<int16_t>(i)); break;
        case GgufType::U32: b.put<uint32_t>(static_cast<uint32_t>(i)); break;
        case GgufType::I32: b.put<int32_t>(static_cast<int32_t>(i)); break;
        case GgufType::U64: b.put<uint64_t>(static_cast<uint64_t>(i)); break;
        case GgufType::I64: b.put<int64_t>(i); break;
        case GgufType::BOOL: b.put<uint8_t>(i ? 1 : 0); break;
        case GgufType::F32: b.put<float>(static_cast<float>(f)); break;
        case GgufType::F64: b.put<double>(f); break;
        default: LATHE_ASSERT(false);
    }
}

void put_value(Bytes& b, const GgufValue& v) {
    b.put<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.type == GgufType::STRING) {
        b.put_string(v.s);
    } else if (v.type == GgufType::ARRAY) {
        b.put<uint32_t>(static_cast<uint32_t>(v.array_type));
        b.put<uint64_t>(v.array_size());
        if (v.array_type == GgufType::STRING) {
            for (const auto& s : v.strings) b.put_string(s);
        } else if (v.array_type == GgufType::F32 || v.array_type == GgufType::F64) {
            for (double f : v.floats) put_scalar(b, v.array_type, 0, f);
        } else {
            for (int64_t i : v.ints) put_scalar(b, v.array_type, i, 0);
        }
    } else if (v.type == GgufType::U64) {
        b.put<uint64_t>(v.u);
    } else {
        put_scalar(b, v.type, v.i, v.f);
    }
}

uint64_t pad_to(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue v) {
    for (auto& [k, old] : kv_) {
        if (k == key) {
            old = std::move(v);
            return;
        }
    }
    kv_.emplace_back(key, std::move(v));
}

void GgufWriter::set_string(const std::string& key, const std::string& s) {
    GgufValue v;
    v.type = GgufType::STRING;
    v.s = s;
    set(key, std::move(v));
}

void GgufWriter::set_u32(const std::string& key, uint32_t x) {
    GgufValue v;
    v.type = GgufType::U32;
    v.i = x;
    v.u = x;
    set(key, std::move(v));
}

void GgufWriter::set_i32(const std::string& key, int32_t x) {
    GgufValue v;
    v.type = GgufType::I32;
    v.i = x;
    set(key, std::move(v));
}

void GgufWriter::set_f32(const std::string& key, float x) {
    GgufValue v;
    v.type = GgufType::F32;
    v.f = x;
    set(key, std::move(v));
}

void GgufWriter::set_bool(const std::string& key, bool x) {
    GgufValue v;
    v.type = GgufType::BOOL;
    v.i = x ? 1 : 0;
    set(key, std::move(v));
}

void GgufWriter::set_strings(const std::string& key, const std::vector<std::string>& xs) {
    GgufValue v;
    v.type = GgufType::ARRAY;
    v.array_type = GgufType::STRING;
    v.strings = xs;
    set(key, std::move(v));
}

void GgufWriter::set_i32s(const std::string& key, const std::vector<int32_t>& xs) {
    GgufValue v;
    v.type = GgufType::ARRAY;
    v.array_type = GgufType::I32;
    v.ints.assign(xs.begin(), xs.end());
    set(key, std::move(v));
}

void GgufWriter::set_f32s(const std::string& key, const std::vector<float>& xs) {
    GgufValue v;
    v.type = GgufType::ARRAY;
    v.array_type = GgufType::F32;
    v.floats.assign(xs.begin(), xs.end());
    set(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, Fill fill) {
    const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
    LATHE_ASSERT(t && !ne.empty() && ne.size() <= 4 && ne[0] % t->block_size == 0);
    for (const auto& existing : tensors_) LATHE_ASSERT(existing.name != name);
    uint64_t rows = 1;
    for (size_t d = 1; d < ne.size(); ++d) rows *= static_cast<uint64_t>(ne[d]);
    uint64_t nbytes = ggml_row_bytes(type, ne[0]) * rows;
    tensors_.push_back({name, type, std::move(ne), nbytes, std::move(fill)});
}

void GgufWriter::write(const std::string& path,
                       const std::function<void(size_t, size_t, const std::string&)>& progress) const {
    Bytes h;
    h.buf.insert(h.buf.end(), {'G', 'G', 'U', 'F'});
    h.put<uint32_t>(3);
    h.put<uint64_t>(tensors_.size());
    h.put<uint64_t>(kv_.size());
    for (const auto& [key, v] : kv_) {
        h.put_string(key);
        put_value(h, v);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        h.put_string(t.name);
        h.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) h.put<uint64_t>(static_cast<uint64_t>(d));
        h.put<uint32_t>(static_cast<uint32_t>(t.type));
        h.put<uint64_t>(offset);
        offset += pad_to(t.nbytes, alignment_);
    }
    h.buf.resize(pad_to(h.buf.size(), alignment_), 0);

    AtomicFile out(path);
    out.write(h.buf.data(), h.buf.size());
    std::vector<uint8_t> data;
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const auto& t = tensors_[i];
        if (progress) progress(i, tensors_.size(), t.name);
        data.assign(pad_to(t.nbytes, alignment_), 0);
        t.fill(data.data());
        out.write(data.data(), data.size());
    }
    out.commit();
}

}  // namespace lathe
