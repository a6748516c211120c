// A compiled PCRE2 pattern (UTF + UCP, JIT when available) as the Rust library's Onig/regex patterns
// behave for tokenizer patterns: \p{L}, \s, lookahead, (?i:...). Thread-safe: the match data and JIT
// stack live per thread (see regex.cpp), so one Regex serves encode_batch's threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct pcre2_real_code_8;

namespace lathe::tok {

class Regex {
public:
    // Throws lathe::Error("invalid regex '...': <PCRE2 message>") on a bad pattern.
    explicit Regex(const std::string& pattern);
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;
    ~Regex();

    // Finds the first match starting at or after `from`; text must be valid UTF-8.
    bool find(std::string_view text, size_t from, size_t& begin, size_t& end) const;
    const std::string& pattern() const { return pattern_; }

private:
    struct CodeDeleter {
        void operator()(pcre2_real_code_8* code) const;
    };
    std::string pattern_;
    std::unique_ptr<pcre2_real_code_8, CodeDeleter> code_;
    bool jit_ = false;
};

}  // namespace lathe::tok
