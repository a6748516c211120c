// The GGUF reader and writer: every value type round-trips, and every way a file can be broken is a
// clear lathe::Error naming the key or tensor, never a crash. Import of a broken file writes nothing.
#include <gtest/gtest.h>

#include <cstring>

#include "core/export/gguf_import.h"
#include "core/io/gguf.h"
#include "core/io/gguf_quants.h"
#include "core/io/gguf_writer.h"
#include "tests/gguf_test_util.h"

namespace lathe {
namespace {

using test::error_of;
using test::TempDir;

// general.architecture = "test"; one F32 tensor "a" of 32 elements = 0, 1, 2, ...
// Layout (bytes): header 24, key/value 44 (ends at 68), tensor info 33: type at 89, offset at 93, data at 128.
constexpr size_t kKvTypeAt = 24 + 8 + 20;
constexpr size_t kTensorTypeAt = 89;
constexpr size_t kTensorOffsetAt = 93;

std::vector<uint8_t> small_file(const TempDir& dir) {
    GgufWriter w;
    w.set_string("general.architecture", "test");
    w.add_tensor("a", GgmlType::F32, {32}, [](uint8_t* dst) {
        for (int i = 0; i < 32; ++i) {
            float f = static_cast<float>(i);
            std::memcpy(dst + 4 * i, &f, 4);
        }
    });
    w.write((dir / "small.gguf").string());
    return test::read_bytes(dir / "small.gguf");
}

std::string parse_error(std::vector<uint8_t> bytes) {
    return error_of([&] { parse_gguf(bytes.data(), bytes.size(), "x.gguf"); });
}

void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

TEST(GgufFormat, EveryValueTypeRoundTrips) {
    TempDir dir;
    GgufWriter w;
    GgufValue v;
    auto scalar = [&](const char* key, GgufType t, int64_t i, double f) {
        GgufValue x;
        x.type = t;
        x.i = i;
        x.u = static_cast<uint64_t>(i);
        x.f = f;
        w.set(key, x);
    };
    scalar("u8", GgufType::U8, 200, 0);
    scalar("i8", GgufType::I8, -100, 0);
    scalar("u16", GgufType::U16, 60000, 0);
    scalar("i16", GgufType::I16, -30000, 0);
    scalar("u32", GgufType::U32, 4000000000LL, 0);
    scalar("i32", GgufType::I32, -2000000000, 0);
    scalar("u64", GgufType::U64, 1LL << 40, 0);
    scalar("i64", GgufType::I64, -(1LL << 40), 0);
    scalar("f32", GgufType::F32, 0, 0.5);
    scalar("f64", GgufType::F64, 0, 1e-300);
    w.set_bool("bool", true);
    w.set_string("str", "héllo");
    w.set_strings("strs", {"a", "", "ccc"});
    w.set_i32s("ints", {1, -2, 3});
    w.set_f32s("floats", {0.25f, -1.5f});
    w.add_tensor("t", GgmlType::Q8_0, {64, 2}, [](uint8_t* dst) {
        std::vector<float> x(128);
        for (int i = 0; i < 128; ++i) x[i] = std::sin(0.1f * i);
        quantize_row(GgmlType::Q8_0, x.data(), dst, 128);
    });
    w.write((dir / "all.gguf").string());

    auto g = GgufFile::open((dir / "all.gguf").string());
    EXPECT_EQ(g->header().version, 3u);
    EXPECT_EQ(g->get_int("u8"), 200);
    EXPECT_EQ(g->get_int("i8"), -100);
    EXPECT_EQ(g->get_int("u16"), 60000);
    EXPECT_EQ(g->get_int("i16"), -30000);
    EXPECT_EQ(g->get_int("u32"), 4000000000LL);
    EXPECT_EQ(g->get_int("i32"), -2000000000);
    EXPECT_EQ(g->get_int("u64"), 1LL << 40);
    EXPECT_EQ(g->get_int("i64"), -(1LL << 40));
    EXPECT_EQ(g->get_float("f32"), 0.5);
    EXPECT_EQ(g->get_float("f64"), 1e-300);
    EXPECT_EQ(g->opt_bool("bool"), true);
    EXPECT_EQ(g->get_string("str"), "héllo");
    EXPECT_EQ(g->find("strs")->strings, (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(g->find("ints")->ints, (std::vector<int64_t>{1, -2, 3}));
    EXPECT_EQ(g->find("floats")->floats, (std::vector<double>{0.25, -1.5}));
    const GgufTensorInfo* t = g->find_tensor("t");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->shape(), (std::vector<int64_t>{2, 64}));
    EXPECT_EQ(t->nbytes, 4u * 34u);
    EXPECT_EQ(g->header().data_offset % 32, 0u);
    EXPECT_NE(error_of([&] { g->get_int("str"); }).find("'str' is string, expected an integer"), std::string::npos);
    EXPECT_NE(error_of([&] { g->get_string("nope"); }).find("'nope' is missing"), std::string::npos);
}

TEST(GgufFormat, SmallFileLayoutIsWhatTheseTestsEdit) {
    TempDir dir;
    auto b = small_file(dir);
    ASSERT_EQ(b.size(), 256u);
    auto h = parse_gguf(b.data(), b.size(), "x.gguf");
    ASSERT_EQ(h.tensors.size(), 1u);
    EXPECT_EQ(h.data_offset, 128u);
    uint32_t type;
    std::memcpy(&type, b.data() + kTensorTypeAt, 4);
    EXPECT_EQ(type, 0u);
    uint32_t kv_type;
    std::memcpy(&kv_type, b.data() + kKvTypeAt, 4);
    EXPECT_EQ(kv_type, static_cast<uint32_t>(GgufType::STRING));
}

TEST(GgufFormat, BadMagicAndVersions) {
    TempDir dir;
    auto b = small_file(dir);
    auto bad = b;
    bad[0] = 'X';
    EXPECT_NE(parse_error(bad).find("not a GGUF file"), std::string::npos);
    bad = b;
    put_u32(bad, 4, 1);
    EXPECT_NE(parse_error(bad).find("version 1 is not supported"), std::string::npos);
    bad = b;
    put_u32(bad, 4, 99);
    EXPECT_NE(parse_error(bad).find("unsupported GGUF version 99"), std::string::npos);
    bad = b;
    put_u32(bad, 4, 3u << 24);
    EXPECT_NE(parse_error(bad).find("big-endian"), std::string::npos);
    bad = b;
    put_u32(bad, 4, 2);  // v2 has the same layout
    EXPECT_NO_THROW(parse_gguf(bad.data(), bad.size(), "x.gguf"));
}

TEST(GgufFormat, EveryTruncationIsAnError) {
    TempDir dir;
    auto b = small_file(dir);
    for (size_t n = 0; n < 128 + 128; ++n) {
        std::vector<uint8_t> cut(b.begin(), b.begin() + n);
        std::string e = parse_error(cut);
        EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("not a GGUF") != std::string::npos ||
                    e.find("beyond the end") != std::string::npos)
            << "cut at " << n << ": " << e;
    }
}

TEST(GgufFormat, UnknownTensorTypeNamesTheTensor) {
    TempDir dir;
    auto b = small_file(dir);
    put_u32(b, kTensorTypeAt, 16);
    std::string e = parse_error(b);
    EXPECT_NE(e.find("tensor 'a'"), std::string::npos) << e;
    EXPECT_NE(e.find("IQ2_XXS"), std::string::npos) << e;
    put_u32(b, kTensorTypeAt, 99);
    e = parse_error(b);
    EXPECT_NE(e.find("type 99"), std::string::npos) << e;
}

TEST(GgufFormat, OffsetsOutOfRangeMisalignedOrOverlapping) {
    TempDir dir;
    auto b = small_file(dir);
    auto bad = b;
    put_u64(bad, kTensorOffsetAt, 4096);
    std::string e = parse_error(bad);
    EXPECT_NE(e.find("tensor 'a'"), std::string::npos) << e;
    EXPECT_NE(e.find("beyond the end"), std::string::npos) << e;
    bad = b;
    put_u64(bad, kTensorOffsetAt, 4);
    EXPECT_NE(parse_error(bad).find("not a multiple of the alignment 32"), std::string::npos);
    bad = b;
    put_u64(bad, kTensorOffsetAt, UINT64_MAX - 31);  // offset + size wraps around
    EXPECT_NE(parse_error(bad).find("beyond the end"), std::string::npos);

    GgufWriter w;
    for (const char* name : {"x", "y"}) w.add_tensor(name, GgmlType::F32, {32}, [](uint8_t* d) { std::memset(d, 0, 128); });
    w.write((dir / "two.gguf").string());
    auto two = test::read_bytes(dir / "two.gguf");
    auto h = parse_gguf(two.data(), two.size(), "two.gguf");
    ASSERT_EQ(h.tensors[1].offset, 128u);
    // The second tensor info ends with its offset, right before the padding: move it onto the first.
    size_t second_offset_at = 24 + (8 + 1 + 4 + 8 + 4 + 8) + (8 + 1 + 4 + 8 + 4);
    put_u64(two, second_offset_at, 100);
    EXPECT_NE(parse_error(two).find("not a multiple"), std::string::npos);
    put_u64(two, second_offset_at, 64);
    std::string e2 = parse_error(two);
    EXPECT_NE(e2.find("'x' and 'y' overlap"), std::string::npos) << e2;
}

TEST(GgufFormat, UnknownValueTypeAndDuplicates) {
    TempDir dir;
    auto b = small_file(dir);
    auto bad = b;
    put_u32(bad, kKvTypeAt, 13);
    std::string e = parse_error(bad);
    EXPECT_NE(e.find("'general.architecture' has unknown value type 13"), std::string::npos) << e;

    GgufWriter w;
    w.set_string("k", "v");
    w.write((dir / "dup.gguf").string());
    auto d = test::read_bytes(dir / "dup.gguf");
    // Claim two key/values and append a copy of the first: the same key twice.
    std::vector<uint8_t> kv(d.begin() + 24, d.begin() + 24 + 8 + 1 + 4 + 8 + 1);
    std::vector<uint8_t> dup(d.begin(), d.begin() + 24 + kv.size());
    dup.insert(dup.end(), kv.begin(), kv.end());
    put_u64(dup, 16, 2);
    EXPECT_NE(parse_error(dup).find("'k' appears twice"), std::string::npos);

    bad = b;
    put_u64(bad, 16, 1ULL << 40);  // more key/values than the file can hold
    EXPECT_NE(parse_error(bad).find("more than"), std::string::npos);
}

TEST(GgufFormat, ImportOfBrokenFileWritesNothing) {
    TempDir dir;
    auto b = small_file(dir);
    put_u32(b, kTensorTypeAt, 16);
    test::write_bytes(dir / "broken.gguf", b);
    const auto out = dir / "model";
    std::string e = error_of([&] { import_gguf((dir / "broken.gguf").string(), out.string(), {}); });
    EXPECT_NE(e.find("broken.gguf"), std::string::npos) << e;
    EXPECT_FALSE(std::filesystem::exists(out));
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        EXPECT_EQ(entry.path().filename().string().find(".import-"), std::string::npos) << entry.path();
    }
    // A well-formed file of an architecture import does not know: a clear error too.
    auto ok = small_file(dir);
    test::write_bytes(dir / "test-arch.gguf", ok);
    e = error_of([&] { import_gguf((dir / "test-arch.gguf").string(), out.string(), {}); });
    EXPECT_NE(e.find("general.architecture 'test' is not supported"), std::string::npos) << e;
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(GgufQuants, HalfConversionsHandleEdges) {
    // Reference bit patterns from IEEE 754 binary16 / bfloat16 (round to nearest even).
    EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
    EXPECT_EQ(fp32_to_fp16(-2.0f), 0xC000);
    EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);            // rounds up to infinity
    EXPECT_EQ(fp32_to_fp16(5.9604645e-08f), 0x0001);      // smallest subnormal
    EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3C00);  // tie -> even
    EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3C02);  // tie -> even (up)
    EXPECT_EQ(fp16_to_fp32(0x0001), 5.9604645e-08f);
    EXPECT_EQ(fp16_to_fp32(0xFBFF), -65504.0f);
    EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(std::nanf("")))));
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(fp32_to_bf16(1.0f + 1.0f / 256), 0x3F80);   // tie -> even
    EXPECT_EQ(bf16_to_fp32(0xC0A0), -5.0f);
}

}  // namespace
}  // namespace lathe
