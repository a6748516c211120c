#include <gtest/gtest.h>

#include <string>

#include "core/util/crash_report.h"

namespace {

// The test that was running when a test binary crashed (said by the crash report).
const char* running_test() {
    static std::string name;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    name = info ? std::string(info->test_suite_name()) + "." + info->name() : "(between tests)";
    return name.c_str();
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    lathe::install_crash_report(argv[0], running_test);
    return RUN_ALL_TESTS();
}

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/io/tensor_io.h"
#include "core/util/remove_tree.h"
#include "tests/fixtures.h"

namespace lathe::test {

TempDir::TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("lathe-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
    std::error_code ec;
    lathe::remove_tree(path, ec);
}

std::string model_with_tokenizer(const TempDir& dir) {
    const std::string tok = tokenizer_fixture("bytelevel-regex-qwen-hf");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"})
        std::filesystem::copy_file(tok + "/" + f, dir.path / f);
    auto config = nlohmann::json::parse(std::ifstream(hf_model("qwen2") + "/config.json"));
    config["vocab_size"] = 1503;  // the tokenizer's 1500 + 3 added tokens
    std::ofstream(dir.path / "config.json") << config.dump();
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (auto& [name, t] : load_safetensors(hf_model("qwen2") + "/model.safetensors"))
        weights.emplace_back(name, name == "model.embed_tokens.weight" ? at::randn({1503, t.size(1)}) * 0.5 : t);
    save_safetensors(dir.str() + "/model.safetensors", weights);
    return dir.str();
}

}  // namespace lathe::test
