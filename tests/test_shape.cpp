// Layer 1: sizes, offsets, words, overflow.
#include <catch2/catch.hpp>

#include <tensig/tensig.hpp>

using tensig::shape;

TEST_CASE("sig_length is d + d^2 + ... + d^N", "[shape]") {
    CHECK(tensig::sig_length(2, 12) == 8190);
    CHECK(tensig::sig_length(1, 5) == 5);
    CHECK(tensig::sig_length(3, 4) == 3 + 9 + 27 + 81);
    CHECK(tensig::sig_length(4, 6) == 4 + 16 + 64 + 256 + 1024 + 4096);
    CHECK_THROWS_AS(tensig::sig_length(0, 3), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::sig_length(2, 0), tensig::invalid_input);
}

TEST_CASE("logsig_length follows Witt's formula", "[shape]") {
    // iisignature.logsiglength values
    CHECK(tensig::logsig_length(2, 1) == 2);
    CHECK(tensig::logsig_length(2, 2) == 3);
    CHECK(tensig::logsig_length(2, 3) == 5);
    CHECK(tensig::logsig_length(2, 4) == 8);
    CHECK(tensig::logsig_length(2, 6) == 23);
    CHECK(tensig::logsig_length(3, 4) == 32);
    CHECK(tensig::logsig_length(2, 12) == 747);
    CHECK(tensig::logsig_length(5, 3) == 55);
    CHECK(tensig::logsig_length(1, 7) == 1);
    CHECK_THROWS_AS(tensig::logsig_length(2, 0), tensig::invalid_input);
}

TEST_CASE("shape offsets and sizes", "[shape]") {
    const shape s(3, 4);
    CHECK(s.size() == 1 + 3 + 9 + 27 + 81);
    CHECK(s.sig_length() == s.size() - 1);
    for (std::size_t k = 0; k <= 4; ++k) {
        std::size_t p = 1;
        for (std::size_t i = 0; i < k; ++i)
            p *= 3;
        CHECK(s.level_size(k) == p);
        CHECK(s.level_offset(k + 1) == s.level_offset(k) + p);
    }
    CHECK(shape(1, 6).size() == 7);
    CHECK(shape(5, 0).size() == 1);
    CHECK_THROWS_AS(shape(0, 3), tensig::invalid_input);
}

TEST_CASE("sizes that overflow are refused before allocating", "[shape][errors]") {
    CHECK_THROWS_AS(shape(3, 60), tensig::size_error);
    CHECK_THROWS_AS(shape(2, 64), tensig::size_error);
    CHECK_NOTHROW(shape(2, 62));
    CHECK_THROWS_WITH(shape(3, 60), Catch::Contains("dimension 3") && Catch::Contains("depth 60"));
    // fits in size_t but not in memory: refused by the tensor before allocating
    CHECK_THROWS_AS(tensig::tensor<double>(shape(2, 45)), tensig::size_error);
    CHECK_THROWS_WITH(tensig::tensor<double>(shape(2, 45)), Catch::Contains("memory"));
}

TEST_CASE("word and index conversions are inverse and row-major", "[shape]") {
    CHECK(tensig::word_to_index({1, 0, 2}, 3) == 1 * 9 + 0 * 3 + 2);
    CHECK(tensig::word_to_index({}, 3) == 0);
    for (std::size_t level = 0; level <= 4; ++level) {
        const std::size_t n = shape(3, level).level_size(level);
        for (std::size_t i = 0; i < n; ++i)
            CHECK(tensig::word_to_index(tensig::index_to_word(i, level, 3), 3) == i);
    }
    const shape s(2, 3);
    CHECK(tensig::word_to_flat({}, s) == 0);
    CHECK(tensig::word_to_flat({1}, s) == 2);
    CHECK(tensig::word_to_flat({0, 1}, s) == 3 + 1);
    CHECK(tensig::word_to_flat({1, 1, 0}, s) == 7 + 6);
    CHECK_THROWS_AS(tensig::word_to_index({3}, 3), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::index_to_word(9, 2, 3), tensig::invalid_input);
    CHECK_THROWS_AS(tensig::word_to_flat({0, 0, 0, 0}, s), tensig::invalid_input);
}
