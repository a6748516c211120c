// A bounded fuzz run of the safetensors header parser: random mutations of a real header must give a
// parsed header or a lathe::Error, never a crash, a hang or an entry that points outside the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

TEST(SafetensorsFuzz, MutatedHeadersNeverCrash) {
    std::ifstream in(test::hf_model("qwen3") + "/model.safetensors", std::ios::binary);
    std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(original[i]);
    const std::string tokens[] = {"\"", "{", "}", "[", "]", ",", ":", "-1", "0", "18446744073709551615",
                                  "1e400", "\"F32\"", "\"BF16\"", "null", "true", "\\u0000", "9999999999"};

    std::mt19937_64 rng(1234);  // fixed: a failure reproduces
    int parsed = 0, rejected = 0;
    for (int iteration = 0; iteration < 3000; ++iteration) {
        std::string file = original;
        int mutations = 1 + static_cast<int>(rng() % 4);
        for (int m = 0; m < mutations; ++m) {
            if (file.size() <= 9) break;
            size_t pos = 8 + rng() % std::min<uint64_t>(header_len, file.size() - 8);
            switch (rng() % 4) {
                case 0: file[pos] = static_cast<char>(rng() % 256); break;                 // flip a byte
                case 1: file.insert(pos, tokens[rng() % std::size(tokens)]); break;        // insert a token
                case 2: file.erase(pos, 1 + rng() % 8); break;                             // delete bytes
                case 3: file.resize(8 + rng() % (file.size() - 8)); break;                 // truncate
            }
        }
        if (rng() % 8 == 0) file[rng() % 8] = static_cast<char>(rng() % 256);  // the length prefix too
        try {
            SafetensorsHeader h = parse_safetensors_header(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "fuzz");
            for (const auto& t : h.tensors) {
                ASSERT_LE(t.begin, t.end);
                ASSERT_LE(h.data_offset + t.end, file.size());
            }
            ++parsed;
        } catch (const Error&) {
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 0);
    RecordProperty("parsed", parsed);
}

}  // namespace
}  // namespace lathe
