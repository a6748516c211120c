#include "core/eval/python_random.h"

#include <cmath>
#include <unordered_set>

#include "core/util/error.h"

namespace lathe::eval {

namespace {
constexpr int N = 624, M = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
}  // namespace

// CPython's random_seed(): the absolute value split into 32-bit words, least significant first.
PythonRandom::PythonRandom(uint64_t seed) {
    std::vector<uint32_t> key;
    do {
        key.push_back(static_cast<uint32_t>(seed & 0xffffffffu));
        seed >>= 32;
    } while (seed);
    init_by_array(key);
}

void PythonRandom::init_genrand(uint32_t s) {
    mt_[0] = s;
    for (int i = 1; i < N; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    index_ = N;
}

void PythonRandom::init_by_array(const std::vector<uint32_t>& key) {
    init_genrand(19650218u);
    size_t i = 1, j = 0;
    const size_t length = key.size();
    for (size_t k = (N > length ? N : length); k; --k) {
        mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<uint32_t>(j);
        ++i, ++j;
        if (i >= N) mt_[0] = mt_[N - 1], i = 1;
        if (j >= length) j = 0;
    }
    for (size_t k = N - 1; k; --k) {
        mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
        ++i;
        if (i >= N) mt_[0] = mt_[N - 1], i = 1;
    }
    mt_[0] = 0x80000000u;
    index_ = N;
}

uint32_t PythonRandom::next_uint32() {
    if (index_ >= N) {
        int kk = 0;
        for (; kk < N - M; ++kk) {
            uint32_t y = (mt_[kk] & kUpper) | (mt_[kk + 1] & kLower);
            mt_[kk] = mt_[kk + M] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
        }
        for (; kk < N - 1; ++kk) {
            uint32_t y = (mt_[kk] & kUpper) | (mt_[kk + 1] & kLower);
            mt_[kk] = mt_[kk + (M - N)] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
        }
        uint32_t y = (mt_[N - 1] & kUpper) | (mt_[0] & kLower);
        mt_[N - 1] = mt_[M - 1] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
        index_ = 0;
    }
    uint32_t y = mt_[index_++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

double PythonRandom::random() {
    uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

// CPython fills words from the least significant end; the last word keeps its top bits.
uint64_t PythonRandom::getrandbits(int k) {
    LATHE_ASSERT(k >= 0 && k <= 64);
    if (k == 0) return 0;
    if (k <= 32) return next_uint32() >> (32 - k);
    uint64_t low = next_uint32();
    uint64_t high = next_uint32() >> (64 - k);
    return low | (high << 32);
}

uint64_t PythonRandom::randbelow(uint64_t n) {
    LATHE_ASSERT(n > 0);
    int k = 64 - __builtin_clzll(n);  // n.bit_length()
    uint64_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
}

std::vector<size_t> PythonRandom::sample(size_t n, size_t k) {
    if (k > n) throw Error("cannot draw " + std::to_string(k) + " few-shot examples from " + std::to_string(n) + " documents");
    std::vector<size_t> result(k);
    size_t setsize = 21;
    if (k > 5) setsize += static_cast<size_t>(std::pow(4.0, std::ceil(std::log(k * 3.0) / std::log(4.0))));
    if (n <= setsize) {
        std::vector<size_t> pool(n);
        for (size_t i = 0; i < n; ++i) pool[i] = i;
        for (size_t i = 0; i < k; ++i) {
            size_t j = randbelow(n - i);
            result[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
    } else {
        std::unordered_set<size_t> selected;
        for (size_t i = 0; i < k; ++i) {
            size_t j = randbelow(n);
            while (selected.count(j)) j = randbelow(n);
            selected.insert(j);
            result[i] = j;
        }
    }
    return result;
}

std::vector<size_t> PythonRandom::choices(size_t n, size_t k) {
    std::vector<size_t> out(k);
    const double nf = static_cast<double>(n);
    for (size_t i = 0; i < k; ++i) out[i] = static_cast<size_t>(std::floor(random() * nf));
    return out;
}

}  // namespace lathe::eval
